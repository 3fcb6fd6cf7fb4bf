/*
 * task.c - ocp_backup_task: one OCP task instance, as a row.  What OCP says
 * is also stored in the task's ocp_backup.task row, so that refresh, wait
 * and the cluster_status view all see the latest word.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "endpoint.h"
#include "http.h"
#include "journal.h"
#include "call_log.h"
#include "report.h"
#include "request.h"
#include "response.h"
#include "task.h"

PG_FUNCTION_INFO_V1(ocp_backup_task);

typedef enum TaskColumn
{
	COL_TASK_ID,
	COL_NAME,
	COL_STATUS,
	COL_TYPE,
	COL_CLUSTER_ID,
	COL_CLUSTER_NAME,
	COL_TENANT_ID,
	COL_CREATOR,
	COL_CREATE_TIME,
	COL_START_TIME,
	COL_FINISH_TIME,
	COL_SUBTASKS_TOTAL,
	COL_SUBTASKS_DONE,
	COL_FAILED_SUBTASK,
	COL_TRACE_ID,
	TASK_COLUMNS
} TaskColumn;

typedef struct TaskRow
{
	Datum		values[TASK_COLUMNS];
	bool		nulls[TASK_COLUMNS];
} TaskRow;

static void
set_value(TaskRow *row, TaskColumn column, bool present, Datum value)
{
	row->nulls[column] = !present;
	row->values[column] = present ? value : (Datum) 0;
}

static void
set_text(TaskRow *row, TaskColumn column, const char *text)
{
	set_value(row, column, text != NULL, text ? CStringGetTextDatum(text) : (Datum) 0);
}

static TimestampTz
from_unix_us(long long unix_us)
{
	return (TimestampTz) (unix_us - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
}

static void
set_time(TaskRow *row, TaskColumn column, bool present, long long unix_us)
{
	set_value(row, column, present, TimestampTzGetDatum(from_unix_us(unix_us)));
}

void
ocpb_task_record_status(const OcpbEndpoint *endpoint, int64 task_id, const OcpbTaskInfo *task)
{
	OcpbTaskStatus status;

	status.server_name = endpoint->server_name;
	status.task_id = task_id;
	status.status = task->status;
	status.subtasks_total = task->subtasks_total;
	status.subtasks_done = task->subtasks_done;
	status.failed_subtask = task->failed_subtask;
	status.has_finish_time = task->has_finish_time;
	status.finish_time = from_unix_us(task->finish_time_us);
	ocpb_journal_task_status(&status);
}

static void
fill_row(TaskRow *row, const OcpbTaskInfo *task)
{
	set_value(row, COL_TASK_ID, true, Int64GetDatum((int64) task->task_id));
	set_text(row, COL_NAME, task->name);
	set_text(row, COL_STATUS, task->status);
	set_text(row, COL_TYPE, task->type);
	set_value(row, COL_CLUSTER_ID, task->has_cluster_id, Int64GetDatum((int64) task->cluster_id));
	set_text(row, COL_CLUSTER_NAME, task->cluster_name);
	set_value(row, COL_TENANT_ID, task->has_tenant_id, Int64GetDatum((int64) task->tenant_id));
	set_text(row, COL_CREATOR, task->creator);
	set_time(row, COL_CREATE_TIME, task->has_create_time, task->create_time_us);
	set_time(row, COL_START_TIME, task->has_start_time, task->start_time_us);
	set_time(row, COL_FINISH_TIME, task->has_finish_time, task->finish_time_us);
	set_value(row, COL_SUBTASKS_TOTAL, true, Int32GetDatum(task->subtasks_total));
	set_value(row, COL_SUBTASKS_DONE, true, Int32GetDatum(task->subtasks_done));
	set_text(row, COL_FAILED_SUBTASK, task->failed_subtask);
	set_text(row, COL_TRACE_ID, task->envelope.trace_id);
}

Datum
ocp_backup_task(PG_FUNCTION_ARGS)
{
	int64		task_id;
	const char *server_name;
	OcpbEndpoint *endpoint;
	OcpbHttpRequest request;
	OcpbHttpResult http;
	OcpbTaskInfo task;
	OcpbFailure failure;
	OcpbCallSubject subject;
	TupleDesc	tupdesc;
	TaskRow		row;
	char		path[OCPB_PATH_SIZE];
	bool		failed;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("task_id must not be NULL")));
	task_id = PG_GETARG_INT64(0);
	if (task_id <= 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("task_id must be positive, not " INT64_FORMAT, task_id)));
	server_name = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ocp_backup_task must return a composite type");
	/* Its status goes into ocp_backup.task: refuse before asking OCP. */
	ocpb_journal_check_writable("ocp_backup_task()");
	ocpb_call_log_flush_leftovers();
	endpoint = ocpb_resolve_endpoint(server_name, true);

	ocpb_task_path(task_id, path);
	memset(&request, 0, sizeof(request));
	request.method = "GET";
	request.path = path;
	ocpb_http_exchange(endpoint, &request, &http);

	if (!ocpb_parse_task_response(http.body, http.body_len, &task))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		subject.action = psprintf("read task " INT64_FORMAT, task_id);
		subject.object = psprintf("task " INT64_FORMAT, task_id);
		failed = ocpb_exchange_failed(endpoint, &subject, &http, &task.envelope, &failure);
		if (failed)
			ocpb_raise_failure(&failure);
		fill_row(&row, &task);
		ocpb_task_record_status(endpoint, task_id, &task);
	}
	PG_FINALLY();
	{
		ocpb_task_info_free(&task);
	}
	PG_END_TRY();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  row.values, row.nulls)));
}
