/*
 * journal.c - records every call that tried to reach OCP in
 * ocp_backup.invocation.
 *
 * A call's row is one JSON object keyed by column name, built in C: the
 * row spool.c logs on disk, and the argument of
 * ocp_backup.record_invocation, the SQL function that writes every journal
 * row and its task rows, a call's as the journal writer's: there is no
 * other way into the journal's tables.  The SQL writes run in the install
 * script's SECURITY DEFINER functions, looked up once and kept by OID,
 * whose search_path is pinned to pg_catalog, pg_temp: they run with the
 * journal owner's rights, so that roles allowed to trigger backups get
 * their calls recorded without being able to write (or forge) journal rows
 * themselves, and no name in them resolves through a search_path the caller
 * or the database's owner controls.  They are granted to nobody and called
 * through fmgr, which checks no EXECUTE privilege.
 *
 * The row's id is drawn, and made durable with the sequence's WAL, before
 * the row is logged and the request sent: a crash cannot hand it out again.
 * The complete row is logged as soon as the answer is read, before anything
 * else can fail.
 */
#include "journal.h"
#include "json_plain.h"

#include "spool.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "pg_compat.h"
#include "request.h"

#define SECRET_MARKER "********"

/* OCP's storage configurations hold a few; this bounds the scrubbing. */
#define MAX_SECRETS 256

/*
 * The journal's catalog facts, looked up once and forgotten when the
 * journal's relation or any function changes (the extension dropped and
 * created again, updated, a new owner).  The functions are kept as OIDs and
 * looked up for each call, so that a changed definition (its owner, its
 * settings) takes effect at once.
 */
typedef struct JournalCatalog
{
	bool		valid;
	Oid			journal;		/* ocp_backup.invocation */
	Oid			task_table;		/* ocp_backup.task */
	Oid			owner;			/* of the journal */
	Oid			id_sequence;	/* ocp_backup.invocation_id_seq */
	Oid			record_invocation;	/* ocp_backup.record_invocation */
	Oid			record_task_status; /* ocp_backup.record_task_status */
} JournalCatalog;

static JournalCatalog journal_catalog;
static bool journal_catalog_callbacks_registered = false;
/* Counts invalidations, so that one during a lookup is not lost. */
static uint64 journal_invalidations = 0;

void
ocpb_journal_check_writable(const char *function_name)
{
	PreventCommandIfReadOnly(function_name);
	PreventCommandDuringRecovery(function_name);
}

static void
forget_journal_catalog(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == journal_catalog.journal ||
		relid == journal_catalog.task_table)
	{
		journal_catalog.valid = false;
		journal_invalidations++;
	}
}

static void
forget_journal_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	journal_catalog.valid = false;
	journal_invalidations++;
}

static Oid
journal_relation(const char *name, Oid namespace_id)
{
	Oid			relid = get_relname_relid(name, namespace_id);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the journal relation ocp_backup.%s does not exist", name),
				 errhint("Update or reinstall the extension: ALTER EXTENSION ocp_backup UPDATE;")));
	return relid;
}

/*
 * A function found by its schema and exact argument types, InvalidOid if
 * there is none: no search_path takes part, and the caller needs no USAGE
 * on the schema.
 */
Oid
ocpb_function_in_schema(const char *name, Oid namespace_id, int nargs, const Oid *arg_types)
{
	HeapTuple	tuple;
	Oid			function;

	tuple = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum(name),
							PointerGetDatum(buildoidvector(arg_types, nargs)),
							ObjectIdGetDatum(namespace_id));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	function = ((Form_pg_proc) GETSTRUCT(tuple))->oid;
	ReleaseSysCache(tuple);
	return function;
}

static Oid
journal_function(const char *name, Oid namespace_id, int nargs, const Oid *arg_types)
{
	Oid			function = ocpb_function_in_schema(name, namespace_id, nargs, arg_types);

	if (!OidIsValid(function))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the journal function ocp_backup.%s does not exist", name),
				 errhint("Update the extension to the version of its library: ALTER EXTENSION ocp_backup UPDATE;")));
	return function;
}

