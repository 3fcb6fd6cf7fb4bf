/*
 * task.h - what OCP says of a task, recorded in its ocp_backup.task row.
 */
#ifndef OCPB_TASK_H
#define OCPB_TASK_H

#include "postgres.h"

#include "endpoint.h"
#include "response.h"

/*
 * What OCP said goes into the task's row, for refresh, wait and the view:
 * the row of the task asked for, through the server asked.
 */
extern void ocpb_task_record_status(const OcpbEndpoint *endpoint, int64 task_id,
									const OcpbTaskInfo *task);

#endif
