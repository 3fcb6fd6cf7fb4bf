/*
 * journal_write.h - a call's journal row and task rows inserted straight
 * into the journal's tables, without the SQL writer.
 */
#ifndef OCPB_JOURNAL_WRITE_H
#define OCPB_JOURNAL_WRITE_H

#include "postgres.h"

#include "journal.h"

/*
 * The columns of ocp_backup.invocation the extension writes, in the order
 * of the install script: their names are the keys of the rows the call log
 * holds too.
 */
typedef enum OcpbInvocationColumn
{
	INVOCATION_ID,
	INVOCATION_STARTED_AT,
	INVOCATION_FINISHED_AT,
	INVOCATION_INVOKED_BY,
	INVOCATION_SERVER_NAME,
	INVOCATION_CLUSTER_ID,
	INVOCATION_BACKUP_MODE,
	INVOCATION_DATA_MODE,
	INVOCATION_REQUEST,
	INVOCATION_HTTP_STATUS,
	INVOCATION_SUCCESSFUL,
	INVOCATION_TASK_IDS,
	INVOCATION_TRACE_ID,
	INVOCATION_ERROR,
	INVOCATION_RESPONSE,
	INVOCATION_TENANT_ID,
	INVOCATION_OUTCOME_UNKNOWN,
	INVOCATION_RECONCILED_AT,
	INVOCATION_RECONCILIATION,
	INVOCATION_OCP_ACCOUNT,
	INVOCATION_APPLICATION_NAME,
	INVOCATION_BACKEND_PID,
	INVOCATION_COLUMNS
} OcpbInvocationColumn;

/* The name of a column of ocp_backup.invocation. */
extern const char *ocpb_invocation_column_name(OcpbInvocationColumn column);

typedef enum OcpbDirectWrite
{
	OCPB_WRITE_DONE,			/* the row and its task rows are in */
	OCPB_WRITE_EXISTS,			/* a row of its id was there: nothing written */
	OCPB_WRITE_NEEDS_SQL		/* the tables need what only SQL does */
} OcpbDirectWrite;

/*
 * Inserts the row into journal (ocp_backup.invocation) and a row per task
 * into task_table (ocp_backup.task), as owner, the journal's owner, as
 * INSERT ... ON CONFLICT DO NOTHING would; or writes nothing and says the
 * SQL writer is needed: a trigger, a rule, a CHECK constraint, forced row
 * security, another owner or primary key, a column unknown to the
 * extension that INSERT would fill.
 */
extern OcpbDirectWrite ocpb_journal_write_direct(Oid journal, Oid task_table, Oid owner,
												 const OcpbInvocation *invocation);

#endif