Oid
ocpb_extension_function(const char *name, int nargs, const Oid *arg_types)
{
	return journal_function(name, get_namespace_oid("ocp_backup", false), nargs, arg_types);
}

/*
 * Objects are found by name: after DROP EXTENSION anyone may create a
 * schema ocp_backup and fill it, and the journal writer must not call what
 * is there with the journal owner's rights.
 */
static void
require_extension_member(Oid class_id, Oid object_id, const char *name)
{
	Oid			extension = get_extension_oid("ocp_backup", true);

	if (!OidIsValid(extension) || getExtensionOfObject(class_id, object_id) != extension)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("ocp_backup.%s is not the extension's own", name),
				 errhint("Update or reinstall the extension: ALTER EXTENSION ocp_backup UPDATE;")));
}

static JournalCatalog *
lookup_journal_catalog(void)
{
	static const Oid record_invocation_args[] = {JSONBOID};
	static const Oid record_task_status_args[] = {
		TEXTOID, INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID
	};
	Oid			namespace_id;
	HeapTuple	tuple;
	uint64		invalidations_before;

	if (journal_catalog.valid)
		return &journal_catalog;
	if (!journal_catalog_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(forget_journal_catalog, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, forget_journal_functions, (Datum) 0);
		journal_catalog_callbacks_registered = true;
	}
	invalidations_before = journal_invalidations;
	namespace_id = get_namespace_oid("ocp_backup", false);
	journal_catalog.journal = journal_relation("invocation", namespace_id);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(journal_catalog.journal));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", journal_catalog.journal);
	journal_catalog.owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	journal_catalog.id_sequence = journal_relation("invocation_id_seq", namespace_id);
	journal_catalog.task_table = journal_relation("task", namespace_id);
	journal_catalog.record_invocation =
		journal_function("record_invocation", namespace_id,
						 lengthof(record_invocation_args), record_invocation_args);
	journal_catalog.record_task_status =
		journal_function("record_task_status", namespace_id,
						 lengthof(record_task_status_args), record_task_status_args);
	require_extension_member(RelationRelationId, journal_catalog.journal, "invocation");
	require_extension_member(RelationRelationId, journal_catalog.id_sequence, "invocation_id_seq");
	require_extension_member(RelationRelationId, journal_catalog.task_table, "task");
	require_extension_member(ProcedureRelationId, journal_catalog.record_invocation,
							 "record_invocation");
	require_extension_member(ProcedureRelationId, journal_catalog.record_task_status,
							 "record_task_status");
	/* Good for this call; looked up again if something changed meanwhile. */
	journal_catalog.valid = journal_invalidations == invalidations_before;
	return &journal_catalog;
}

Oid
ocpb_journal_owner(void)
{
	return lookup_journal_catalog()->owner;
}

Oid
ocpb_journal_oid(void)
{
	return lookup_journal_catalog()->journal;
}

bool
ocpb_journal_record_jsonb(Jsonb *row)
{
	return DatumGetBool(OidFunctionCall1(lookup_journal_catalog()->record_invocation,
										 JsonbPGetDatum(row)));
}

/* The sequence's last value; false when it has handed out none. */
static bool
sequence_last_value(Oid sequence, int64 *last)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		value;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(sequence);
	fcinfo->args[0].isnull = false;
	value = pg_sequence_last_value(fcinfo);
	if (fcinfo->isnull)
		return false;
	*last = DatumGetInt64(value);
	return true;
}

/*
 * The ids this writer moved the sequence over by adopting rows: none of
 * them was handed out as long as the sequence still stands where the
 * writer left it.  Rows come newest first, so the first adopted moves the
 * sequence past the others of its log.
 */
typedef struct AdoptedIds
{
	Oid			sequence;
	int64		floor;			/* the sequence's last value before */
	int64		top;			/* where the writer left it */
} AdoptedIds;

static AdoptedIds adopted;

