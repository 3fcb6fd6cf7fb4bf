/*
 * reconcile.c - ocp_backup_reconcile: settles the journal rows whose
 * outcome is unknown.
 *
 * A request that may have reached OCP without an answer read (a timeout
 * after sending, a dropped connection, a cancel, a crash) may or may not
 * have started a backup; backupNow is not idempotent, so calling again
 * blindly may start a second one.  OCP's task list shows the tasks of the
 * call's cluster, in pages of OCP's largest size; its rows carry no
 * creation time and no type (ocp-api.md section 5), so the detail of each
 * listed task that may be a call's is read too.  The reads of a server's
 * run go at once, at most max_parallel in flight: the first page of each
 * cluster's list, then the pages that follow, then the details.  The SQL
 * writer then decides each call, oldest first, from all of it: the task
 * created around the call that no journal row of any server reaching the
 * same OCP has is recorded as the call's; after the last page, that OCP
 * lists none.  A task whose creation time or identity cannot be
 * established leaves the call unsettled.  It never invents one: a call is
 * settled only by what OCP showed.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "endpoint.h"
#include "http.h"
#include "journal.h"
#include "json_accept.h"
#include "ocp_list.h"
#include "options.h"
#include "pg_compat.h"
#include "report.h"
#include "request.h"
#include "response.h"
#include "server_loop.h"
#include "call_log.h"

PG_FUNCTION_INFO_V1(ocp_backup_reconcile);

typedef struct ReconcileRun
{
	Interval   *since;
	Interval   *margin;		/* the clock difference allowed with OCP */
	int			settled;
} ReconcileRun;

/*
 * How long after its start a call's request may have reached OCP, which
 * then creates its task: the server's timeout_ms, after the connection
 * attempts and waits of its retries (a retry is made only when nothing was
 * sent).
 */
static Datum
call_deadline(const OcpbEndpoint *endpoint)
{
	Interval   *deadline = palloc0(sizeof(Interval));
	int64		ms = endpoint->options.timeout_ms;
	int64		backoff = endpoint->options.retry_backoff_ms;
	int			attempt;

	for (attempt = 0; attempt < endpoint->options.retries; attempt++)
	{
		ms += endpoint->options.connect_timeout_ms + backoff;
		backoff *= 2;
	}
	deadline->time = (TimeOffset) ms * 1000;
	return IntervalPGetDatum(deadline);
}

/*
 * [id, cluster id] per unsettled call of the server made as this OCP
 * account and past its window, flattened, oldest first.
 */
static void
unsettled_calls(const OcpbEndpoint *endpoint, const ReconcileRun *run, Datum **calls, int *n)
{
	static const Oid arg_types[] = {TEXTOID, TEXTOID, INTERVALOID, INTERVALOID, INTERVALOID};
	Datum		args[5];
	bool		nulls[5] = {false, false, false, false, false};
	ArrayType  *array;

	args[0] = CStringGetTextDatum(endpoint->server_name);
	args[1] = CStringGetTextDatum(ocpb_endpoint_account(endpoint));
	args[2] = IntervalPGetDatum(run->since);
	args[3] = IntervalPGetDatum(run->margin);
	args[4] = call_deadline(endpoint);
	array = DatumGetArrayTypeP(ocpb_call_privileged("unsettled_calls", 5, arg_types, args, nulls));
	deconstruct_array(array, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, calls, NULL, n);
}

/*
 * The ocp_backup servers, whoever may use them, that reach the same OCP as
 * endpoint (same scheme, host and port, same path prefix), endpoint's
 * included: a task journaled under any of them is some call's.
 */
