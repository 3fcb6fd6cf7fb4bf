/*
 * call.c - one call of ocp_backup_now, from its request prepared to its
 * outcome classified: the one owner of the call's record.
 *
 * A call goes prepared -> sent -> answered -> classified, each a function
 * here.  The record (the journal row) is logged to disk before the request
 * leaves, and logged complete as soon as the answer is read and classified,
 * before anything that may raise: the error raised for a failed call, the
 * warnings and rows of a successful one.  A failed call is not inserted,
 * since its error would roll the insert back; its abort hands the log to
 * the journal writer (journal_writer.c).
 */
#include "call.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "endpoint.h"
#include "http.h"
#include "journal.h"
#include "report.h"
#include "request.h"
#include "response.h"
#include "rows.h"
#include "wire_text.h"

typedef struct BackupNowCall
{
	const OcpbBackupNowArgs *args;
	OcpbEndpoint *endpoint;
	char		path[OCPB_PATH_SIZE];
	OcpbHttpRequest request;
	OcpbHttpResult http;
	OcpbBackupNowResponse response;	/* freed by ocpb_call_backup_now */
	OcpbInvocation record;		/* the journal row */
	OcpbFailure failure;
	bool		failed;
} BackupNowCall;

/* The backupNow body for a storage object, in palloc'd memory. */
static char *
backup_now_body(const OcpbBackupNowArgs *args, const char *storage_json, size_t *len)
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

/* The request, and the record as far as the caller gave it. */
static void
prepare(BackupNowCall *call, OcpbEndpoint *endpoint, const char *invoked_by,
		OcpbSecretList *secrets)
{
	const OcpbBackupNowArgs *args = call->args;

	call->endpoint = endpoint;
	ocpb_backup_now_path(args->cluster_id, args->tenant_id, call->path);
	call->request.method = "POST";
	call->request.path = call->path;
	call->request.body = backup_now_body(args, args->storage_json, &call->request.body_len);
	call->request.secrets = secrets;
	call->request.raw_answer = true;

	call->record.invoked_by = invoked_by;
	call->record.server_name = call->endpoint->server_name;
	call->record.ocp_account = ocpb_endpoint_account(call->endpoint);
	call->record.cluster_id = args->cluster_id;
	call->record.tenant_id = args->tenant_id;
	call->record.backup_mode = args->backup_mode;
	call->record.data_mode = args->data_mode;
	ocpb_journal_set_caller(&call->record);
	ocpb_journal_set_request(&call->record, args->storage, call->request.body, secrets);
}

/* The record is on disk, its outcome unknown, before the request leaves. */
static void
record_leaving(BackupNowCall *call)
{
	call->record.started_at = GetCurrentTimestamp();
	ocpb_journal_call_in_flight(&call->record);
}

/*
 * OCP's answer read once; ocpb_call_backup_now frees it on every path.  It
 * is parsed as OCP sent it, and the strings read are masked after: a secret
 * equal to a key, a number or a literal of the answer ("data", a task id,
 * the cluster id, true) cannot change how it reads.  The journal keeps the
 * masked body, in which only string values are masked.
 */