void
ocpb_journal_adopt_row(Jsonb *row, int64 id)
{
	JournalCatalog *catalog = lookup_journal_catalog();
	int64		last = 0;
	int64		floor;

	/*
	 * nextval takes RowExclusiveLock, which this conflicts with: no id is
	 * handed out between the look and the move.
	 */
	LockRelationOid(catalog->id_sequence, ShareLock);
	(void) sequence_last_value(catalog->id_sequence, &last);
	floor = adopted.sequence == catalog->id_sequence && adopted.top == last ?
		adopted.floor : last;
	if (id <= floor)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("the row's journal was dropped, and its id " INT64_FORMAT " may belong to a call of the new journal",
						id),
				 errdetail("The new journal has handed out ids up to " INT64_FORMAT ".", floor)));
	if (id > last)
	{
		(void) DirectFunctionCall2(setval_oid, ObjectIdGetDatum(catalog->id_sequence),
								   Int64GetDatum(id));
		adopted.sequence = catalog->id_sequence;
		adopted.floor = floor;
		adopted.top = id;
	}
	(void) ocpb_journal_record_jsonb(row);
}

/*
 * The row is written twice per call (before sending, and with the answer):
 * its pieces are appended without format strings.
 */
static void
append_key(StringInfo row, const char *key)
{
	if (row->len > 1)
		appendBinaryStringInfo(row, ", ", 2);
	appendStringInfoChar(row, '"');
	appendStringInfoString(row, key);
	appendBinaryStringInfo(row, "\": ", 3);
}

static void
append_int64(StringInfo row, int64 value)
{
	char		digits[MAXINT8LEN + 1];

	appendBinaryStringInfo(row, digits, pg_lltoa(value, digits));
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
	appendStringInfoChar(row, '"');
	appendStringInfoString(row, text);
	appendStringInfoChar(row, '"');
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
	append_int64(&row, invocation->id);
	/* Which journal the id is of: the extension may be created again. */
	append_key(&row, "journal");
	append_int64(&row, lookup_journal_catalog()->journal);
	append_timestamp_field(&row, "started_at", invocation->started_at);
	append_timestamp_field(&row, "finished_at", invocation->finished_at);
	append_text_field(&row, "invoked_by", invocation->invoked_by);
	append_text_field(&row, "server_name", invocation->server_name);
	append_key(&row, "cluster_id");
	append_int64(&row, invocation->cluster_id);
	append_text_field(&row, "backup_mode", invocation->backup_mode);
	append_text_field(&row, "data_mode", invocation->data_mode);
	append_json_field(&row, "request", invocation->request_json);
	if (invocation->http_status != 0)
	{
		append_key(&row, "http_status");
		append_int64(&row, invocation->http_status);
	}
	append_key(&row, "successful");
	appendStringInfoString(&row, invocation->successful ? "true" : "false");
	append_key(&row, "task_ids");
	appendStringInfoChar(&row, '[');
	for (i = 0; i < invocation->n_task_ids; i++)
	{
		if (i > 0)
			appendBinaryStringInfo(&row, ", ", 2);
		append_int64(&row, invocation->task_ids[i]);
	}
	appendStringInfoChar(&row, ']');
	append_text_field(&row, "trace_id", invocation->trace_id);
	append_text_field(&row, "error", invocation->error);
	/* A string: a JSON value would lose its exact text on the way. */
	append_text_field(&row, "response_text", invocation->response_text);
	if (invocation->tenant_id != 0)
	{
		append_key(&row, "tenant_id");
		append_int64(&row, invocation->tenant_id);
	}
	append_key(&row, "outcome_unknown");
	appendStringInfoString(&row, invocation->outcome_unknown ? "true" : "false");
	append_text_field(&row, "ocp_account", invocation->ocp_account);
	append_text_field(&row, "application_name", invocation->application_name);
	if (invocation->backend_pid != 0)
	{
		append_key(&row, "backend_pid");
		append_int64(&row, invocation->backend_pid);
	}
	appendStringInfoChar(&row, '}');
	return row.data;
}