static Datum
servers_reaching(const OcpbEndpoint *endpoint)
{
	Oid			fdw_id = GetForeignDataWrapperByName("ocp_backup", false)->fdwid;
	Relation	catalog;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *server_ids = NIL;
	ListCell   *cell;
	Datum	   *names;
	int			n = 0;

	catalog = table_open(ForeignServerRelationId, AccessShareLock);
	scan = systable_beginscan(catalog, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server form = (Form_pg_foreign_server) GETSTRUCT(tuple);

		if (form->srvfdw == fdw_id)
			server_ids = lappend_oid(server_ids, form->oid);
	}
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	names = palloc(sizeof(Datum) * (list_length(server_ids) + 1));
	names[n++] = CStringGetTextDatum(endpoint->server_name);
	foreach(cell, server_ids)
	{
		ForeignServer *server = GetForeignServer(lfirst_oid(cell));
		OcpbServerOptions options;
		char	   *base_url;
		char	   *host_header;
		char	   *path_prefix;

		if (server->serverid == endpoint->server_id)
			continue;
		ocpb_read_server_options(server->options, &options);
		ocpb_split_url(options.url, &base_url, &host_header, &path_prefix);
		if ((pg_strncasecmp(options.url, "https:", 6) == 0) == endpoint->https &&
			pg_strcasecmp(host_header, endpoint->host_header) == 0 &&
			strcmp(path_prefix, endpoint->path_prefix) == 0)
			names[n++] = CStringGetTextDatum(server->servername);
	}
	return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* What one cluster's calls need of OCP, read for all of them at once. */
typedef struct ClusterTasks
{
	int64		cluster_id;
	int64	   *call_ids;		/* its unsettled calls, oldest first */
	int			n_calls;
	List	   *pages;			/* the list's pages read, as jsonb */
	long		next_page;		/* the page to read next; 0: none */
	char	   *failure;		/* why its list could not be read; NULL */
	int			failure_code;
	Datum	   *candidates;		/* int8: listed tasks whose detail is needed */
	int			n_candidates;
	List	   *details;		/* the details read, as jsonb */
	StringInfoData unread;		/* JSON object: task id -> why not read */
	int64	   *held;			/* task rows being journaled by another
								 * transaction still open */
	int			n_held;
	int			details_pending;	/* detail reads not answered yet */
	bool		decided;		/* its calls were decided, or warned of */
} ClusterTasks;

/* One GET of a reconcile run: a page of a list, or a task's detail. */
typedef struct TaskRead
{
	ClusterTasks *cluster;
	long		page;			/* 0 for a detail */
	int64		task_id;		/* the detail's */
	char	   *path;
} TaskRead;

typedef struct ServerRun
{
	const OcpbEndpoint *endpoint;
	ReconcileRun *run;
	Datum		same_ocp;		/* the servers reaching the same OCP */
	MemoryContext keep;			/* where what is read is kept */
	MemoryContext answer;		/* reset after each answer */
	int			throttled;		/* reads a 429 left for the next run */
} ServerRun;

static void
subject_of(const TaskRead *read, OcpbCallSubject *subject)
{
	if (read->page > 0)
	{
		subject->object = psprintf("cluster " INT64_FORMAT, read->cluster->cluster_id);
		subject->action = psprintf("list the tasks of %s", subject->object);
	}
	else
	{
		subject->object = psprintf("task " INT64_FORMAT, read->task_id);
		subject->action = psprintf("read task " INT64_FORMAT, read->task_id);
	}
}

/* A page of a cluster's list: kept, and the next one asked for. */
static void
page_answered(ServerRun *server, TaskRead *read, OcpbHttpResult *http)
{
	ClusterTasks *cluster = read->cluster;
	OcpbCallSubject subject;
	OcpbPageRead page;
	OcpbFailure failure;

	subject_of(read, &subject);
	if (!ocpb_page_answered(server->endpoint, &subject, read->path, read->page, http,
							&page, &failure))
	{
		cluster->failure = MemoryContextStrdup(server->keep, ocpb_failure_text(&failure));
		cluster->failure_code = failure.sqlerrcode;
		cluster->next_page = 0;
		return;
	}
	MemoryContextSwitchTo(server->keep);
	cluster->pages = lappend(cluster->pages, DatumGetPointer(datumCopy(page.answer, false, -1)));
	MemoryContextSwitchTo(server->answer);
	cluster->next_page = page.last ? 0 : read->page + 1;
	/* More pages than this is no list OCP keeps: a broken or hostile answer. */
	if (cluster->next_page > OCPB_MAX_PAGES)
	{
		cluster->failure = MemoryContextStrdup(server->keep,
											   psprintf("OCP server \"%s\" lists more than %d pages of the tasks of cluster " INT64_FORMAT,
														server->endpoint->server_name, OCPB_MAX_PAGES,
														cluster->cluster_id));
		cluster->failure_code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		cluster->next_page = 0;
	}
}

static void
note_unread(ClusterTasks *cluster, int64 task_id, const char *why)
{
	char		key[32];

	snprintf(key, sizeof(key), INT64_FORMAT, task_id);
	appendStringInfoString(&cluster->unread, cluster->unread.len > 1 ? ", " : "");
	escape_json(&cluster->unread, key);
	appendStringInfoString(&cluster->unread, ": ");
	escape_json(&cluster->unread, why);
}

static void decide_cluster(ServerRun *server, ClusterTasks *cluster);

/* A task's detail: kept, or why it could not be read noted. */
static void
detail_answered(ServerRun *server, TaskRead *read, OcpbHttpResult *http)
{
	ClusterTasks *cluster = read->cluster;
	MemoryContext answer_context = CurrentMemoryContext;
	OcpbCallSubject subject;
	OcpbFailure failure;
	OcpbTaskInfo task;
	volatile bool failed = false;

	subject_of(read, &subject);
	if (!ocpb_parse_task_response(http->body, http->body_len, &task))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		failed = ocpb_exchange_failed(server->endpoint, &subject, http, &task.envelope, &failure);
	}
	PG_FINALLY();
	{
		ocpb_task_info_free(&task);
	}
	PG_END_TRY();
	if (failed)
		note_unread(cluster, read->task_id, ocpb_failure_text(&failure));
	else if (!ocpb_jsonb_takes(http->body, http->body_len))
		note_unread(cluster, read->task_id, "its detail holds what jsonb refuses");
	else
	{
		Datum		detail = DirectFunctionCall1(jsonb_in, CStringGetDatum(http->body));

		MemoryContextSwitchTo(server->keep);
		cluster->details = lappend(cluster->details,
								   DatumGetPointer(datumCopy(detail, false, -1)));
		MemoryContextSwitchTo(answer_context);
	}
	/*
	 * Its calls are decided as soon as its last detail is in, while the
	 * other clusters' reads are in flight.
	 */
	if (--cluster->details_pending == 0)
		decide_cluster(server, cluster);
}

