/*
 * journal.c - records every call that tried to reach OCP in
 * ocp_backup.invocation.
 *
 * The INSERT is planned once per backend and kept.  The row it writes is
 * part of the caller's transaction; spool.c makes it outlive a rollback.  It runs as the owner of
 * the journal, so that roles allowed to trigger backups get their calls
 * recorded without being able to write (or forge) journal rows themselves.
 */
#include "journal.h"

#include "spool.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#define SECRET_MARKER "********"

/* The journal row and one task row per task id, in one statement. */
#define INSERT_INVOCATION \
	"WITH journaled AS (" \
	" INSERT INTO ocp_backup.invocation (started_at, finished_at, invoked_by," \
	" server_name, cluster_id, backup_mode, data_mode, request, http_status," \
	" successful, task_ids, trace_id, error, response)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14::jsonb)" \
	" RETURNING id, to_jsonb(invocation)::text AS row_json)," \
	" tasks AS (" \
	" INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id)" \
	" SELECT DISTINCT t, j.id, $4, $5 FROM journaled j, unnest($11::bigint[]) t" \
	" ON CONFLICT (task_id) DO NOTHING)" \
	" SELECT id, row_json FROM journaled"
#define INSERT_ARGS 14

#define UPDATE_TASK \
	"UPDATE ocp_backup.task SET status = $2, subtasks_total = $3, subtasks_done = $4," \
	" failed_subtask = $5, finish_time = $6, last_checked_at = now(), last_error = NULL" \
	" WHERE task_id = $1"
#define UPDATE_TASK_ARGS 6

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr update_task_plan = NULL;

void
ocpb_journal_check_writable(const char *function_name)
{
	PreventCommandIfReadOnly(function_name);
	PreventCommandDuringRecovery(function_name);
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

static SPIPlanPtr
prepared_insert(void)
{
	static Oid	arg_types[INSERT_ARGS] = {
		TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
		TEXTOID, TEXTOID, INT4OID, BOOLOID, INT8ARRAYOID, TEXTOID, TEXTOID, TEXTOID
	};

	return kept_plan(&insert_plan, INSERT_INVOCATION, INSERT_ARGS, arg_types);
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
bind_invocation(const OcpbInvocation *invocation, const char *invoked_by,
				Datum *values, char *nulls)
{
	memset(nulls, ' ', INSERT_ARGS);
	values[0] = TimestampTzGetDatum(invocation->started_at);
	values[1] = TimestampTzGetDatum(invocation->finished_at);
	values[2] = CStringGetTextDatum(invoked_by);
	values[3] = CStringGetTextDatum(invocation->server_name);
	values[4] = Int64GetDatum(invocation->cluster_id);
	values[5] = CStringGetTextDatum(invocation->backup_mode);
	values[6] = CStringGetTextDatum(invocation->data_mode);
	values[7] = CStringGetTextDatum(invocation->request_json);
	values[8] = Int32GetDatum(invocation->http_status);
	nulls[8] = invocation->http_status == 0 ? 'n' : ' ';
	values[9] = BoolGetDatum(invocation->successful);
	values[10] = task_id_array(invocation->task_ids, invocation->n_task_ids);
	values[11] = text_or_null(invocation->trace_id, &nulls[11]);
	values[12] = text_or_null(invocation->error, &nulls[12]);
	values[13] = text_or_null(invocation->response_json, &nulls[13]);
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static Oid
journal_owner(void)
{
	Oid			namespace_id = get_namespace_oid("ocp_backup", false);
	Oid			relid = get_relname_relid("invocation", namespace_id);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the journal table ocp_backup.invocation does not exist"),
				 errhint("Reinstall the extension: DROP EXTENSION ocp_backup; CREATE EXTENSION ocp_backup;")));
	return relation_owner(relid);
}

static int64
run_insert(const OcpbInvocation *invocation, const char *invoked_by)
{
	Datum		values[INSERT_ARGS];
	char		nulls[INSERT_ARGS];
	bool		isnull;
	int			rc;
	int64		id;

	bind_invocation(invocation, invoked_by, values, nulls);
	rc = SPI_execute_plan(prepared_insert(), values, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not write the journal row: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									 1, &isnull));
	/* Kept until the caller's transaction ends, in case it rolls back. */
	ocpb_spool_remember(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	return id;
}

/*
 * Runs a journal statement as the journal's owner.  On error, the
 * (sub)transaction abort restores the user id, as it does for PostgreSQL's
 * own code that switches users this way.
 */
static void
begin_as_owner(Oid *saved_user, int *saved_context)
{
	GetUserIdAndSecContext(saved_user, saved_context);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI to write the journal");
	SetUserIdAndSecContext(journal_owner(),
						   *saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static void
end_as_owner(Oid saved_user, int saved_context)
{
	SetUserIdAndSecContext(saved_user, saved_context);
	SPI_finish();
}

int64
ocpb_journal_insert(const OcpbInvocation *invocation)
{
	Oid			saved_user;
	int			saved_context;
	int64		id;
	char	   *invoked_by = GetUserNameFromId(GetUserId(), false);

	begin_as_owner(&saved_user, &saved_context);
	id = run_insert(invocation, invoked_by);
	end_as_owner(saved_user, saved_context);
	return id;
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