void
ocpb_journal_set_caller(OcpbInvocation *invocation)
{
	if (application_name != NULL && application_name[0] != '\0')
		invocation->application_name = pstrdup(application_name);
	else if (MyBgworkerEntry != NULL && MyBgworkerEntry->bgw_type[0] != '\0')
		invocation->application_name = pstrdup(MyBgworkerEntry->bgw_type);
	else
		invocation->application_name = NULL;
	invocation->backend_pid = MyProcPid;
}

/*
 * An id handed out must survive a crash, or another call gets it: nextval
 * WAL-logs a batch of ids ahead, not always in this transaction (a nextval
 * in SQL may have), and flushes nothing.  The sequence page's LSN is that
 * of its last record.
 */
static void
flush_sequence_wal(Oid sequence)
{
	Relation	relation = relation_open(sequence, AccessShareLock);
	Buffer		buffer = ReadBuffer(relation, 0);
	XLogRecPtr	lsn;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	lsn = PageGetLSN(BufferGetPage(buffer));
	UnlockReleaseBuffer(buffer);
	relation_close(relation, AccessShareLock);
	XLogFlush(lsn);
}

void
ocpb_journal_call_in_flight(OcpbInvocation *invocation)
{
	OcpbInvocation interrupted;

	invocation->id = nextval_internal(lookup_journal_catalog()->id_sequence, false);
	flush_sequence_wal(lookup_journal_catalog()->id_sequence);
	interrupted = *invocation;

	interrupted.finished_at = invocation->started_at;
	interrupted.http_status = 0;
	interrupted.successful = false;
	interrupted.n_task_ids = 0;
	interrupted.trace_id = NULL;
	interrupted.response_text = NULL;
	interrupted.outcome_unknown = true;
	interrupted.error = "the call ended before OCP's answer was read "
		"(a cancel, statement_timeout, the backend's exit or a crash); "
		"the request may have reached OCP: look in OCP for a task it may have started";
	ocpb_spool_call_leaving(row_json(&interrupted));
}

/*
 * The row and its task rows written by the SQL writer, from the row the
 * call log holds; false when a row of its id is there already.
 */
static bool
insert_call(const char *row)
{
	return ocpb_journal_record_jsonb(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																		CStringGetDatum(row))));
}

void
ocpb_journal_record_call(const OcpbInvocation *invocation, bool insert)
{
	char	   *row = row_json(invocation);

	ocpb_spool_call_answered(row);
	/* A row there already came from the log: it still needs the writer. */
	if (insert && insert_call(row))
		ocpb_spool_call_inserted();
	pfree(row);
}

/*
 * Whether PostgreSQL takes a JSON text that cJSON read, checked with
 * PostgreSQL's own JSON parser, which returns errors instead of raising
 * them: json_in and jsonb_in would raise on what cJSON accepts and
 * PostgreSQL does not ("01", "+1", "1."), jsonb_in also on numbers numeric
 * refuses.  An answer the journal cannot store must not make its write fail.
 */

/* numeric refuses exponents beyond about 131072 digits; OCP sends none. */
#define MAX_NUMBER_CHARS 1000

static bool
number_numeric_takes(const char *token)
{
	const char *exponent = strpbrk(token, "eE");

	return strlen(token) <= MAX_NUMBER_CHARS &&
		(exponent == NULL || labs(strtol(exponent + 1, NULL, 10)) <= MAX_NUMBER_CHARS);
}

static OCPB_JSON_ACTION
check_answer_scalar(void *arg, char *token, JsonTokenType type)
{
	bool	   *refused = arg;

	if (type == JSON_TOKEN_NUMBER && !number_numeric_takes(token))
		*refused = true;
	return OCPB_JSON_ACTION_DONE;
}

/* Whether PostgreSQL's JSON parser takes the text, and numeric its numbers. */
static bool
json_parses(const char *body, size_t body_len, bool check_numbers)
{
	JsonSemAction actions;
	JsonLexContext *lex;
	bool		refused = false;
	bool		parsed;

	memset(&actions, 0, sizeof(actions));
	actions.semstate = &refused;
	if (check_numbers)
		actions.scalar = check_answer_scalar;
	lex = ocpb_json_lex_cstring(body, body_len, GetDatabaseEncoding(), true);
	parsed = pg_parse_json(lex, &actions) == JSON_SUCCESS;
	ocpb_json_lex_free(lex);
	return parsed && !refused;
}

