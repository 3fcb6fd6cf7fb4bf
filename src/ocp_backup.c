/*
 * ocp_backup.c - the SQL-callable entry points and module set-up.
 *
 * Kept thin: each step of a call is a function of its own stage (args,
 * endpoint, request, http, response, report, journal, rows).
 */
#include "postgres.h"

#include <curl/curl.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "args.h"
#include "endpoint.h"
#include "http.h"
#include "journal.h"
#include "report.h"
#include "request.h"
#include "response.h"
#include "rows.h"
#include "spool.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(ocp_backup_now);

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("ocp_backup.default_server",
							   "The ocp_backup server used when a call names none.",
							   "Needed only when more than one ocp_backup server exists.",
							   &ocpb_default_server,
							   NULL,
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("ocp_backup");
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
	ocpb_http_init();
	ocpb_spool_init();
}

typedef struct BackupNowArgs
{
	int64		cluster_id;
	char	   *backup_mode;
	char	   *data_mode;
	Jsonb	   *storage;
	char	   *storage_json;
	char	   *server;			/* NULL: the default server */
} BackupNowArgs;

static void
require_argument(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

static void
check_mode(const char *name, const char *value, bool valid, const char *valid_values)
{
	if (!valid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\"", name, value),
				 errdetail("Valid values are: %s.", valid_values)));
}

static void
check_storage(const char *storage_json)
{
	char		problem[256];

	if (ocpb_check_storage(storage_json, problem, sizeof(problem)))
		return;
	if (problem[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid storage object"),
			 errdetail("%s.", problem),
			 errhint("storage is OCP's obBackupServiceStorageConfig, for example "
					 "{\"configName\": \"nfs0907\", \"obBackupStorageBaseInfo\": "
					 "{\"backupStorageType\": \"BACKUP_STORAGE_FILE\", \"storageUrl\": \"/obbackup/\"}}.")));
}

static void
read_backup_now_args(FunctionCallInfo fcinfo, BackupNowArgs *args)
{
	require_argument(fcinfo, 0, "cluster_id");
	require_argument(fcinfo, 1, "backup_mode");
	require_argument(fcinfo, 2, "data_mode");
	require_argument(fcinfo, 3, "storage");
	args->cluster_id = PG_GETARG_INT64(0);
	args->backup_mode = text_to_cstring(PG_GETARG_TEXT_PP(1));
	args->data_mode = text_to_cstring(PG_GETARG_TEXT_PP(2));
	args->storage = PG_GETARG_JSONB_P(3);
	args->server = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));

	if (args->cluster_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cluster_id must be positive, not " INT64_FORMAT, args->cluster_id)));
	check_mode("backup_mode", args->backup_mode,
			   ocpb_is_backup_mode(args->backup_mode), OCPB_BACKUP_MODES);
	check_mode("data_mode", args->data_mode,
			   ocpb_is_data_mode(args->data_mode), OCPB_DATA_MODES);
	args->storage_json = JsonbToCString(NULL, &args->storage->root,
										VARSIZE(args->storage));
	check_storage(args->storage_json);
}

