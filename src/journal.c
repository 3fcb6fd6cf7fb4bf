/*
 * journal.c - records every call that tried to reach OCP in
 * ocp_backup.invocation.
 *
 * The row is part of the caller's transaction; spool.c makes it outlive a
 * rollback.  Its id is drawn first and its JSON (what the spool keeps) is
 * built in C before the INSERT, and handed to spool.c as the in-flight row:
 * if anything fails from there on, even the INSERT, the abort spools the
 * row.  The statements are planned once per backend and kept.  They run as
 * the owner of the journal, so that roles allowed to trigger backups get
 * their calls recorded without being able to write (or forge) journal rows
 * themselves.
 */
#include "journal.h"

#include "spool.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "request.h"

#define SECRET_MARKER "********"

#define INSERT_INVOCATION \
	"INSERT INTO ocp_backup.invocation (id, started_at, finished_at, invoked_by," \
	" server_name, cluster_id, backup_mode, data_mode, request, http_status," \
	" successful, task_ids, trace_id, error, response)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
#define INSERT_INVOCATION_ARGS 15

/* OCP may list a task twice; replays meet rows already there. */
#define INSERT_TASK \
	"INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id)" \
	" VALUES ($1, $2, $3, $4) ON CONFLICT (task_id) DO NOTHING"
#define INSERT_TASK_ARGS 4

#define UPDATE_TASK \
	"UPDATE ocp_backup.task SET status = $2, subtasks_total = $3, subtasks_done = $4," \
	" failed_subtask = $5, finish_time = $6, last_checked_at = now(), last_error = NULL" \
	" WHERE task_id = $1"
#define UPDATE_TASK_ARGS 6

static SPIPlanPtr insert_invocation_plan = NULL;
static SPIPlanPtr insert_task_plan = NULL;
static SPIPlanPtr update_task_plan = NULL;

/*
 * The journal's catalog facts, looked up once and forgotten on any relcache
 * invalidation (the extension dropped and created again, a new owner).
 */
typedef struct JournalCatalog
{
	bool		valid;
	Oid			owner;			/* of ocp_backup.invocation */
	Oid			id_sequence;	/* ocp_backup.invocation_id_seq */
} JournalCatalog;

static JournalCatalog journal_catalog;
static bool journal_catalog_callback_registered = false;

void
ocpb_journal_check_writable(const char *function_name)
{
	PreventCommandIfReadOnly(function_name);
	PreventCommandDuringRecovery(function_name);
}

static void
forget_journal_catalog(Datum arg, Oid relid)
{
	journal_catalog.valid = false;
}

static Oid
journal_relation(const char *name, Oid namespace_id)
{
	Oid			relid = get_relname_relid(name, namespace_id);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the journal relation ocp_backup.%s does not exist", name),
				 errhint("Reinstall the extension: DROP EXTENSION ocp_backup; CREATE EXTENSION ocp_backup;")));
	return relid;
}

static const JournalCatalog *
lookup_journal_catalog(void)
{
	Oid			namespace_id;
	Oid			relid;
	HeapTuple	tuple;

	if (journal_catalog.valid)
		return &journal_catalog;
	if (!journal_catalog_callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_journal_catalog, (Datum) 0);
		journal_catalog_callback_registered = true;
	}
	namespace_id = get_namespace_oid("ocp_backup", false);
	relid = journal_relation("invocation", namespace_id);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	journal_catalog.owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	journal_catalog.id_sequence = journal_relation("invocation_id_seq", namespace_id);
	journal_catalog.valid = true;
	return &journal_catalog;
}