bool
ocpb_jsonb_takes(const char *body, size_t body_len)
{
	return json_parses(body, body_len, true);
}

/*
 * json keeps the text as it is: it only has to be JSON, in the database's
 * encoding (OCP's bytes were not converted), without NUL bytes.  A plain
 * answer (json_plain.h), as nearly all are, needs no run of PostgreSQL's
 * parser: the one pass costs about a third of it.
 */
static bool
json_takes(const char *body, size_t body_len)
{
	return memchr(body, '\0', body_len) == NULL &&
		pg_verifymbstr(body, (int) body_len, true) &&
		(ocpb_json_is_plain(body, body_len) || json_parses(body, body_len, false));
}

void
ocpb_journal_set_response(OcpbInvocation *invocation, const char *body,
						  size_t body_len, bool is_json)
{
	invocation->response_text = is_json && json_takes(body, body_len) ?
		pnstrdup(body, body_len) : NULL;
}

/*
 * The request as the journal keeps it: the body sent, with the secrets of
 * the storage object masked.
 */
void
ocpb_journal_set_request(OcpbInvocation *invocation, Jsonb *storage,
						 const char *body_sent, OcpbSecretList *secrets)
{
	Jsonb	   *masked = ocpb_mask_secrets(storage, secrets);
	OcpbBackupNowRequest request;
	size_t		len;
	char	   *body;

	invocation->request_json = body_sent;
	if (masked == NULL)
		return;
	request.cluster_id = invocation->cluster_id;
	request.tenant_id = invocation->tenant_id;
	request.backup_mode = invocation->backup_mode;
	request.data_mode = invocation->data_mode;
	request.storage_json = JsonbToCString(NULL, &masked->root, VARSIZE(masked));
	body = ocpb_backup_now_body(&request, &len);
	if (body == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	invocation->request_json = pnstrdup(body, len);
	free(body);
}

void
ocpb_journal_task_status(const OcpbTaskStatus *task)
{
	LOCAL_FCINFO(fcinfo, 7);
	FmgrInfo	record_task_status;

	fmgr_info(lookup_journal_catalog()->record_task_status, &record_task_status);
	InitFunctionCallInfoData(*fcinfo, &record_task_status, 7, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = CStringGetTextDatum(task->server_name);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = Int64GetDatum(task->task_id);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = task->status ? CStringGetTextDatum(task->status) : (Datum) 0;
	fcinfo->args[2].isnull = task->status == NULL;
	fcinfo->args[3].value = Int32GetDatum(task->subtasks_total);
	fcinfo->args[3].isnull = false;
	fcinfo->args[4].value = Int32GetDatum(task->subtasks_done);
	fcinfo->args[4].isnull = false;
	fcinfo->args[5].value = task->failed_subtask ? CStringGetTextDatum(task->failed_subtask) : (Datum) 0;
	fcinfo->args[5].isnull = task->failed_subtask == NULL;
	fcinfo->args[6].value = TimestampTzGetDatum(task->finish_time);
	fcinfo->args[6].isnull = !task->has_finish_time;
	(void) FunctionCallInvoke(fcinfo);
}

/*
 * Adds a masked value to the values to scrub from OCP's answer, as OCP
 * received it: in UTF-8.  A value that is not text of the database encoding
 * (the %XX-decoded form of a URL's part) is already what went on the wire;
 * converting it could raise, with its bytes in the message.
 */
static void
remember_secret_text(OcpbSecretList *secrets, const char *text)
{
	int			len = (int) strlen(text);
	const char *wire = text;

	/* Each is looked for at every byte of OCP's answer. */
	if (secrets->n >= MAX_SECRETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage object holds too many secret values"),
				 errdetail("It holds more than %d values under secret keys or in the credentials of URLs.",
						   MAX_SECRETS)));

	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII &&
		pg_verifymbstr(text, len, true))
		wire = pg_server_to_any(text, len, PG_UTF8);
	if (!ocpb_secret_list_add(secrets, wire, strlen(wire)))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

static void
remember_secret(OcpbSecretList *secrets, const JsonbValue *value)
{
	if (value->type == jbvString)
		remember_secret_text(secrets, pnstrdup(value->val.string.val, value->val.string.len));
	else if (value->type == jbvNumeric)
		remember_secret_text(secrets,
							 DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(value->val.numeric))));
}

