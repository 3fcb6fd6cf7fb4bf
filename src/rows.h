/*
 * rows.h - the rows ocp_backup_now returns.
 */
#ifndef OCPB_ROWS_H
#define OCPB_ROWS_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/execnodes.h"

#include "response.h"

/*
 * One row per task id of each result object, and one row for each object
 * OCP refused, into the function's materialized result set.
 */
extern void ocpb_return_backup_rows(FunctionCallInfo fcinfo, int64 invocation_id,
									const OcpbBackupNowResponse *response);

/* The same rows, into a result set already materialized. */
extern void ocpb_put_backup_rows(ReturnSetInfo *rsinfo, int64 invocation_id,
								 const OcpbBackupNowResponse *response);

/*
 * The row of a call that failed as a whole, about the object asked for:
 * successful false, the SQLSTATE or OCP's error code, and the message.
 */
extern void ocpb_put_failed_call_row(ReturnSetInfo *rsinfo, int64 invocation_id,
									 const OcpbBackupObject *asked,
									 const char *error_code, const char *message,
									 const char *trace_id);

#endif
