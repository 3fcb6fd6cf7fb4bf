/*
 * call.h - one call of ocp_backup_now, from its request prepared to its
 * outcome classified: the one owner of the call's record.
 */
#ifndef OCPB_CALL_H
#define OCPB_CALL_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "scrub.h"

/* What the caller asked for, checked by ocp_backup.c. */
typedef struct OcpbBackupNowArgs
{
	int64		cluster_id;
	char	   *backup_mode;
	char	   *data_mode;
	Jsonb	   *storage;
	char	   *storage_json;
	char	   *server;			/* NULL: the default server */
	int64		tenant_id;		/* 0: the whole cluster */
	bool		error_on_failure;	/* on_failure => 'error': raise OB002 when
									 * a backup did not start, once every
									 * call is journaled */
} OcpbBackupNowArgs;

/* SQLSTATE OB002: ocp_backup_now with on_failure => 'error' started no backup. */
#define OCPB_ERRCODE_BACKUP_NOT_STARTED MAKE_SQLSTATE('O', 'B', '0', '0', '2')

/*
 * Makes the call: prepared (endpoint, body, the journal's masked request),
 * sent (its row logged on disk first), answered (the complete row logged
 * as soon as the answer is read), classified (raised as an error, or the
 * rows returned, the row inserted).  secrets collects what must be scrubbed
 * from OCP's answer; the caller frees it.
 */
extern void ocpb_call_backup_now(FunctionCallInfo fcinfo, const OcpbBackupNowArgs *args,
								 OcpbSecretList *secrets);

/*
 * Makes one call for each of n clusters (distinct, the checked arguments
 * otherwise those of args), concurrently up to the server's max_parallel.
 * Each call is recorded like a call alone; one that fails gives a row
 * saying why, and the others go on.  Once all were tried, the clusters
 * whose backup did not start are summed up in one WARNING, or, with
 * error_on_failure, in the error OB002.
 */
extern void ocpb_call_backup_now_many(FunctionCallInfo fcinfo,
									  const OcpbBackupNowArgs *args,
									  const int64 *cluster_ids, int n,
									  OcpbSecretList *secrets);

#endif
