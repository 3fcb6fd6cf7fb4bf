/*
 * ocp_backup.c - the SQL-callable entry points and module set-up.
 *
 * Kept thin: the arguments are checked here, and the call is made by
 * call.c, through a file per stage (endpoint, request, http, response,
 * report, journal, rows).
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "args.h"
#include "call.h"
#include "connection.h"
#include "endpoint.h"
#include "http.h"
#include "journal.h"
#include "scrub.h"
#include "call_log.h"

#if PG_VERSION_NUM >= 180000
PG_MODULE_MAGIC_EXT(.name = "ocp_backup", .version = OCPB_VERSION);
#else
PG_MODULE_MAGIC;
#endif

PG_FUNCTION_INFO_V1(ocp_backup_now);
PG_FUNCTION_INFO_V1(ocp_backup_now_clusters);
PG_FUNCTION_INFO_V1(ocp_backup_now_on_failure);
PG_FUNCTION_INFO_V1(ocp_backup_now_clusters_on_failure);

void		_PG_init(void);

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * The statement (client message) that last passed ocp_backup_now a storage
 * object holding secrets, by its start and its transaction's start; both 0
 * when none did.
 */
static TimestampTz secret_statement_start = 0;
static TimestampTz secret_statement_xact_start = 0;

static void
remember_secret_statement(void)
{
	secret_statement_start = GetCurrentStatementStartTimestamp();
	secret_statement_xact_start = GetCurrentTransactionStartTimestamp();
}

/*
 * Whether edata is PostgreSQL's debug line of a search of
 * dynamic_library_path for this library: 'find_in_path: trying
 * ".../ocp_backup"' (PostgreSQL 18, which searches the path for every
 * "$libdir/" name) or 'find_in_dynamic_libpath: trying ".../ocp_backup.so"'
 * (15 to 17, for a bare name).  The first call of each of the library's C
 * functions in a session logs it, as its function is looked up, before any
 * of this library's code runs, and under the statement being set up: a
 * PL/pgSQL EXECUTE's or SPI's statement is its CONTEXT ("SQL statement
 * ..."), with the storage object as written.
 */
static bool
is_library_lookup(const ErrorData *edata)
{
	static const char name[] = "ocp_backup";
	const char *base;

	if (edata->elevel > DEBUG1 || edata->funcname == NULL || edata->message == NULL ||
		(strcmp(edata->funcname, "find_in_path") != 0 &&
		 strcmp(edata->funcname, "find_in_dynamic_libpath") != 0))
		return false;
	/* The candidate's file name, after the last '/': ocp_backup" or ocp_backup.so" */
	base = strrchr(edata->message, '/');
	if (base == NULL || strncmp(base + 1, name, sizeof(name) - 1) != 0)
		return false;
	base += sizeof(name);
	return base[0] == '"' || (base[0] == '.' && strchr(base, '"') != NULL);
}

/*
 * The text of a statement that passed a storage object with secrets is
 * never logged with an error or warning (log_min_error_statement), even one
 * raised after ocp_backup_now returned: a division by zero later in the
 * same SELECT, a statement_timeout during a pg_sleep beside it, a trigger,
 * an error caught in PL/pgSQL and another raised after it; nor with its
 * context, which holds the text of an EXECUTE'd statement.  What is raised
 * within the call is hidden by its error context (call_with_secrets); this
 * covers the rest of the statement.  The statement's text is still what
 * log_statement and log_min_duration_statement write (README.md).
 */
static void
hide_secret_statement(ErrorData *edata)
{
	if (secret_statement_start != 0 &&
		secret_statement_start == GetCurrentStatementStartTimestamp() &&
		secret_statement_xact_start == GetCurrentTransactionStartTimestamp())
	{
		edata->hide_stmt = true;
		edata->hide_ctx = true;
	}

	/*
	 * A lookup of this library is logged with the statement that calls it,
	 * which may spell out a storage object's secrets, and says nothing the
	 * statement adds to: it is logged without its context and statement.
	 * Only once the library is loaded (shared_preload_libraries, or an
	 * earlier call of the session) can this hook see it (README.md).
	 */
	if (is_library_lookup(edata))
	{
		edata->hide_ctx = true;
		edata->hide_stmt = true;
	}
	if (prev_emit_log_hook != NULL)
		prev_emit_log_hook(edata);
}

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
	ocpb_connection_init();
	ocpb_call_log_init();
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = hide_secret_statement;
}

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