static void
read_answer(BackupNowCall *call)
{
	OcpbBackupObject asked;
	OcpbSecretList secrets;
	OcpbMasker *masker;
	bool		parsed;

	memset(&asked, 0, sizeof(asked));
	asked.has_cluster_id = true;
	asked.cluster_id = call->args->cluster_id;
	asked.has_tenant_id = call->args->tenant_id != 0;
	asked.tenant_id = call->args->tenant_id;
	/* No answer came (a transport failure): the empty body. */
	if (call->http.raw_body == NULL)
	{
		call->http.raw_body = pstrdup(call->http.body);
		call->http.raw_body_len = call->http.body_len;
	}
	ocpb_exchange_secrets(call->endpoint, call->request.secrets, call->http.raw_body,
						  call->http.raw_body_len, &secrets);
	masker = ocpb_masker_new(&secrets);
	ocpb_secret_list_free(&secrets);
	parsed = masker != NULL &&
		ocpb_parse_backup_now_response(call->http.raw_body, call->http.raw_body_len,
									   &asked, masker, &call->response);
	ocpb_masker_free(masker);
	pfree(call->http.raw_body);
	call->http.raw_body = NULL;
	if (!parsed)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/*
 * Failed or not, and why: the record completed, and logged.  A call alone
 * raises its failure, which would roll its row back, so only its success
 * is inserted; a call of many inserts its row whatever the outcome.
 */
static void
classify(BackupNowCall *call, bool alone)
{
	const OcpbBackupNowArgs *args = call->args;
	OcpbInvocation *record = &call->record;
	OcpbCallSubject subject;

	subject.action = args->tenant_id != 0 ?
		psprintf("back up tenant " INT64_FORMAT " of cluster " INT64_FORMAT,
				 args->tenant_id, args->cluster_id) :
		psprintf("back up cluster " INT64_FORMAT, args->cluster_id);
	subject.object = args->tenant_id != 0 ?
		psprintf("tenant " INT64_FORMAT " of cluster " INT64_FORMAT,
				 args->tenant_id, args->cluster_id) :
		psprintf("cluster " INT64_FORMAT, args->cluster_id);
	call->failed = ocpb_exchange_failed(call->endpoint, &subject, &call->http,
										&call->response.envelope, &call->failure);

	record->http_status = (int) call->http.status;
	/* Without OCP's own word, it may have started a backup or not. */
	record->outcome_unknown = call->http.request_sent && !call->response.envelope.is_envelope;
	record->trace_id = call->response.envelope.trace_id;
	ocpb_journal_set_response(record, call->http.body, call->http.body_len,
							  call->response.envelope.is_json);
	record->task_ids = all_task_ids(&call->response, &record->n_task_ids);
	record->error = call->failed ? ocpb_failure_text(&call->failure) :
		refusals_text(&call->response);
	record->successful = !call->failed && record->error == NULL;
	ocpb_journal_record_call(record, !alone || !call->failed);
}

/*
 * What the caller gets: the error, or a row per started task.  With
 * on_failure => 'error', objects OCP refused raise OB002 instead of
 * WARNINGs; the row, inserted, goes to the journal writer on the abort.
 */
static void
finish(FunctionCallInfo fcinfo, const BackupNowCall *call)
{
	if (call->failed)
		ocpb_raise_failure(&call->failure);
	if (call->args->error_on_failure && !call->record.successful)
		ereport(ERROR,
				(errcode(OCPB_ERRCODE_BACKUP_NOT_STARTED),
				 call->args->tenant_id != 0 ?
				 errmsg("OCP did not start the backup of tenant " INT64_FORMAT " of cluster " INT64_FORMAT,
						call->args->tenant_id, call->args->cluster_id) :
				 errmsg("OCP did not start the backup of cluster " INT64_FORMAT,
						call->args->cluster_id),
				 errdetail_internal("%s", call->record.error),
				 errhint("The call is journaled as invocation " INT64_FORMAT " of ocp_backup.invocation.",
						 call->record.id)));
	ocpb_warn_refused_objects(&call->response);
	ocpb_return_backup_rows(fcinfo, call->record.id, &call->response);
}

void
ocpb_call_backup_now(FunctionCallInfo fcinfo, const OcpbBackupNowArgs *args,
					 OcpbSecretList *secrets)
{
	BackupNowCall call;

	memset(&call, 0, sizeof(call));
	call.args = args;
	prepare(&call, ocpb_resolve_endpoint(args->server, true),
			GetUserNameFromId(GetUserId(), false), secrets);
	record_leaving(&call);
	ocpb_http_exchange(call.endpoint, &call.request, &call.http);
	call.record.finished_at = GetCurrentTimestamp();
	read_answer(&call);
	PG_TRY();
	{
		classify(&call, true);
		finish(fcinfo, &call);
	}
	PG_FINALLY();
	{
		ocpb_backup_now_response_free(&call.response);
	}
	PG_END_TRY();
}

/*
 * What the caller of many calls gets from one: its rows, or, when it
 * failed, one row that says why, about the cluster asked.  No WARNING: the
 * clusters whose backup did not start are summed up once all were tried.
 */
static void
report_call(ReturnSetInfo *rsinfo, const BackupNowCall *call)
{
	const OcpbEnvelope *envelope = &call->response.envelope;
	OcpbBackupObject asked;

	if (!call->failed)
	{
		ocpb_put_backup_rows(rsinfo, call->record.id, &call->response);
		return;
	}
	memset(&asked, 0, sizeof(asked));
	asked.has_cluster_id = true;
	asked.cluster_id = call->args->cluster_id;
	ocpb_put_failed_call_row(rsinfo, call->record.id, &asked,
							 envelope->error_code != NULL ? envelope->error_code :
							 unpack_sql_state(call->failure.sqlerrcode),
							 call->failure.message, envelope->trace_id);
}

static void
many_leaving(OcpbExchange *exchange, void *arg)
{
	record_leaving(exchange->arg);
}

/* How many failed clusters the summary names, with why. */
#define FAILURES_NAMED 10

/*
 * What many calls share: their rows, memory reset after each answer, and
 * why each cluster whose backup did not start failed (in the caller's
 * memory, by the cluster's place in the array).
 */
typedef struct ManyCalls
{
	ReturnSetInfo *rsinfo;
	MemoryContext answer_context;
	MemoryContext caller_context;
	const BackupNowCall *calls;
	char	  **failed_why;		/* NULL for a cluster whose backup started */
	int			n_failed;
} ManyCalls;

/* A cluster whose call failed, or whose backup OCP refused. */
static void
note_failure(ManyCalls *many, const BackupNowCall *call)
{
	if (call->record.successful)
		return;
	many->failed_why[call - many->calls] =
		MemoryContextStrdup(many->caller_context,
							call->record.error ? call->record.error : "(no reason given)");
	many->n_failed++;
}

/*
 * One WARNING for the whole call, or with on_failure => 'error' the error
 * OB002, naming the clusters whose backup did not start (the first few, in
 * the array's order) and why; each cluster's row, returned and journaled,
 * has the rest.
 */
static void
report_failures(const ManyCalls *many, const OcpbBackupNowArgs *args, int n)
{
	StringInfoData ids;
	StringInfoData why;
	int			named = 0;
	int			i;

	if (many->n_failed == 0)
		return;
	initStringInfo(&ids);
	initStringInfo(&why);
	for (i = 0; i < n && named < FAILURES_NAMED; i++)
	{
		if (many->failed_why[i] == NULL)
			continue;
		appendStringInfo(&ids, "%s" INT64_FORMAT, named > 0 ? ", " : "",
						 many->calls[i].args->cluster_id);
		appendStringInfo(&why, "%sCluster " INT64_FORMAT ": %s", named > 0 ? "\n" : "",
						 many->calls[i].args->cluster_id, many->failed_why[i]);
		named++;
	}
	if (many->n_failed > named)
	{
		appendStringInfo(&ids, " and %d more", many->n_failed - named);
		appendStringInfo(&why, "\nThe %d others are in the rows returned and in ocp_backup.invocation.",
						 many->n_failed - named);
	}
	ereport(args->error_on_failure ? ERROR : WARNING,
			(errcode(args->error_on_failure ? OCPB_ERRCODE_BACKUP_NOT_STARTED : ERRCODE_WARNING),
			 errmsg_plural("no backup started for %d of %d cluster: %s",
						   "no backup started for %d of %d clusters: %s",
						   n, many->n_failed, n, ids.data),
			 errdetail_internal("%s", why.data),
			 args->error_on_failure ?
			 errhint("Every cluster was tried and journaled: each call's row in ocp_backup.invocation says why, and the tasks of those that started are in ocp_backup.task.") :
			 errhint("Each cluster's row says why, in the result and in ocp_backup.invocation; on_failure => 'error' makes the statement fail instead.")));
}

/*
 * Each call is classified, logged, inserted and reported as it ends, in
 * memory of its own: a fleet's answers do not pile up until the last.
 */
static void
many_answered(OcpbExchange *exchange, void *arg)
{
	ManyCalls  *many = arg;
	BackupNowCall *call = exchange->arg;
	MemoryContext caller_context = MemoryContextSwitchTo(many->answer_context);

	call->http = exchange->result;
	call->record.finished_at = GetCurrentTimestamp();
	read_answer(call);
	PG_TRY();
	{
		classify(call, false);
		report_call(many->rsinfo, call);
		note_failure(many, call);
	}
	PG_FINALLY();
	{
		ocpb_backup_now_response_free(&call->response);
	}
	PG_END_TRY();
	pfree(call->http.body);
	call->http.body = NULL;
	MemoryContextSwitchTo(caller_context);
	MemoryContextReset(many->answer_context);
}

void
ocpb_call_backup_now_many(FunctionCallInfo fcinfo, const OcpbBackupNowArgs *args,
						  const int64 *cluster_ids, int n, OcpbSecretList *secrets)
{
	OcpbEndpoint *endpoint = ocpb_resolve_endpoint(args->server, true);
	const char *invoked_by = GetUserNameFromId(GetUserId(), false);
	OcpbBackupNowArgs *each = palloc(sizeof(OcpbBackupNowArgs) * Max(n, 1));
	BackupNowCall *calls = palloc0(sizeof(BackupNowCall) * Max(n, 1));
	OcpbExchange *exchanges = palloc0(sizeof(OcpbExchange) * Max(n, 1));
	OcpbExchangeHooks hooks;
	ManyCalls	many;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	memset(&many, 0, sizeof(many));
	many.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	many.caller_context = CurrentMemoryContext;
	many.calls = calls;
	many.failed_why = palloc0(sizeof(char *) * Max(n, 1));
	many.answer_context = AllocSetContextCreate(CurrentMemoryContext,
												"ocp_backup answer", ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < n; i++)
	{
		each[i] = *args;
		each[i].cluster_id = cluster_ids[i];
		each[i].tenant_id = 0;
		calls[i].args = &each[i];
		prepare(&calls[i], endpoint, invoked_by, secrets);
		exchanges[i].endpoint = endpoint;
		exchanges[i].request = calls[i].request;
		exchanges[i].arg = &calls[i];
	}
	memset(&hooks, 0, sizeof(hooks));
	hooks.leaving = many_leaving;
	hooks.answered = many_answered;
	hooks.arg = &many;
	ocpb_http_exchange_all(exchanges, n, &hooks);
	MemoryContextDelete(many.answer_context);
	report_failures(&many, args, n);
}
