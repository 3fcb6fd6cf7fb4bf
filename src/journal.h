/*
 * journal.h - records every call that tried to reach OCP in
 * ocp_backup.invocation.
 */
#ifndef OCPB_JOURNAL_H
#define OCPB_JOURNAL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "journal_row.h"

/*
 * Raises 25006 when the journal cannot be written (read-only transaction,
 * hot standby): a backup must not be triggered without its record.
 */
extern void ocpb_journal_check_writable(const char *function_name);

/*
 * Draws the row's id, durably, and logs the row the journal gets if the
 * call never comes back from OCP (a cancel, statement_timeout, the
 * backend's exit, a crash).  Called just before sending.
 */
extern void ocpb_journal_call_in_flight(OcpbInvocation *invocation);

/*
 * Logs the call's complete row, which supersedes the one logged before
 * sending, and, when insert is set, writes it and its task rows.  A call
 * that is about to raise is not inserted: its abort hands the log to the
 * journal writer.
 */
extern void ocpb_journal_record_call(const OcpbInvocation *invocation, bool insert);

/*
 * Writes a row given as the JSON that call_log.c logs, and its task rows, as
 * the journal's owner; false when a row of its id is there already.
 */
extern bool ocpb_journal_record_jsonb(Jsonb *row);

/*
 * Writes a row logged for a journal since dropped, if its id is beyond
 * what the journal's sequence has handed out, and moves the sequence past
 * it; raises otherwise.
 */
extern void ocpb_journal_adopt_row(Jsonb *row, int64 id);

/*
 * Stores what OCP said of a task in its ocp_backup.task row, if it has one
 * (tasks not started by ocp_backup_now have none).  Times are microseconds
 * since the Unix epoch; absent ones are NULL.
 */
typedef struct OcpbTaskStatus
{
	const char *server_name;	/* the server the task was read through */
	int64		task_id;		/* as asked for, not as OCP's answer says */
	const char *status;
	int			subtasks_total;
	int			subtasks_done;
	const char *failed_subtask;
	bool		has_finish_time;
	TimestampTz finish_time;
} OcpbTaskStatus;

extern void ocpb_journal_task_status(const OcpbTaskStatus *task);

#endif