/* Reads the rest of a secret container, remembering each scalar in it. */
static void
remember_container(JsonbIterator **iterator, OcpbSecretList *secrets)
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
		else if (token == WJB_VALUE || token == WJB_ELEM)
			remember_secret(secrets, &value);
	}
}

/* Whether a key names a URL: it ends in "url" or "uri" (storageUrl, backupUri). */
static bool
is_url_key(const JsonbValue *key)
{
	return key->val.string.len >= 3 &&
		(pg_strncasecmp(key->val.string.val + key->val.string.len - 3, "url", 3) == 0 ||
		 pg_strncasecmp(key->val.string.val + key->val.string.len - 3, "uri", 3) == 0);
}

/*
 * A URL value with its credentials (a password in its userinfo, keys in
 * its query) masked; false when it has none.
 */
static bool
mask_url(JsonbValue *value, OcpbSecretList *secrets)
{
	char	   *url = pnstrdup(value->val.string.val, value->val.string.len);
	OcpbSecretList found = {0};
	bool		masked_any;
	char	   *masked = ocpb_mask_url_credentials(url, &found, &masked_any);
	size_t		i;

	if (masked == NULL)
	{
		ocpb_secret_list_free(&found);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (masked_any)
	{
		value->val.string.val = pstrdup(masked);
		value->val.string.len = strlen(masked);
	}
	free(masked);
	PG_TRY();
	{
		for (i = 0; i < found.n; i++)
			remember_secret_text(secrets, found.values[i]);
	}
	PG_FINALLY();
	{
		ocpb_secret_list_free(&found);
	}
	PG_END_TRY();
	return masked_any;
}

/*
 * Object-store credentials travel in the storage object under names that
 * vary with the store and the OCP version: the value of any key that names
 * a secret is masked, at any depth, and so are the credentials of URLs.
 * Each masked value is added to secrets, to be scrubbed from OCP's answer,
 * which may echo it.
 */
Jsonb *
ocpb_mask_secrets(Jsonb *storage, OcpbSecretList *secrets)
{
	JsonbIterator *iterator = JsonbIteratorInit(&storage->root);
	JsonbParseState *state = NULL;
	JsonbValue	value;
	JsonbValue	marker;
	JsonbValue *result = NULL;
	JsonbIteratorToken token;
	bool		masking = false;
	bool		url = false;
	bool		masked_any = false;

	marker.type = jbvString;
	marker.val.string.val = SECRET_MARKER;
	marker.val.string.len = strlen(SECRET_MARKER);
	while ((token = JsonbIteratorNext(&iterator, &value, false)) != WJB_DONE)
	{
		if (masking)
		{
			/* A secret object or array is replaced whole. */
			if (token != WJB_VALUE)
				remember_container(&iterator, secrets);
			else
				remember_secret(secrets, &value);
			result = pushJsonbValue(&state, WJB_VALUE, &marker);
			masking = false;
			masked_any = true;
			continue;
		}
		if (url && token == WJB_VALUE && value.type == jbvString && mask_url(&value, secrets))
			masked_any = true;
		url = false;
		if (token == WJB_KEY)
		{
			masking = ocpb_is_secret_key(value.val.string.val, value.val.string.len);
			url = is_url_key(&value);
		}
		result = pushJsonbValue(&state, token,
								token < WJB_BEGIN_ARRAY ? &value : NULL);
	}
	return masked_any ? JsonbValueToJsonb(result) : NULL;
}