/*
 * backup_mode, data_mode and storage (arguments 1 to 3 of every form) and
 * server: argument 4 of 1.1's forms, 5 of those that take on_failure.
 */
static void
read_backup_args(FunctionCallInfo fcinfo, OcpbBackupNowArgs *args, int server_arg)
{
	require_argument(fcinfo, 1, "backup_mode");
	require_argument(fcinfo, 2, "data_mode");
	require_argument(fcinfo, 3, "storage");
	args->backup_mode = text_to_cstring(PG_GETARG_TEXT_PP(1));
	args->data_mode = text_to_cstring(PG_GETARG_TEXT_PP(2));
	args->storage = PG_GETARG_JSONB_P(3);
	args->server = PG_ARGISNULL(server_arg) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(server_arg));
	check_mode("backup_mode", args->backup_mode,
			   ocpb_is_backup_mode(args->backup_mode), OCPB_BACKUP_MODES);
	check_mode("data_mode", args->data_mode,
			   ocpb_is_data_mode(args->data_mode), OCPB_DATA_MODES);
	check_storage_bounds(args->storage);
	args->storage_json = JsonbToCString(NULL, &args->storage->root,
										VARSIZE(args->storage));
	check_storage(args->storage_json);
}

static void
check_cluster_id(int64 cluster_id)
{
	if (cluster_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cluster_id must be positive, not " INT64_FORMAT, cluster_id)));
}

/*
 * The single form's arguments, server and tenant_id where the form has
 * them (a database not yet updated from 1.0 declares no tenant_id).
 */
static void
read_backup_now_args(FunctionCallInfo fcinfo, OcpbBackupNowArgs *args, int server_arg,
					 int tenant_arg)
{
	bool		has_tenant = PG_NARGS() > tenant_arg && !PG_ARGISNULL(tenant_arg);

	require_argument(fcinfo, 0, "cluster_id");
	args->cluster_id = PG_GETARG_INT64(0);
	args->tenant_id = has_tenant ? PG_GETARG_INT64(tenant_arg) : 0;
	check_cluster_id(args->cluster_id);
	if (has_tenant && args->tenant_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant_id must be positive, not " INT64_FORMAT, args->tenant_id),
				 errhint("Pass NULL to back up the whole cluster.")));
	read_backup_args(fcinfo, args, server_arg);
}

/*
 * on_failure, argument 4 of the forms that take it: an ocp_backup_on_failure
 * value, 'warning' or 'error'.
 */
static bool
read_error_on_failure(FunctionCallInfo fcinfo)
{
	char	   *label;

	require_argument(fcinfo, 4, "on_failure");
	label = DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(4)));
	return strcmp(label, "error") == 0;
}

/*
 * The distinct cluster ids of the array, in their first order: each is
 * backed up once, however often it is listed.  A NULL or non-positive
 * element is a bad argument, refused before anything is sent.
 */
static int64 *
read_cluster_ids(ArrayType *array, int *n_distinct)
{
	Datum	   *elements;
	bool	   *nulls;
	int			n;
	int			i;
	int			kept = 0;
	int64	   *ids;
	HTAB	   *seen;
	HASHCTL		ctl;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("cluster_ids must be a one-dimensional array")));
	deconstruct_array(array, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE,
					  &elements, &nulls, &n);
	ids = palloc(sizeof(int64) * Max(n, 1));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(int64);
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("ocp_backup cluster ids", Max(n, 1), &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < n; i++)
	{
		int64		id;
		bool		found;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("cluster_ids must not hold NULL"),
					 errdetail("Element %d is NULL.", i + 1)));
		id = DatumGetInt64(elements[i]);
		check_cluster_id(id);
		(void) hash_search(seen, &id, HASH_ENTER, &found);
		if (!found)
			ids[kept++] = id;
	}
	hash_destroy(seen);
	*n_distinct = kept;
	return ids;
}

