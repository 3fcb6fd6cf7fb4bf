/*
 * refresh.c - ocp_backup_read_tasks: the reads of ocp_backup_refresh, many
 * tasks at once over many servers, at most each server's max_parallel in
 * flight per server.
 *
 * Each task read has its status recorded in its ocp_backup.task row, as
 * ocp_backup_task records it; a task that could not be read gives its
 * error in its result row, and the others go on.  A 429 pauses its server
 * until RateLimit-Reset: that server's tasks not yet read are left, and
 * said to be, for the next run.  The right to read tasks in bulk is the
 * right to read one: EXECUTE on ocp_backup_task.
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "endpoint.h"
#include "http.h"
#include "catalog.h"
#include "journal.h"
#include "report.h"
#include "request.h"
#include "pg_compat.h"
#include "response.h"
#include "call_log.h"
#include "subxact.h"
#include "task.h"

PG_FUNCTION_INFO_V1(ocp_backup_read_tasks);

typedef enum ReadColumn
{
	COL_SERVER_NAME,
	COL_TASK_ID,
	COL_STATUS,
	COL_ERROR,
	COL_POSTPONED,
	READ_COLUMNS
} ReadColumn;

/* A server the tasks name, resolved once, or why it cannot be used. */
typedef struct ServerOfTasks
{
	char	   *name;
	OcpbEndpoint *endpoint;		/* NULL when it cannot be used */
	char	   *problem;		/* why, then */
	int			throttled;		/* its tasks left by a 429 */
	bool		answered_429;	/* in this run, not only before */
	int			rate_limit_reset;	/* seconds, -1 if OCP did not say */
} ServerOfTasks;

typedef struct TaskRead
{
	int64		task_id;
	ServerOfTasks *server;
	char		path[OCPB_PATH_SIZE];
	char	   *status;			/* as read; NULL when not read */
	char	   *error;			/* why it could not be read; NULL if read */
	bool		throttled;		/* answered 429: left for the next run */
} TaskRead;

/* The caller may run ocp_backup_task, the function of this extension. */
static void
check_right_to_read_tasks(FunctionCallInfo fcinfo)
{
	const Oid	arg_types[] = {INT8OID, TEXTOID};
	Oid			task_function = ocpb_function_in_schema("ocp_backup_task",
														get_func_namespace(fcinfo->flinfo->fn_oid),
														lengthof(arg_types), arg_types);

	if (!OidIsValid(task_function))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function ocp_backup_task(bigint, text) does not exist beside ocp_backup_read_tasks"),
				 errhint("Update the extension to the version of its library: ALTER EXTENSION ocp_backup UPDATE;")));
	if (pg_proc_aclcheck(task_function, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function ocp_backup_task"),
				 errdetail("Reading tasks in bulk takes the right to read one."),
				 errhint("A superuser can run: GRANT EXECUTE ON FUNCTION ocp_backup_task(bigint, text) TO %s;",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

static void
resolve_server(void *arg)
{
	ServerOfTasks *server = arg;

	server->endpoint = ocpb_resolve_endpoint(server->name, true);
}

/* The server of that name among those seen, resolved when first seen. */
static ServerOfTasks *
server_named(List **servers, const char *name)
{
	ListCell   *cell;
	ServerOfTasks *server;
	ErrorData  *error;

	foreach(cell, *servers)
	{
		server = lfirst(cell);
		if (strcmp(server->name, name) == 0)
			return server;
	}
	server = palloc0(sizeof(ServerOfTasks));
	server->name = pstrdup(name);
	server->rate_limit_reset = -1;
	/* A server gone, or not usable by the caller, fails its tasks only. */
	error = ocpb_try_in_subtransaction(resolve_server, server);
	if (error != NULL)
	{
		server->endpoint = NULL;
		server->problem = pstrdup(error->message);
		FreeErrorData(error);
	}
	*servers = lappend(*servers, server);
	return server;
}

/* The pairs (server_names[i], task_ids[i]), checked. */
static TaskRead *
read_arguments(FunctionCallInfo fcinfo, List **servers, int *n_reads)
{
	Datum	   *names;
	bool	   *name_nulls;
	Datum	   *ids;
	bool	   *id_nulls;
	int			n_names;
	int			n_ids;
	int			i;
	TaskRead   *reads;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server_names and task_ids must not be NULL")));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &names, &name_nulls, &n_names);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), INT8OID, sizeof(int64), true,
					  TYPALIGN_DOUBLE, &ids, &id_nulls, &n_ids);
	if (n_names != n_ids)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("server_names and task_ids must have as many elements"),
				 errdetail("server_names has %d, task_ids %d.", n_names, n_ids)));
	reads = palloc0(sizeof(TaskRead) * Max(n_ids, 1));
	for (i = 0; i < n_ids; i++)
	{
		if (name_nulls[i] || id_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("server_names and task_ids must not hold NULL"),
					 errdetail("Element %d is NULL.", i + 1)));
		reads[i].task_id = DatumGetInt64(ids[i]);
		if (reads[i].task_id <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("task_id must be positive, not " INT64_FORMAT, reads[i].task_id)));
		reads[i].server = server_named(servers, TextDatumGetCString(names[i]));
	}
	*n_reads = n_ids;
	return reads;
}

/*
 * Each answer is classified, and a task read has its status recorded, in
 * memory of its own (arg), reset after each answer; what the result row
 * needs is copied out.
 */