/*
 * Each answer is read in memory of its own, reset after it; what is kept
 * goes into the run's.  Nothing here raises for what OCP answered: one
 * cluster's failure is its calls' only.
 */
static void
read_answered(OcpbExchange *exchange, void *arg)
{
	ServerRun  *server = arg;
	TaskRead   *read = exchange->arg;
	MemoryContext caller_context = MemoryContextSwitchTo(server->answer);

	if (exchange->result.status == 429)
		server->throttled++;
	if (read->page > 0)
		page_answered(server, read, &exchange->result);
	else
		detail_answered(server, read, &exchange->result);
	pfree(exchange->result.body);
	exchange->result.body = NULL;
	MemoryContextSwitchTo(caller_context);
	MemoryContextReset(server->answer);
}

/* Sends the reads, at most max_parallel in flight; a 429 leaves the rest. */
static void
run_reads(ServerRun *server, TaskRead *reads, int n)
{
	OcpbExchange *exchanges = palloc0(sizeof(OcpbExchange) * Max(n, 1));
	OcpbExchangeHooks hooks;
	int			i;

	for (i = 0; i < n; i++)
	{
		exchanges[i].endpoint = server->endpoint;
		exchanges[i].request.method = "GET";
		exchanges[i].request.path = reads[i].path;
		exchanges[i].arg = &reads[i];
	}
	memset(&hooks, 0, sizeof(hooks));
	hooks.answered = read_answered;
	hooks.arg = server;
	hooks.pause_on_rate_limit = true;
	ocpb_http_exchange_all(exchanges, n, &hooks);
	for (i = 0; i < n; i++)
	{
		ClusterTasks *cluster = reads[i].cluster;

		if (!exchanges[i].skipped)
			continue;
		server->throttled++;
		if (reads[i].page > 0)
		{
			cluster->failure = psprintf("OCP server \"%s\" is throttling requests: the tasks of cluster " INT64_FORMAT " are left for the next run",
										server->endpoint->server_name, cluster->cluster_id);
			cluster->failure_code = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			cluster->next_page = 0;
		}
		else
			note_unread(cluster, reads[i].task_id, "OCP is throttling requests");
	}
	pfree(exchanges);
}