/*
 * The statement that called ocp_backup_now holds the storage object as the
 * caller wrote it: once secrets are found in it, no error or warning of the
 * call may log that statement (log_min_error_statement), nor its context,
 * which holds the statement too when the call is a PL/pgSQL EXECUTE's or
 * another SPI statement ("SQL statement ...").
 */
static void
hide_statement_with_secrets(void *arg)
{
	const OcpbSecretList *secrets = arg;

	if (secrets->n > 0)
	{
		errhidestmt(true);
		errhidecontext(true);
	}
}

/*
 * Makes the call (cluster_ids NULL) or the calls for each of cluster_ids,
 * with the error context that hides the statement once secrets are found,
 * and frees the secrets (malloc'd) on every path.
 */
static void
call_with_secrets(FunctionCallInfo fcinfo, const OcpbBackupNowArgs *args,
				  const int64 *cluster_ids, int n)
{
	OcpbSecretList *secrets = palloc0(sizeof(OcpbSecretList));
	ErrorContextCallback hide_statement;

	ocpb_journal_check_writable("ocp_backup_now()");
	ocpb_call_log_flush_leftovers();
	hide_statement.callback = hide_statement_with_secrets;
	hide_statement.arg = secrets;
	hide_statement.previous = error_context_stack;
	error_context_stack = &hide_statement;
	PG_TRY();
	{
		if (cluster_ids == NULL)
			ocpb_call_backup_now(fcinfo, args, secrets);
		else
			ocpb_call_backup_now_many(fcinfo, args, cluster_ids, n, secrets);
	}
	PG_FINALLY();
	{
		if (secrets->n > 0)
			remember_secret_statement();
		ocpb_secret_list_free(secrets);
	}
	PG_END_TRY();
	error_context_stack = hide_statement.previous;
}

Datum
ocp_backup_now(PG_FUNCTION_ARGS)
{
	OcpbBackupNowArgs args;

	memset(&args, 0, sizeof(args));
	read_backup_now_args(fcinfo, &args, 4, 5);
	call_with_secrets(fcinfo, &args, NULL, 0);
	return (Datum) 0;
}

/* ocp_backup_now(cluster_id, backup_mode, data_mode, storage, on_failure, tenant_id, server) */
Datum
ocp_backup_now_on_failure(PG_FUNCTION_ARGS)
{
	OcpbBackupNowArgs args;

	memset(&args, 0, sizeof(args));
	args.error_on_failure = read_error_on_failure(fcinfo);
	read_backup_now_args(fcinfo, &args, 6, 5);
	call_with_secrets(fcinfo, &args, NULL, 0);
	return (Datum) 0;
}

static Datum
backup_now_clusters(FunctionCallInfo fcinfo, bool error_on_failure, int server_arg)
{
	OcpbBackupNowArgs args;
	int64	   *cluster_ids;
	int			n;

	require_argument(fcinfo, 0, "cluster_ids");
	cluster_ids = read_cluster_ids(PG_GETARG_ARRAYTYPE_P(0), &n);
	memset(&args, 0, sizeof(args));
	args.error_on_failure = error_on_failure;
	read_backup_args(fcinfo, &args, server_arg);
	call_with_secrets(fcinfo, &args, cluster_ids, n);
	return (Datum) 0;
}

Datum
ocp_backup_now_clusters(PG_FUNCTION_ARGS)
{
	return backup_now_clusters(fcinfo, false, 4);
}

/* ocp_backup_now(cluster_ids, backup_mode, data_mode, storage, on_failure, server) */
Datum
ocp_backup_now_clusters_on_failure(PG_FUNCTION_ARGS)
{
	return backup_now_clusters(fcinfo, read_error_on_failure(fcinfo), 5);
}
