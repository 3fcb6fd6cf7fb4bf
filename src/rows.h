/*
 * rows.h - the rows ocp_backup_now returns.
 */
#ifndef OCPB_ROWS_H
#define OCPB_ROWS_H

#include "postgres.h"

#include "fmgr.h"

#include "response.h"

/*
 * One row per task id of each result object, and one row for each object
 * OCP refused, into the function's materialized result set.
 */
extern void ocpb_return_backup_rows(FunctionCallInfo fcinfo, int64 invocation_id,
									const OcpbBackupNowResponse *response);

#endif