/* Reads every cluster's list: all first pages at once, then the next ones. */
static void
read_lists(ServerRun *server, ClusterTasks *clusters, int n_clusters)
{
	TaskRead   *reads = palloc0(sizeof(TaskRead) * Max(n_clusters, 1));

	for (;;)
	{
		int			n = 0;
		int			i;

		for (i = 0; i < n_clusters; i++)
		{
			ClusterTasks *cluster = &clusters[i];

			if (cluster->next_page == 0)
				continue;
			reads[n].cluster = cluster;
			reads[n].page = cluster->next_page;
			reads[n].path = ocpb_page_path(psprintf("/api/v2/tasks/instances?clusterId=" INT64_FORMAT,
													cluster->cluster_id),
										   cluster->next_page, OCPB_LIST_PAGE_SIZE);
			n++;
		}
		if (n == 0)
			break;
		run_reads(server, reads, n);
	}
	pfree(reads);
}

/*
 * The task table and the index of its key (server_name, task_id), to look
 * for rows other transactions are writing.
 */
typedef struct TaskTable
{
	Relation	table;
	Oid			key_index;		/* InvalidOid: scanned whole */
	AttrNumber	server_column;
	AttrNumber	task_column;
	Oid			server_collation;
} TaskTable;

static void
open_task_table(TaskTable *tasks)
{
	Oid			relid = get_relname_relid("task", get_namespace_oid("ocp_backup", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the journal relation ocp_backup.task does not exist"),
				 errhint("Update or reinstall the extension: ALTER EXTENSION ocp_backup UPDATE;")));
	tasks->table = table_open(relid, AccessShareLock);
	if (tasks->table->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the journal relation ocp_backup.task is not a table")));
	tasks->server_column = get_attnum(relid, "server_name");
	tasks->task_column = get_attnum(relid, "task_id");
	if (tasks->server_column == InvalidAttrNumber || tasks->task_column == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the journal relation ocp_backup.task lacks server_name or task_id"),
				 errhint("Update or reinstall the extension: ALTER EXTENSION ocp_backup UPDATE;")));
	tasks->server_collation = TupleDescAttr(RelationGetDescr(tasks->table),
											tasks->server_column - 1)->attcollation;
	tasks->key_index = ocpb_primary_key_index(tasks->table);
	if (OidIsValid(tasks->key_index))
	{
		Relation	index = index_open(tasks->key_index, AccessShareLock);
		bool		fits = index->rd_index->indnkeyatts == 2 &&
			((index->rd_index->indkey.values[0] == tasks->server_column &&
			  index->rd_index->indkey.values[1] == tasks->task_column) ||
			 (index->rd_index->indkey.values[0] == tasks->task_column &&
			  index->rd_index->indkey.values[1] == tasks->server_column));

		index_close(index, AccessShareLock);
		if (!fits)
			tasks->key_index = InvalidOid;
	}
}

