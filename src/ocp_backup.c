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
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "args.h"
#include "endpoint.h"
#include "http.h"
#include "journal.h"
#include "pg_compat.h"
#include "report.h"
#include "request.h"
#include "response.h"
#include "rows.h"
#include "scrub.h"
#include "spool.h"

#if PG_VERSION_NUM >= 180000
PG_MODULE_MAGIC_EXT(.name = "ocp_backup", .version = OCPB_VERSION);
#else
PG_MODULE_MAGIC;
#endif

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
	int64		tenant_id;		/* 0: the whole cluster */
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

/*
 * OCP's storage configurations are a few hundred bytes, nested three or four
 * deep; these bounds keep a mistaken or hostile argument from being sent,
 * journaled and parsed at any size.  The size is the jsonb's, checked
 * before the object is rendered as text.
 */
#define MAX_STORAGE_BYTES (1024 * 1024)
#define MAX_STORAGE_DEPTH 16

static int
jsonb_depth(Jsonb *value)
{
	JsonbIterator *iterator = JsonbIteratorInit(&value->root);
	JsonbValue	scalar;
	JsonbIteratorToken token;
	int			depth = 0;
	int			deepest = 0;

	while ((token = JsonbIteratorNext(&iterator, &scalar, false)) != WJB_DONE)
	{
		if (token == WJB_BEGIN_ARRAY || token == WJB_BEGIN_OBJECT)
		{
			depth++;
			deepest = Max(deepest, depth);
		}
		else if (token == WJB_END_ARRAY || token == WJB_END_OBJECT)
			depth--;
	}
	return deepest;
}

static void
check_storage_bounds(Jsonb *storage)
{
	size_t		size = VARSIZE(storage) - VARHDRSZ;
	int			depth;

	if (size > MAX_STORAGE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("storage object is too large"),
				 errdetail("It takes %zu bytes; the limit is %d.", size, MAX_STORAGE_BYTES),
				 errhint("OCP's storage configurations take a few hundred bytes: check what is passed as storage.")));
	depth = jsonb_depth(storage);
	if (depth > MAX_STORAGE_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage object is nested too deeply"),
				 errdetail("It nests %d levels deep; the limit is %d.", depth, MAX_STORAGE_DEPTH)));
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
	/* A database not yet updated from 1.0 declares no tenant_id. */
	args->tenant_id = PG_NARGS() > 5 && !PG_ARGISNULL(5) ? PG_GETARG_INT64(5) : 0;

	if (args->cluster_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cluster_id must be positive, not " INT64_FORMAT, args->cluster_id)));
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5) && args->tenant_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant_id must be positive, not " INT64_FORMAT, args->tenant_id),
				 errhint("Pass NULL to back up the whole cluster.")));
	check_mode("backup_mode", args->backup_mode,
			   ocpb_is_backup_mode(args->backup_mode), OCPB_BACKUP_MODES);
	check_mode("data_mode", args->data_mode,
			   ocpb_is_data_mode(args->data_mode), OCPB_DATA_MODES);
	check_storage_bounds(args->storage);
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
	request.tenant_id = args->tenant_id;
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