/* Plans a statement once per backend; the plan cache replans when needed. */
static SPIPlanPtr
kept_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *arg_types)
{
	SPIPlanPtr	prepared;

	if (*plan != NULL)
		return *plan;
	prepared = SPI_prepare(sql, nargs, arg_types);
	if (prepared == NULL || SPI_keepplan(prepared) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	*plan = prepared;
	return *plan;
}

static Datum
task_id_array(const long long *task_ids, int n_task_ids)
{
	Datum	   *elements = palloc(sizeof(Datum) * Max(n_task_ids, 1));
	int			i;

	for (i = 0; i < n_task_ids; i++)
		elements[i] = Int64GetDatum((int64) task_ids[i]);
	return PointerGetDatum(construct_array(elements, n_task_ids, INT8OID,
										   sizeof(int64), FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

static Datum
text_or_null(const char *s, char *null_flag)
{
	*null_flag = s == NULL ? 'n' : ' ';
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

static void
insert_invocation(const OcpbInvocation *invocation)
{
	static Oid	arg_types[INSERT_INVOCATION_ARGS] = {
		INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
		TEXTOID, JSONBOID, INT4OID, BOOLOID, INT8ARRAYOID, TEXTOID, TEXTOID, JSONBOID
	};
	Datum		values[INSERT_INVOCATION_ARGS];
	char		nulls[INSERT_INVOCATION_ARGS];
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(invocation->id);
	values[1] = TimestampTzGetDatum(invocation->started_at);
	values[2] = TimestampTzGetDatum(invocation->finished_at);
	values[3] = CStringGetTextDatum(invocation->invoked_by);
	values[4] = CStringGetTextDatum(invocation->server_name);
	values[5] = Int64GetDatum(invocation->cluster_id);
	values[6] = CStringGetTextDatum(invocation->backup_mode);
	values[7] = CStringGetTextDatum(invocation->data_mode);
	values[8] = JsonbPGetDatum(invocation->request);
	values[9] = Int32GetDatum(invocation->http_status);
	nulls[9] = invocation->http_status == 0 ? 'n' : ' ';
	values[10] = BoolGetDatum(invocation->successful);
	values[11] = task_id_array(invocation->task_ids, invocation->n_task_ids);
	values[12] = text_or_null(invocation->trace_id, &nulls[12]);
	values[13] = text_or_null(invocation->error, &nulls[13]);
	values[14] = PointerGetDatum(invocation->response);
	nulls[14] = invocation->response == NULL ? 'n' : ' ';
	rc = SPI_execute_plan(kept_plan(&insert_invocation_plan, INSERT_INVOCATION,
									INSERT_INVOCATION_ARGS, arg_types),
						  values, nulls, false, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "could not write the journal row: %s", SPI_result_code_string(rc));
}

static void
insert_tasks(const OcpbInvocation *invocation)
{
	static Oid	arg_types[INSERT_TASK_ARGS] = {INT8OID, INT8OID, TEXTOID, INT8OID};
	Datum		values[INSERT_TASK_ARGS];
	int			i;
	int			rc;

	values[1] = Int64GetDatum(invocation->id);
	values[2] = CStringGetTextDatum(invocation->server_name);
	values[3] = Int64GetDatum(invocation->cluster_id);
	for (i = 0; i < invocation->n_task_ids; i++)
	{
		values[0] = Int64GetDatum((int64) invocation->task_ids[i]);
		rc = SPI_execute_plan(kept_plan(&insert_task_plan, INSERT_TASK,
										INSERT_TASK_ARGS, arg_types),
							  values, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not record task %lld: %s", invocation->task_ids[i],
				 SPI_result_code_string(rc));
	}
}

/*
 * Runs a journal statement as the journal's owner.  On error, the
 * (sub)transaction abort restores the user id, as it does for PostgreSQL's
 * own code that switches users this way.
 */
static void
begin_as_owner(Oid *saved_user, int *saved_context)
{
	const JournalCatalog *catalog = lookup_journal_catalog();

	GetUserIdAndSecContext(saved_user, saved_context);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI to write the journal");
	SetUserIdAndSecContext(catalog->owner,
						   *saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static void
end_as_owner(Oid saved_user, int saved_context)
{
	SetUserIdAndSecContext(saved_user, saved_context);
	SPI_finish();
}

static void
append_key(StringInfo row, const char *key)
{
	appendStringInfo(row, "%s\"%s\": ", row->len > 1 ? ", " : "", key);
}

static void
append_text_field(StringInfo row, const char *key, const char *value)
{
	if (value == NULL)
		return;
	append_key(row, key);
	escape_json(row, value);
}

static void
append_timestamp_field(StringInfo row, const char *key, TimestampTz value)
{
	char		text[MAXDATELEN + 1];

	JsonEncodeDateTime(text, TimestampTzGetDatum(value), TIMESTAMPTZOID, NULL);
	append_key(row, key);
	appendStringInfo(row, "\"%s\"", text);
}

/*
 * JSON that is known to be valid, on one line: the spool holds a row per
 * line.  Outside strings a line break is whitespace; inside one it would
 * be invalid JSON, so every line break is whitespace here.
 */
static void
append_json_field(StringInfo row, const char *key, const char *json)
{
	size_t		span;

	if (json == NULL)
		return;
	append_key(row, key);
	while (*json != '\0')
	{
		span = strcspn(json, "\r\n");
		appendBinaryStringInfo(row, json, (int) span);
		json += span;
		if (*json != '\0')
		{
			appendStringInfoChar(row, ' ');
			json++;
		}
	}
}

/*
 * The whole row as JSON keyed by column name: what the spool keeps, and
 * what jsonb_populate_record reads back on replay.
 */
static char *
row_json(const OcpbInvocation *invocation)
{
	StringInfoData row;
	int			i;

	initStringInfo(&row);
	appendStringInfoChar(&row, '{');
	append_key(&row, "id");
	appendStringInfo(&row, INT64_FORMAT, invocation->id);
	append_timestamp_field(&row, "started_at", invocation->started_at);
	append_timestamp_field(&row, "finished_at", invocation->finished_at);
	append_text_field(&row, "invoked_by", invocation->invoked_by);
	append_text_field(&row, "server_name", invocation->server_name);
	append_key(&row, "cluster_id");
	appendStringInfo(&row, INT64_FORMAT, invocation->cluster_id);
	append_text_field(&row, "backup_mode", invocation->backup_mode);
	append_text_field(&row, "data_mode", invocation->data_mode);
	append_json_field(&row, "request", invocation->request_json);
	if (invocation->http_status != 0)
	{
		append_key(&row, "http_status");
		appendStringInfo(&row, "%d", invocation->http_status);
	}
	append_key(&row, "successful");
	appendStringInfoString(&row, invocation->successful ? "true" : "false");
	append_key(&row, "task_ids");
	appendStringInfoChar(&row, '[');
	for (i = 0; i < invocation->n_task_ids; i++)
		appendStringInfo(&row, "%s%lld", i > 0 ? ", " : "", invocation->task_ids[i]);
	appendStringInfoChar(&row, ']');
	append_text_field(&row, "trace_id", invocation->trace_id);
	append_text_field(&row, "error", invocation->error);
	append_json_field(&row, "response", invocation->response_json);
	appendStringInfoChar(&row, '}');
	return row.data;
}

void
ocpb_journal_call_in_flight(OcpbInvocation *invocation)
{
	OcpbInvocation interrupted;

	/*
	 * The id is drawn now, so that every row this call may leave in the
	 * spool carries it: writers that replay the same file at once then
	 * write the row once.
	 */
	invocation->id = nextval_internal(lookup_journal_catalog()->id_sequence, false);
	interrupted = *invocation;

	interrupted.finished_at = invocation->started_at;
	interrupted.http_status = 0;
	interrupted.successful = false;
	interrupted.n_task_ids = 0;
	interrupted.trace_id = NULL;
	interrupted.response_json = NULL;
	interrupted.response = NULL;
	interrupted.error = "the call was interrupted (cancel, statement_timeout or backend exit) "
		"while it awaited OCP, before any answer was read; "
		"the request may have reached OCP: look in OCP for a task it may have started";
	ocpb_spool_set_in_flight(row_json(&interrupted));
}

void
ocpb_journal_insert(const OcpbInvocation *invocation)
{
	Oid			saved_user;
	int			saved_context;

	/* From here on an abort spools the complete row. */
	ocpb_spool_set_in_flight(row_json(invocation));
	begin_as_owner(&saved_user, &saved_context);
	insert_invocation(invocation);
	insert_tasks(invocation);
	ocpb_spool_in_flight_inserted();
	end_as_owner(saved_user, saved_context);
}

/*
 * Builds the journal's jsonb of OCP's answer in the same pass that checks
 * it, with PostgreSQL's own JSON parser, which returns errors instead of
 * raising them.  jsonb_in could raise: on numbers numeric refuses, and on
 * what cJSON (which read the answer) accepts and PostgreSQL does not ("01",
 * "+1", "1.", \u0000).  An answer the journal cannot store must not make the
 * journal insert fail.
 */
typedef struct AnswerToJsonb
{
	JsonbParseState *state;
	JsonbValue *result;
	bool		refused;		/* a number numeric would refuse */
} AnswerToJsonb;

/* numeric refuses exponents beyond about 131072 digits; OCP sends none. */
#define MAX_NUMBER_CHARS 1000

static void
answer_push(AnswerToJsonb *build, JsonbIteratorToken token, JsonbValue *value)
{
	if (!build->refused)
		build->result = pushJsonbValue(&build->state, token, value);
}

static void
answer_object_start(void *arg)
{
	answer_push(arg, WJB_BEGIN_OBJECT, NULL);
}

static void
answer_object_end(void *arg)
{
	answer_push(arg, WJB_END_OBJECT, NULL);
}

static void
answer_array_start(void *arg)
{
	answer_push(arg, WJB_BEGIN_ARRAY, NULL);
}

static void
answer_array_end(void *arg)
{
	answer_push(arg, WJB_END_ARRAY, NULL);
}

static void
answer_field(void *arg, char *name, bool isnull)
{
	JsonbValue	key;

	key.type = jbvString;
	key.val.string.val = name;
	key.val.string.len = strlen(name);
	answer_push(arg, WJB_KEY, &key);
}

static bool
number_numeric_takes(const char *token)
{
	const char *exponent = strpbrk(token, "eE");

	return strlen(token) <= MAX_NUMBER_CHARS &&
		(exponent == NULL || labs(strtol(exponent + 1, NULL, 10)) <= MAX_NUMBER_CHARS);
}

static void
answer_scalar(void *arg, char *token, JsonTokenType type)
{
	AnswerToJsonb *build = arg;
	JsonbValue	value;

	switch (type)
	{
		case JSON_TOKEN_STRING:
			value.type = jbvString;
			value.val.string.val = token;
			value.val.string.len = strlen(token);
			break;
		case JSON_TOKEN_NUMBER:
			if (!number_numeric_takes(token))
			{
				build->refused = true;
				return;
			}
			value.type = jbvNumeric;
			value.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	CStringGetDatum(token),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			value.type = jbvBool;
			value.val.boolean = type == JSON_TOKEN_TRUE;
			break;
		default:
			value.type = jbvNull;
			break;
	}
	if (build->state == NULL)
	{
		/* A document that is one scalar: jsonb keeps it as a raw scalar. */
		JsonbValue	array;

		array.type = jbvArray;
		array.val.array.rawScalar = true;
		array.val.array.nElems = 1;
		answer_push(build, WJB_BEGIN_ARRAY, &array);
		answer_push(build, WJB_ELEM, &value);
		answer_push(build, WJB_END_ARRAY, NULL);
	}
	else
		answer_push(build, build->state->contVal.type == jbvArray ? WJB_ELEM : WJB_VALUE,
					&value);
}

static Jsonb *
answer_to_jsonb(const char *body, size_t body_len)
{
	AnswerToJsonb build;
	JsonSemAction actions;
	JsonLexContext *lex;

	if (!pg_verifymbstr(body, (int) body_len, true))
		return NULL;
	memset(&build, 0, sizeof(build));
	memset(&actions, 0, sizeof(actions));
	actions.semstate = &build;
	actions.object_start = answer_object_start;
	actions.object_end = answer_object_end;
	actions.array_start = answer_array_start;
	actions.array_end = answer_array_end;
	actions.object_field_start = answer_field;
	actions.scalar = answer_scalar;
	lex = makeJsonLexContextCstringLen(unconstify(char *, body), (int) body_len,
									   GetDatabaseEncoding(), true);
	if (pg_parse_json(lex, &actions) != JSON_SUCCESS || build.refused ||
		build.result == NULL)
		return NULL;
	return JsonbValueToJsonb(build.result);
}

void
ocpb_journal_set_response(OcpbInvocation *invocation, const char *body,
						  size_t body_len, bool is_json)
{
	invocation->response = is_json ? answer_to_jsonb(body, body_len) : NULL;
	invocation->response_json = invocation->response != NULL ? body : NULL;
}

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	value;

	value.type = jbvString;
	value.val.string.val = unconstify(char *, key);
	value.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &value);
}

static void
push_string_field(JsonbParseState **state, const char *key, const char *text)
{
	JsonbValue	value;

	push_key(state, key);
	value.type = jbvString;
	value.val.string.val = unconstify(char *, text);
	value.val.string.len = strlen(text);
	pushJsonbValue(state, WJB_VALUE, &value);
}

/*
 * The request as the journal keeps it: the body sent, with the values of
 * secret-looking keys of the storage object masked; as text for the spool
 * and as jsonb for the INSERT, built without parsing text.
 */
void
ocpb_journal_set_request(OcpbInvocation *invocation, Jsonb *storage,
						 const char *body_sent)
{
	Jsonb	   *masked = ocpb_mask_secrets(storage);
	JsonbParseState *state = NULL;
	JsonbValue	value;
	JsonbValue *result;

	invocation->request_json = body_sent;
	if (masked != NULL)
	{
		OcpbBackupNowRequest request;
		size_t		len;
		char	   *body;

		request.cluster_id = invocation->cluster_id;
		request.backup_mode = invocation->backup_mode;
		request.data_mode = invocation->data_mode;
		request.storage_json = JsonbToCString(NULL, &masked->root, VARSIZE(masked));
		body = ocpb_backup_now_body(&request, &len);
		if (body == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		invocation->request_json = pnstrdup(body, len);
		free(body);
		storage = masked;
	}
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "obBackupObject");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "clusterId");
	value.type = jbvNumeric;
	value.val.numeric = int64_to_numeric(invocation->cluster_id);
	pushJsonbValue(&state, WJB_VALUE, &value);
	push_string_field(&state, "backupDimension", "CLUSTER");
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	push_string_field(&state, "backupMode", invocation->backup_mode);
	push_string_field(&state, "dataBackupMode", invocation->data_mode);
	push_key(&state, "obBackupServiceStorageConfig");
	value.type = jbvBinary;
	value.val.binary.data = &storage->root;
	value.val.binary.len = VARSIZE(storage) - VARHDRSZ;
	pushJsonbValue(&state, WJB_VALUE, &value);
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	invocation->request = JsonbValueToJsonb(result);
}

void
ocpb_journal_task_status(const OcpbTaskStatus *task)
{
	static Oid	arg_types[UPDATE_TASK_ARGS] = {
		INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID
	};
	Datum		values[UPDATE_TASK_ARGS];
	char		nulls[UPDATE_TASK_ARGS];
	Oid			saved_user;
	int			saved_context;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(task->task_id);
	values[1] = text_or_null(task->status, &nulls[1]);
	values[2] = Int32GetDatum(task->subtasks_total);
	values[3] = Int32GetDatum(task->subtasks_done);
	values[4] = text_or_null(task->failed_subtask, &nulls[4]);
	values[5] = TimestampTzGetDatum(task->finish_time);
	nulls[5] = task->has_finish_time ? ' ' : 'n';
	begin_as_owner(&saved_user, &saved_context);
	rc = SPI_execute_plan(kept_plan(&update_task_plan, UPDATE_TASK, UPDATE_TASK_ARGS, arg_types),
						  values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not record the status of task " INT64_FORMAT ": %s",
			 task->task_id, SPI_result_code_string(rc));
	end_as_owner(saved_user, saved_context);
}

/*
 * Object-store credentials travel in the storage object under names that
 * vary with the store and the OCP version; any key naming a secret, a
 * password or a token is masked.
 */
static bool
is_secret_key(const JsonbValue *key)
{
	static const char *const markers[] = {"secret", "password", "token", NULL};
	char	   *lower = pnstrdup(key->val.string.val, key->val.string.len);
	const char *const *marker;
	char	   *c;
	bool		secret = false;

	for (c = lower; *c != '\0'; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	for (marker = markers; *marker != NULL && !secret; marker++)
		secret = strstr(lower, *marker) != NULL;
	pfree(lower);
	return secret;
}

/* Skips the rest of a container whose BEGIN token was just read. */
static void
skip_container(JsonbIterator **iterator)
{
	JsonbValue	value;
	JsonbIteratorToken token;
	int			depth = 1;

	while (depth > 0)
	{
		token = JsonbIteratorNext(iterator, &value, false);
		if (token == WJB_BEGIN_ARRAY || token == WJB_BEGIN_OBJECT)
			depth++;
		else if (token == WJB_END_ARRAY || token == WJB_END_OBJECT)
			depth--;
	}
}

Jsonb *
ocpb_mask_secrets(Jsonb *storage)
{
	JsonbIterator *iterator = JsonbIteratorInit(&storage->root);
	JsonbParseState *state = NULL;
	JsonbValue	value;
	JsonbValue	marker;
	JsonbValue *result = NULL;
	JsonbIteratorToken token;
	bool		masking = false;
	bool		masked_any = false;

	marker.type = jbvString;
	marker.val.string.val = SECRET_MARKER;
	marker.val.string.len = strlen(SECRET_MARKER);
	while ((token = JsonbIteratorNext(&iterator, &value, false)) != WJB_DONE)
	{
		if (masking && token != WJB_VALUE)
		{
			/* The secret is an object or array: replace it whole. */
			skip_container(&iterator);
			token = WJB_VALUE;
		}
		if (masking)
		{
			result = pushJsonbValue(&state, WJB_VALUE, &marker);
			masking = false;
			masked_any = true;
			continue;
		}
		if (token == WJB_KEY)
			masking = is_secret_key(&value);
		result = pushJsonbValue(&state, token,
								token < WJB_BEGIN_ARRAY ? &value : NULL);
	}
	return masked_any ? JsonbValueToJsonb(result) : NULL;
}