/*
 * Whether another transaction, still open, is writing the task's row under
 * that server: a call whose record is not committed yet, which a reconcile
 * must neither wait for nor take the task of.  Read with a dirty snapshot,
 * as a unique index check does; the row itself is not looked at.
 */
static bool
task_row_held(const TaskTable *tasks, Datum server_name, int64 task_id)
{
	SnapshotData dirty;
	ScanKeyData keys[2];
	SysScanDesc scan;
	bool		held = false;

	InitDirtySnapshot(dirty);
	ScanKeyInit(&keys[0], tasks->server_column, BTEqualStrategyNumber, F_TEXTEQ, server_name);
	keys[0].sk_collation = tasks->server_collation;
	ScanKeyInit(&keys[1], tasks->task_column, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(task_id));
	scan = systable_beginscan(tasks->table, tasks->key_index, OidIsValid(tasks->key_index),
							  &dirty, 2, keys);
	while (!held && HeapTupleIsValid(systable_getnext(scan)))
		held = TransactionIdIsValid(dirty.xmin);
	systable_endscan(scan);
	return held;
}

static Datum
jsonb_array_of(List *values)
{
	Datum	   *items = palloc(sizeof(Datum) * Max(list_length(values), 1));
	ListCell   *cell;
	int			n = 0;

	foreach(cell, values)
		items[n++] = PointerGetDatum(lfirst(cell));
	return PointerGetDatum(construct_array(items, n, JSONBOID, -1, false, TYPALIGN_INT));
}

