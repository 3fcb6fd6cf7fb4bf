/*
 * rows.c - the rows ocp_backup_now returns.
 */
#include "rows.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

typedef enum BackupResultColumn
{
	COL_INVOCATION_ID,
	COL_CLUSTER_ID,
	COL_TENANT_ID,
	COL_BACKUP_DIMENSION,
	COL_TASK_ID,
	COL_SUCCESSFUL,
	COL_ERROR_CODE,
	COL_HINT,
	COL_TRACE_ID,
	BACKUP_RESULT_COLUMNS
} BackupResultColumn;

static void
set_text(Datum *values, bool *nulls, int column, const char *text)
{
	nulls[column] = text == NULL;
	values[column] = text == NULL ? (Datum) 0 : CStringGetTextDatum(text);
}

/*
 * A row describes the backup object at the task id's position in
 * obBackupObjectList, or the first one when the list is shorter: OCP sends
 * one object per result in every answer seen so far.
 */
static void
put_row(ReturnSetInfo *rsinfo, int64 invocation_id, const char *trace_id,
		const OcpbBackupResult *result, size_t position, const long long *task_id)
{
	Datum		values[BACKUP_RESULT_COLUMNS];
	bool		nulls[BACKUP_RESULT_COLUMNS];
	const OcpbBackupObject *object = NULL;

	memset(nulls, true, sizeof(nulls));
	if (result->n_objects > 0)
		object = &result->objects[Min(position, result->n_objects - 1)];
	values[COL_INVOCATION_ID] = Int64GetDatum(invocation_id);
	nulls[COL_INVOCATION_ID] = false;
	if (object != NULL && object->has_cluster_id)
	{
		values[COL_CLUSTER_ID] = Int64GetDatum((int64) object->cluster_id);
		nulls[COL_CLUSTER_ID] = false;
	}
	if (object != NULL && object->has_tenant_id)
	{
		values[COL_TENANT_ID] = Int64GetDatum((int64) object->tenant_id);
		nulls[COL_TENANT_ID] = false;
	}
	set_text(values, nulls, COL_BACKUP_DIMENSION, object ? object->dimension : NULL);
	if (task_id != NULL)
	{
		values[COL_TASK_ID] = Int64GetDatum((int64) *task_id);
		nulls[COL_TASK_ID] = false;
	}
	values[COL_SUCCESSFUL] = BoolGetDatum(result->successful);
	nulls[COL_SUCCESSFUL] = false;
	set_text(values, nulls, COL_ERROR_CODE, result->error_code);
	set_text(values, nulls, COL_HINT, result->hint);
	set_text(values, nulls, COL_TRACE_ID, trace_id);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

void
ocpb_put_backup_rows(ReturnSetInfo *rsinfo, int64 invocation_id,
					 const OcpbBackupNowResponse *response)
{
	const char *trace_id = response->envelope.trace_id;
	size_t		i;
	size_t		t;

	for (i = 0; i < response->n_results; i++)
	{
		const OcpbBackupResult *result = &response->results[i];

		if (!result->successful || result->n_task_ids == 0)
			put_row(rsinfo, invocation_id, trace_id, result, 0, NULL);
		else
			for (t = 0; t < result->n_task_ids; t++)
				put_row(rsinfo, invocation_id, trace_id, result, t, &result->task_ids[t]);
	}
}

void
ocpb_put_failed_call_row(ReturnSetInfo *rsinfo, int64 invocation_id,
						 const OcpbBackupObject *asked, const char *error_code,
						 const char *message, const char *trace_id)
{
	OcpbBackupResult result;

	memset(&result, 0, sizeof(result));
	result.successful = false;
	result.error_code = error_code;
	result.hint = message;
	result.objects = asked;
	result.n_objects = 1;
	put_row(rsinfo, invocation_id, trace_id, &result, 0, NULL);
}

void
ocpb_return_backup_rows(FunctionCallInfo fcinfo, int64 invocation_id,
						const OcpbBackupNowResponse *response)
{
	InitMaterializedSRF(fcinfo, 0);
	ocpb_put_backup_rows((ReturnSetInfo *) fcinfo->resultinfo, invocation_id, response);
}