static void
task_answered(OcpbExchange *exchange, void *arg)
{
	MemoryContext answer_context = arg;
	MemoryContext caller_context = MemoryContextSwitchTo(answer_context);
	TaskRead   *read = exchange->arg;
	const OcpbEndpoint *endpoint = exchange->endpoint;
	OcpbHttpResult *http = &exchange->result;
	OcpbCallSubject subject;
	OcpbFailure failure;
	OcpbTaskInfo task;

	if (http->status == 429)
	{
		read->throttled = true;
		read->server->throttled++;
		read->server->answered_429 = true;
		read->server->rate_limit_reset = http->rate_limit_reset;
		MemoryContextSwitchTo(caller_context);
		return;
	}
	if (!ocpb_parse_task_response(http->body, http->body_len, &task))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		subject.action = psprintf("read task " INT64_FORMAT, read->task_id);
		subject.object = psprintf("task " INT64_FORMAT, read->task_id);
		if (ocpb_exchange_failed(endpoint, &subject, http, &task.envelope, &failure))
			read->error = MemoryContextStrdup(caller_context, failure.message);
		else
		{
			ocpb_task_record_status(endpoint, read->task_id, &task);
			read->status = task.status ? MemoryContextStrdup(caller_context, task.status) : NULL;
		}
	}
	PG_FINALLY();
	{
		ocpb_task_info_free(&task);
	}
	PG_END_TRY();
	pfree(http->body);
	http->body = NULL;
	MemoryContextSwitchTo(caller_context);
	MemoryContextReset(answer_context);
}

/* The exchanges for the tasks of usable servers, in the order given. */
static OcpbExchange *
task_exchanges(TaskRead *reads, int n_reads, int *n_exchanges)
{
	OcpbExchange *exchanges = palloc0(sizeof(OcpbExchange) * Max(n_reads, 1));
	int			n = 0;
	int			i;

	for (i = 0; i < n_reads; i++)
	{
		TaskRead   *read = &reads[i];

		if (read->server->endpoint == NULL)
		{
			read->error = read->server->problem;
			continue;
		}
		ocpb_task_path(read->task_id, read->path);
		exchanges[n].endpoint = read->server->endpoint;
		exchanges[n].request.method = "GET";
		exchanges[n].request.path = read->path;
		exchanges[n].arg = read;
		n++;
	}
	*n_exchanges = n;
	return exchanges;
}

static void
warn_throttled(List *servers)
{
	ListCell   *cell;

	foreach(cell, servers)
	{
		ServerOfTasks *server = lfirst(cell);

		if (server->throttled == 0)
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("OCP server \"%s\" is throttling requests", server->name),
				 errdetail("%d of its tasks were left for the next run.", server->throttled),
				 !server->answered_429 ?
				 errhint("It answered 429 before, and its RateLimit-Reset has not passed; the other servers went on.") :
				 server->rate_limit_reset >= 0 ?
				 errhint("It asked for a pause of %d seconds (RateLimit-Reset); the other servers went on.",
						 server->rate_limit_reset) :
				 errhint("It gave no RateLimit-Reset: it gets no request for %d seconds; the other servers went on.",
						 OCPB_DEFAULT_RATE_LIMIT_PAUSE_S)));
	}
}

static void
put_read(ReturnSetInfo *rsinfo, const TaskRead *read, bool postponed)
{
	Datum		values[READ_COLUMNS];
	bool		nulls[READ_COLUMNS];

	memset(nulls, false, sizeof(nulls));
	values[COL_SERVER_NAME] = CStringGetTextDatum(read->server->name);
	values[COL_TASK_ID] = Int64GetDatum(read->task_id);
	nulls[COL_STATUS] = read->status == NULL;
	values[COL_STATUS] = read->status ? CStringGetTextDatum(read->status) : (Datum) 0;
	nulls[COL_ERROR] = read->error == NULL || postponed;
	values[COL_ERROR] = read->error && !postponed ? CStringGetTextDatum(read->error) : (Datum) 0;
	values[COL_POSTPONED] = BoolGetDatum(postponed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
ocp_backup_read_tasks(PG_FUNCTION_ARGS)
{
	List	   *servers = NIL;
	TaskRead   *reads;
	OcpbExchange *exchanges;
	OcpbExchangeHooks hooks;
	int			n_reads;
	int			n_exchanges;
	int			i;

	check_right_to_read_tasks(fcinfo);
	/* Each status read goes into ocp_backup.task: refuse before asking OCP. */
	ocpb_journal_check_writable("ocp_backup_refresh()");
	ocpb_call_log_flush_leftovers();
	InitMaterializedSRF(fcinfo, 0);
	reads = read_arguments(fcinfo, &servers, &n_reads);
	exchanges = task_exchanges(reads, n_reads, &n_exchanges);
	memset(&hooks, 0, sizeof(hooks));
	hooks.answered = task_answered;
	hooks.arg = AllocSetContextCreate(CurrentMemoryContext, "ocp_backup task answer",
									  ALLOCSET_DEFAULT_SIZES);
	hooks.pause_on_rate_limit = true;
	ocpb_http_exchange_all(exchanges, n_exchanges, &hooks);
	MemoryContextDelete(hooks.arg);
	for (i = 0; i < n_exchanges; i++)
	{
		TaskRead   *read = exchanges[i].arg;

		if (exchanges[i].skipped)
		{
			read->throttled = true;
			read->server->throttled++;
		}
	}
	warn_throttled(servers);
	for (i = 0; i < n_reads; i++)
		put_read((ReturnSetInfo *) fcinfo->resultinfo, &reads[i], reads[i].throttled);
	return (Datum) 0;
}