/* An int8[] of the int64s the list points to. */
static Datum
int8_array_of(List *values)
{
	Datum	   *items = palloc(sizeof(Datum) * Max(list_length(values), 1));
	ListCell   *cell;
	int			n = 0;

	foreach(cell, values)
		items[n++] = Int64GetDatum(*(int64 *) lfirst(cell));
	return PointerGetDatum(construct_array(items, n, INT8OID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* Where each cluster is in the run's array, by its id. */
typedef struct ClusterEntry
{
	int64		cluster_id;
	int			index;
} ClusterEntry;

static ClusterTasks *
cluster_of(HTAB *index, ClusterTasks *clusters, int64 cluster_id)
{
	ClusterEntry *entry = hash_search(index, &cluster_id, HASH_FIND, NULL);

	return entry ? &clusters[entry->index] : NULL;
}

/*
 * The listed tasks whose detail the calls need, of every cluster whose list
 * was read, and of those the ones another open transaction is journaling
 * (not read: left for the next run).
 */
static void
choose_candidates(ClusterTasks *clusters, int n_clusters, HTAB *index, Datum same_ocp,
				  const ReconcileRun *run, const TaskTable *tasks)
{
	static const Oid arg_types[] = {
		TEXTARRAYOID, INT8ARRAYOID, INTERVALOID, JSONBARRAYOID, INT8ARRAYOID
	};
	Datum		args[5];
	bool		nulls[5] = {false, false, false, false, false};
	List	   *ids = NIL;
	List	   *pages = NIL;
	List	   *page_clusters = NIL;
	Datum	   *found;
	Datum	   *servers;
	int			n_found;
	int			n_servers;
	int			c;
	int			i;

	for (c = 0; c < n_clusters; c++)
	{
		ListCell   *cell;

		clusters[c].n_candidates = 0;
		clusters[c].n_held = 0;
		if (clusters[c].failure != NULL)
			continue;
		for (i = 0; i < clusters[c].n_calls; i++)
			ids = lappend(ids, &clusters[c].call_ids[i]);
		foreach(cell, clusters[c].pages)
		{
			pages = lappend(pages, lfirst(cell));
			page_clusters = lappend(page_clusters, &clusters[c].cluster_id);
		}
	}
	args[0] = same_ocp;
	args[1] = int8_array_of(ids);
	args[2] = IntervalPGetDatum(run->margin);
	args[3] = jsonb_array_of(pages);
	args[4] = int8_array_of(page_clusters);
	deconstruct_array(DatumGetArrayTypeP(ocpb_call_privileged("reconcile_candidates", 5,
															  arg_types, args, nulls)),
					  INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &found, NULL, &n_found);
	deconstruct_array(DatumGetArrayTypeP(same_ocp), TEXTOID, -1, false, TYPALIGN_INT,
					  &servers, NULL, &n_servers);
	/* [cluster id, task id] rows, by cluster: each cluster's run is one. */
	for (i = 0; i + 1 < n_found; i += 2)
	{
		ClusterTasks *cluster = cluster_of(index, clusters, DatumGetInt64(found[i]));
		int64		task_id = DatumGetInt64(found[i + 1]);
		int			s;

		if (cluster->n_candidates == 0)
		{
			int			run_length = 0;

			while (i + 2 * run_length + 1 < n_found &&
				   DatumGetInt64(found[i + 2 * run_length]) == cluster->cluster_id)
				run_length++;
			cluster->candidates = palloc(sizeof(Datum) * run_length);
			cluster->held = palloc(sizeof(int64) * run_length);
		}
		cluster->candidates[cluster->n_candidates++] = Int64GetDatum(task_id);
		for (s = 0; s < n_servers; s++)
			if (task_row_held(tasks, servers[s], task_id))
			{
				cluster->held[cluster->n_held++] = task_id;
				break;
			}
	}
}

static bool
is_held(const ClusterTasks *cluster, int64 task_id)
{
	int			i;

	for (i = 0; i < cluster->n_held; i++)
		if (cluster->held[i] == task_id)
			return true;
	return false;
}

/* Reads the details of every cluster's candidates at once. */
static void
read_details(ServerRun *server, ClusterTasks *clusters, int n_clusters)
{
	TaskRead   *reads;
	int			total = 0;
	int			n = 0;
	int			c;
	int			i;

	for (c = 0; c < n_clusters; c++)
		total += clusters[c].n_candidates;
	reads = palloc0(sizeof(TaskRead) * Max(total, 1));
	for (c = 0; c < n_clusters; c++)
		for (i = 0; i < clusters[c].n_candidates; i++)
		{
			int64		task_id = DatumGetInt64(clusters[c].candidates[i]);

			if (is_held(&clusters[c], task_id))
				continue;
			reads[n].cluster = &clusters[c];
			reads[n].cluster->details_pending++;
			reads[n].task_id = task_id;
			reads[n].path = palloc(OCPB_PATH_SIZE);
			ocpb_task_path(task_id, reads[n].path);
			n++;
		}
	run_reads(server, reads, n);
	pfree(reads);
}

typedef struct CallDecision
{
	ServerRun  *server;
	const ClusterTasks *cluster;
	Datum		same_ocp;
	int64		invocation_id;
	bool		settled;
} CallDecision;

/* Settles the call from what its cluster's reads showed, or notes why not. */
static void
reconcile_call(void *arg)
{
	static const Oid arg_types[] = {
		TEXTOID, INT8OID, INTERVALOID, INTERVALOID, TEXTOID, TEXTARRAYOID,
		JSONBARRAYOID, JSONBARRAYOID, JSONBOID, INT8ARRAYOID
	};
	CallDecision *call = arg;
	const OcpbEndpoint *endpoint = call->server->endpoint;
	const ClusterTasks *cluster = call->cluster;
	Datum		args[10];
	bool		nulls[10] = {false, false, false, false, false, false, false, false, false, false};
	Datum	   *held = palloc(sizeof(Datum) * Max(cluster->n_held, 1));
	int			i;

	for (i = 0; i < cluster->n_held; i++)
		held[i] = Int64GetDatum(cluster->held[i]);
	args[0] = CStringGetTextDatum(endpoint->server_name);
	args[1] = Int64GetDatum(call->invocation_id);
	args[2] = IntervalPGetDatum(call->server->run->margin);
	args[3] = call_deadline(endpoint);
	/*
	 * With AK/SK, the name of the OCP user the access key belongs to, which
	 * OCP records as a task's creator, is not known here: the SQL writer
	 * says the creator was not checked.
	 */
	nulls[4] = endpoint->credentials.username == NULL;
	args[4] = nulls[4] ? (Datum) 0 : CStringGetTextDatum(endpoint->credentials.username);
	args[5] = call->same_ocp;
	args[6] = jsonb_array_of(cluster->pages);
	args[7] = jsonb_array_of(cluster->details);
	args[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf("%s}", cluster->unread.data)));
	args[9] = PointerGetDatum(construct_array(held, cluster->n_held, INT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	call->settled = DatumGetBool(ocpb_call_privileged("reconcile_call", 10, arg_types, args, nulls));
}

/*
 * Decides the cluster's calls, oldest first: each takes the task nearest to
 * it not yet taken.  A call whose cluster's tasks could not be read stays
 * unsettled, and so does one whose decision fails; the others go on.
 */
static void
decide_cluster(ServerRun *server, ClusterTasks *cluster)
{
	const char *server_name = server->endpoint->server_name;
	int			i;

	cluster->decided = true;
	for (i = 0; i < cluster->n_calls; i++)
	{
		CallDecision call;
		ErrorData  *failure;

		call.server = server;
		call.cluster = cluster;
		call.same_ocp = server->same_ocp;
		call.invocation_id = cluster->call_ids[i];
		call.settled = false;
		if (cluster->failure != NULL)
		{
			ereport(WARNING,
					(errcode(cluster->failure_code),
					 errmsg("could not reconcile journal row " INT64_FORMAT " of OCP server \"%s\"",
							call.invocation_id, server_name),
					 errdetail("%s", cluster->failure),
					 errhint("It stays unsettled until a later ocp_backup_reconcile() reads its cluster's tasks.")));
			continue;
		}
		failure = ocpb_try_in_subtransaction(reconcile_call, &call);
		if (failure == NULL)
		{
			server->run->settled += call.settled;
			continue;
		}
		ereport(WARNING,
				(errcode(failure->sqlerrcode),
				 errmsg("could not reconcile journal row " INT64_FORMAT " of OCP server \"%s\"",
						call.invocation_id, server_name),
				 errdetail("%s", ocpb_error_text(failure)),
				 errhint("It stays unsettled until a later ocp_backup_reconcile() reads its cluster's tasks.")));
	}
}

/*
 * The clusters of the calls, each with its calls, in the order of their
 * oldest calls; *index finds a cluster by its id.
 */
static ClusterTasks *
group_by_cluster(Datum *calls, int n_pairs, int *n_clusters, HTAB **index)
{
	ClusterTasks *clusters = palloc0(sizeof(ClusterTasks) * Max(n_pairs, 1));
	HASHCTL		ctl;
	int			n = 0;
	int			i;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(ClusterEntry);
	ctl.hcxt = CurrentMemoryContext;
	*index = hash_create("ocp_backup reconcile clusters", Max(n_pairs, 16), &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	/* Counted first, then filled: each cluster's calls in one array. */
	for (i = 0; i < n_pairs; i++)
	{
		int64		cluster_id = DatumGetInt64(calls[2 * i + 1]);
		bool		found;
		ClusterEntry *entry = hash_search(*index, &cluster_id, HASH_ENTER, &found);

		if (!found)
		{
			ClusterTasks *cluster = &clusters[n];

			entry->index = n++;
			cluster->cluster_id = cluster_id;
			cluster->next_page = 1;
			initStringInfo(&cluster->unread);
			appendStringInfoChar(&cluster->unread, '{');
		}
		clusters[entry->index].n_calls++;
	}
	for (i = 0; i < n; i++)
	{
		clusters[i].call_ids = palloc(sizeof(int64) * clusters[i].n_calls);
		clusters[i].n_calls = 0;
	}
	for (i = 0; i < n_pairs; i++)
	{
		ClusterTasks *cluster = cluster_of(*index, clusters, DatumGetInt64(calls[2 * i + 1]));

		cluster->call_ids[cluster->n_calls++] = DatumGetInt64(calls[2 * i]);
	}
	*n_clusters = n;
	return clusters;
}

static void
reconcile_server(const OcpbEndpoint *endpoint, void *arg)
{
	ReconcileRun *run = arg;
	ServerRun	server;
	ClusterTasks *clusters;
	TaskTable	tasks;
	HTAB	   *index;
	Datum		same_ocp;
	Datum	   *calls;
	int			n;
	int			n_clusters;
	int			i;

	/* Overlapping runs would look for the same calls' tasks twice: one skips. */
	ocpb_lock_server(OCPB_LOCK_RECONCILE, endpoint->server_id, endpoint->server_name);
	unsettled_calls(endpoint, run, &calls, &n);
	if (n < 2)
		return;
	server.endpoint = endpoint;
	server.run = run;
	server.keep = CurrentMemoryContext;
	server.answer = AllocSetContextCreate(CurrentMemoryContext, "ocp_backup reconcile answer",
										  ALLOCSET_DEFAULT_SIZES);
	server.throttled = 0;
	clusters = group_by_cluster(calls, n / 2, &n_clusters, &index);
	same_ocp = servers_reaching(endpoint);
	server.same_ocp = same_ocp;
	/* Every cluster's list, then the details of the tasks that may be calls'. */
	read_lists(&server, clusters, n_clusters);
	open_task_table(&tasks);
	choose_candidates(clusters, n_clusters, index, same_ocp, run, &tasks);
	table_close(tasks.table, AccessShareLock);
	read_details(&server, clusters, n_clusters);
	if (server.throttled > 0)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("OCP server \"%s\" is throttling requests", endpoint->server_name),
				 errdetail("%d of the reads of its tasks were left for the next run.", server.throttled),
				 errhint("The calls they were for stay unsettled until a later ocp_backup_reconcile().")));
	MemoryContextDelete(server.answer);
	/* The clusters not decided yet, in the order of their oldest calls. */
	for (i = 0; i + 1 < n; i += 2)
	{
		ClusterTasks *cluster = cluster_of(index, clusters, DatumGetInt64(calls[i + 1]));

		if (!cluster->decided)
			decide_cluster(&server, cluster);
	}
}

static Interval *
interval_argument(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Interval	no_time = {0};
	Interval   *value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("%s must not be NULL", name)));
	value = PG_GETARG_INTERVAL_P(argno);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(value),
										 IntervalPGetDatum(&no_time))))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("%s must not be a negative interval", name)));
	return value;
}

Datum
ocp_backup_reconcile(PG_FUNCTION_ARGS)
{
	ReconcileRun run;
	List	   *servers;
	ListCell   *cell;
	int			settled = 0;

	run.since = interval_argument(fcinfo, 1, "since");
	run.margin = interval_argument(fcinfo, 2, "margin");
	/* It records what it finds: refuse before asking OCP. */
	ocpb_journal_check_writable("ocp_backup_reconcile()");
	ocpb_call_log_flush_leftovers();
	servers = ocpb_servers_to_visit(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	foreach(cell, servers)
	{
		const char *server_name = lfirst(cell);
		ErrorData  *error;

		run.settled = 0;
		error = ocpb_visit_server(server_name, reconcile_server, &run);
		if (error != NULL)
			ereport(WARNING,
					(errcode(error->sqlerrcode),
					 errmsg("could not reconcile the calls of OCP server \"%s\"", server_name),
					 errdetail("%s", ocpb_error_text(error)),
					 errhint("Its calls stay unsettled until a later ocp_backup_reconcile() reaches OCP.")));
		else
			settled += run.settled;
	}
	PG_RETURN_INT32(settled);
}