/* The backupNow body for a storage object, in palloc'd memory. */
static char *
backup_now_body(const BackupNowArgs *args, const char *storage_json, size_t *len)
{
	OcpbBackupNowRequest request;
	char	   *body;
	char	   *copy;

	request.cluster_id = args->cluster_id;
	request.backup_mode = args->backup_mode;
	request.data_mode = args->data_mode;
	request.storage_json = storage_json;
	body = ocpb_backup_now_body(&request, len);
	if (body == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	copy = pnstrdup(body, *len);
	free(body);
	return copy;
}

/* What the journal keeps of the request: the body with secrets masked. */
static char *
journaled_request(const BackupNowArgs *args, char *body)
{
	Jsonb	   *masked = ocpb_mask_secrets(args->storage);
	size_t		len;

	if (masked == NULL)
		return body;
	return backup_now_body(args, JsonbToCString(NULL, &masked->root, VARSIZE(masked)), &len);
}

/*
 * The answer as jsonb input, when it is JSON that jsonb takes: jsonb refuses
 * invalid UTF-8 and \u0000, and the journal insert must not fail on them.
 */
static const char *
journaled_response(const OcpbHttpResult *http, const OcpbEnvelope *envelope)
{
	if (!envelope->is_json ||
		!pg_verifymbstr(http->body, (int) http->body_len, true) ||
		strstr(http->body, "\\u0000") != NULL)
		return NULL;
	return http->body;
}

/*
 * The journal row for a call that never gets OCP's answer: interrupted by a
 * cancel, statement_timeout or the backend's exit after the request left.
 */
static char *
in_flight_row(const OcpbInvocation *invocation)
{
	StringInfoData row;
	char		started[MAXDATELEN + 1];

	JsonEncodeDateTime(started, TimestampTzGetDatum(invocation->started_at),
					   TIMESTAMPTZOID, NULL);
	initStringInfo(&row);
	appendStringInfo(&row, "{\"started_at\": \"%s\", \"finished_at\": \"%s\", \"invoked_by\": ",
					 started, started);
	escape_json(&row, GetUserNameFromId(GetUserId(), false));
	appendStringInfoString(&row, ", \"server_name\": ");
	escape_json(&row, invocation->server_name);
	appendStringInfo(&row, ", \"cluster_id\": " INT64_FORMAT ", \"backup_mode\": \"%s\", "
					 "\"data_mode\": \"%s\", \"request\": %s, \"successful\": false, "
					 "\"task_ids\": [], \"error\": ",
					 invocation->cluster_id, invocation->backup_mode, invocation->data_mode,
					 invocation->request_json);
	escape_json(&row, "the call was interrupted (cancel, statement_timeout or backend exit) "
				"after the request was sent and before OCP's answer was read; "
				"look in OCP for a task it may have started");
	appendStringInfoChar(&row, '}');
	return row.data;
}

static long long *
all_task_ids(const OcpbBackupNowResponse *response, int *count)
{
	long long  *task_ids;
	size_t		i;
	size_t		total = 0;

	for (i = 0; i < response->n_results; i++)
		total += response->results[i].n_task_ids;
	task_ids = palloc(sizeof(long long) * Max(total, 1));
	total = 0;
	for (i = 0; i < response->n_results; i++)
	{
		memcpy(task_ids + total, response->results[i].task_ids,
			   sizeof(long long) * response->results[i].n_task_ids);
		total += response->results[i].n_task_ids;
	}
	*count = (int) total;
	return task_ids;
}

/* The refused objects of a successful answer, as journal text; NULL if none. */
static char *
refusals_text(const OcpbBackupNowResponse *response)
{
	StringInfoData text;
	size_t		i;

	initStringInfo(&text);
	for (i = 0; i < response->n_results; i++)
	{
		const OcpbBackupResult *result = &response->results[i];

		if (result->successful)
			continue;
		appendStringInfo(&text, "%sOCP did not start a backup: %s: %s",
						 text.len > 0 ? "; " : "",
						 result->error_code ? result->error_code : "(no code)",
						 result->hint ? result->hint : "(no hint)");
	}
	return text.len > 0 ? text.data : NULL;
}

Datum
ocp_backup_now(PG_FUNCTION_ARGS)
{
	BackupNowArgs args;
	OcpbEndpoint *endpoint;
	OcpbHttpRequest request;
	OcpbHttpResult http;
	OcpbBackupNowResponse response;
	OcpbInvocation invocation;
	OcpbCallSubject subject;
	OcpbFailure failure;
	char		path[OCPB_PATH_SIZE];
	bool		failed;
	int64		invocation_id;

	read_backup_now_args(fcinfo, &args);
	ocpb_journal_check_writable("ocp_backup_now()");
	ocpb_spool_flush_leftovers();
	endpoint = ocpb_resolve_endpoint(args.server, true);

	ocpb_backup_now_path(args.cluster_id, path);
	memset(&request, 0, sizeof(request));
	request.method = "POST";
	request.path = path;
	request.body = backup_now_body(&args, args.storage_json, &request.body_len);

	memset(&invocation, 0, sizeof(invocation));
	invocation.server_name = endpoint->server_name;
	invocation.cluster_id = args.cluster_id;
	invocation.backup_mode = args.backup_mode;
	invocation.data_mode = args.data_mode;
	invocation.request_json = journaled_request(&args, (char *) request.body);
	invocation.started_at = GetCurrentTimestamp();
	ocpb_spool_set_in_flight(in_flight_row(&invocation));
	ocpb_http_exchange(endpoint, &request, &http);
	ocpb_spool_clear_in_flight();
	invocation.finished_at = GetCurrentTimestamp();

	if (!ocpb_parse_backup_now_response(http.body, http.body_len, &response))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		subject.action = psprintf("back up cluster " INT64_FORMAT, args.cluster_id);
		subject.object = psprintf("cluster " INT64_FORMAT, args.cluster_id);
		failed = ocpb_exchange_failed(endpoint, &subject, &http, &response.envelope, &failure);

		invocation.http_status = (int) http.status;
		invocation.trace_id = response.envelope.trace_id;
		invocation.response_json = journaled_response(&http, &response.envelope);
		invocation.task_ids = all_task_ids(&response, &invocation.n_task_ids);
		invocation.error = failed ? ocpb_failure_text(&failure) : refusals_text(&response);
		invocation.successful = !failed && invocation.error == NULL;
		invocation_id = ocpb_journal_insert(&invocation);

		if (failed)
			ocpb_raise_failure(&failure);
		ocpb_warn_refused_objects(&response);
		ocpb_return_backup_rows(fcinfo, invocation_id, &response);
	}
	PG_FINALLY();
	{
		ocpb_backup_now_response_free(&response);
	}
	PG_END_TRY();
	return (Datum) 0;
}