static void
back_up_now(FunctionCallInfo fcinfo, const BackupNowArgs *args, OcpbSecretList *secrets)
{
	OcpbEndpoint *endpoint;
	OcpbHttpRequest request;
	OcpbHttpResult http;
	OcpbBackupNowResponse response;
	OcpbBackupObject asked;
	OcpbInvocation invocation;
	OcpbCallSubject subject;
	OcpbFailure failure;
	char		path[OCPB_PATH_SIZE];
	bool		failed;

	endpoint = ocpb_resolve_endpoint(args->server, true);

	ocpb_backup_now_path(args->cluster_id, args->tenant_id, path);
	memset(&request, 0, sizeof(request));
	request.method = "POST";
	request.path = path;
	request.body = backup_now_body(args, args->storage_json, &request.body_len);
	request.secrets = secrets;

	memset(&invocation, 0, sizeof(invocation));
	invocation.invoked_by = GetUserNameFromId(GetUserId(), false);
	invocation.server_name = endpoint->server_name;
	invocation.ocp_account = ocpb_endpoint_account(endpoint);
	invocation.cluster_id = args->cluster_id;
	invocation.tenant_id = args->tenant_id;
	invocation.backup_mode = args->backup_mode;
	invocation.data_mode = args->data_mode;
	ocpb_journal_set_request(&invocation, args->storage, request.body, secrets);
	invocation.started_at = GetCurrentTimestamp();
	ocpb_journal_call_in_flight(&invocation);
	ocpb_http_exchange(endpoint, &request, &http);
	invocation.finished_at = GetCurrentTimestamp();

	memset(&asked, 0, sizeof(asked));
	asked.has_cluster_id = true;
	asked.cluster_id = args->cluster_id;
	asked.has_tenant_id = args->tenant_id != 0;
	asked.tenant_id = args->tenant_id;
	if (!ocpb_parse_backup_now_response(http.body, http.body_len, &asked, &response))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		subject.action = args->tenant_id != 0 ?
			psprintf("back up tenant " INT64_FORMAT " of cluster " INT64_FORMAT,
					 args->tenant_id, args->cluster_id) :
			psprintf("back up cluster " INT64_FORMAT, args->cluster_id);
		subject.object = args->tenant_id != 0 ?
			psprintf("tenant " INT64_FORMAT " of cluster " INT64_FORMAT,
					 args->tenant_id, args->cluster_id) :
			psprintf("cluster " INT64_FORMAT, args->cluster_id);
		failed = ocpb_exchange_failed(endpoint, &subject, &http, &response.envelope, &failure);

		invocation.http_status = (int) http.status;
		/* Without OCP's own word, it may have started a backup or not. */
		invocation.outcome_unknown = http.request_sent && !response.envelope.is_envelope;
		invocation.trace_id = response.envelope.trace_id;
		ocpb_journal_set_response(&invocation, http.body, http.body_len,
								  response.envelope.is_json);
		invocation.task_ids = all_task_ids(&response, &invocation.n_task_ids);
		invocation.error = failed ? ocpb_failure_text(&failure) : refusals_text(&response);
		invocation.successful = !failed && invocation.error == NULL;
		ocpb_journal_record_call(&invocation, !failed);

		if (failed)
			ocpb_raise_failure(&failure);
		ocpb_warn_refused_objects(&response);
		ocpb_return_backup_rows(fcinfo, invocation.id, &response);
	}
	PG_FINALLY();
	{
		ocpb_backup_now_response_free(&response);
	}
	PG_END_TRY();
}

/*
 * The statement that called ocp_backup_now holds the storage object as the
 * caller wrote it: once secrets are found in it, no error or warning of the
 * call may log that statement (log_min_error_statement).
 */
static void
hide_statement_with_secrets(void *arg)
{
	const OcpbSecretList *secrets = arg;

	if (secrets->n > 0)
		errhidestmt(true);
}

Datum
ocp_backup_now(PG_FUNCTION_ARGS)
{
	BackupNowArgs args;
	OcpbSecretList *secrets = palloc0(sizeof(OcpbSecretList));
	ErrorContextCallback hide_statement;

	read_backup_now_args(fcinfo, &args);
	ocpb_journal_check_writable("ocp_backup_now()");
	ocpb_spool_flush_leftovers();
	hide_statement.callback = hide_statement_with_secrets;
	hide_statement.arg = secrets;
	hide_statement.previous = error_context_stack;
	error_context_stack = &hide_statement;
	/* The secrets found in storage are malloc'd, freed on every path. */
	PG_TRY();
	{
		back_up_now(fcinfo, &args, secrets);
	}
	PG_FINALLY();
	{
		ocpb_secret_list_free(secrets);
	}
	PG_END_TRY();
	error_context_stack = hide_statement.previous;
	return (Datum) 0;
}
