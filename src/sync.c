/*
 * sync.c - ocp_backup_sync: mirrors OCP's inventory and backup history.
 *
 * For each server: every page of the cluster list, then for each cluster
 * OCP lists, every page of its tenants and the new pages of its data-backup
 * history, and what a restore needs: its backup overview and every page of
 * its log backup tasks (stored apart, so that an OCP without them leaves
 * the inventory synced), the clusters read concurrently (ocpb_read_lists:
 * at most the server's max_parallel requests in flight, a 429 pausing the
 * server).  The GETs go out as the caller, with the caller's user mapping;
 * the rows are written by the SQL writers of the install script, as the
 * journal's owner, from what was read here.  Each server runs in a
 * subtransaction of its own, and within it each cluster's pages of a round
 * (mostly its only round: one page of tenants, one of new jobs) are stored
 * in one, so that one that fails leaves the others' rows and says why in
 * its result row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "endpoint.h"
#include "journal.h"
#include "call_log.h"
#include "ocp_list.h"
#include "server_loop.h"

PG_FUNCTION_INFO_V1(ocp_backup_sync);

/*
 * OCP lists a cluster's backup jobs newest first; a page of 100 mostly
 * holds all that is new since the last sync.
 */
#define HISTORY_PAGE_SIZE 100

typedef enum SyncColumn
{
	COL_SERVER_NAME,
	COL_CLUSTERS,
	COL_CLUSTERS_MISSING,
	COL_CLUSTERS_FAILED,
	COL_TENANTS,
	COL_BACKUP_JOBS,
	COL_ERROR_CODE,
	COL_ERROR,
	SYNC_COLUMNS
} SyncColumn;

typedef struct SyncCounts
{
	int			clusters;
	int			clusters_missing;
	int			clusters_failed;
	int			tenants;
	int			backup_jobs;
	ErrorData  *first_failure;	/* of a cluster; NULL when none failed */
} SyncCounts;

typedef struct ClusterPages
{
	const OcpbEndpoint *endpoint;
	Datum		seen_by;		/* text: the OCP account of the mapping */
	Datum		run_started;	/* timestamptz: this server's sync began */
	int64		cluster_id;		/* the cluster whose pages are being stored */
	int64	   *cluster_ids;	/* the clusters listed, by group / 2 */
	bool	   *failed;			/* by group / 2: the cluster failed already */
	int			throttled;		/* clusters a 429 kept from being read */
	SyncCounts *counts;
	MemoryContext counts_context;	/* where the first failure is kept */
	MemoryContext page_context; /* reset after each cluster's round */
} ClusterPages;

static bool
write_cluster_page(const OcpbPageRead *read, void *arg)
{
	static const Oid arg_types[] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, JSONBOID, BOOLOID};
	ClusterPages *pages = arg;
	Datum		args[5];
	bool		nulls[5] = {false, false, false, false, false};

	args[0] = CStringGetTextDatum(pages->endpoint->server_name);
	args[1] = pages->seen_by;
	args[2] = pages->run_started;
	args[3] = read->answer;
	args[4] = BoolGetDatum(read->last);
	/* After the last page: how many clusters OCP no longer lists. */
	pages->counts->clusters_missing =
		DatumGetInt32(ocpb_call_privileged("record_cluster_page", 5, arg_types, args, nulls));
	pages->counts->clusters += read->n_rows;
	return true;
}

static bool
write_tenant_page(const OcpbPageRead *read, void *arg)
{
	static const Oid arg_types[] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, JSONBOID, BOOLOID};
	ClusterPages *pages = arg;
	Datum		args[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	args[0] = CStringGetTextDatum(pages->endpoint->server_name);
	args[1] = pages->seen_by;
	args[2] = pages->run_started;
	args[3] = Int64GetDatum(pages->cluster_id);
	args[4] = read->answer;
	args[5] = BoolGetDatum(read->last);
	(void) ocpb_call_privileged("record_tenant_page", 6, arg_types, args, nulls);
	pages->counts->tenants += read->n_rows;
	return true;
}

static bool
write_history_page(const OcpbPageRead *read, void *arg)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, JSONBOID};
	ClusterPages *pages = arg;
	Datum		args[3];
	bool		nulls[3] = {false, false, false};

	args[0] = CStringGetTextDatum(pages->endpoint->server_name);
	args[1] = Int64GetDatum(pages->cluster_id);
	args[2] = read->answer;
	pages->counts->backup_jobs += read->n_rows;
	/* False once a page holds a job already recorded as finished. */
	return DatumGetBool(ocpb_call_privileged("record_backup_page", 3, arg_types, args, nulls));
}

static void
write_backup_overview(const OcpbPageRead *read, const ClusterPages *pages)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, TIMESTAMPTZOID, JSONBOID};
	Datum		args[4];
	bool		nulls[4] = {false, false, false, false};

	args[0] = CStringGetTextDatum(pages->endpoint->server_name);
	args[1] = Int64GetDatum(pages->cluster_id);
	args[2] = pages->run_started;
	args[3] = read->answer;
	(void) ocpb_call_privileged("record_backup_overview", 4, arg_types, args, nulls);
}

static bool
write_log_backup_page(const OcpbPageRead *read, const ClusterPages *pages)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, TIMESTAMPTZOID, JSONBOID, BOOLOID};
	Datum		args[5];
	bool		nulls[5] = {false, false, false, false, false};

	args[0] = CStringGetTextDatum(pages->endpoint->server_name);
	args[1] = Int64GetDatum(pages->cluster_id);
	args[2] = pages->run_started;
	args[3] = read->answer;
	args[4] = BoolGetDatum(read->last);
	(void) ocpb_call_privileged("record_log_backup_page", 5, arg_types, args, nulls);
	return true;
}

/* Why the cluster's overview or log backup tasks could not be read. */
typedef struct ReadFailure
{
	const ClusterPages *pages;
	const char *error;
} ReadFailure;

static void
write_read_failure(void *arg)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, TEXTOID};
	ReadFailure *failure = arg;
	Datum		args[3];
	bool		nulls[3] = {false, false, false};

	args[0] = CStringGetTextDatum(failure->pages->endpoint->server_name);
	args[1] = Int64GetDatum(failure->pages->cluster_id);
	args[2] = CStringGetTextDatum(failure->error);
	(void) ocpb_call_privileged("record_backup_read_failure", 3, arg_types, args, nulls);
}

/* The clusters the server lists to this account, as the sync just recorded them. */
static ArrayType *
listed_clusters(const ClusterPages *pages)
{
	static const Oid arg_types[] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		nulls[2] = {false, false};

	args[0] = CStringGetTextDatum(pages->endpoint->server_name);
	args[1] = pages->seen_by;
	return DatumGetArrayTypeP(ocpb_call_privileged("listed_clusters", 2, arg_types, args, nulls));
}

/*
 * A round's pages of one cluster: of its inventory group, [0] its tenants
 * and [1] its backup jobs, stored as one; of its recoverability group, the
 * one list being stored, its backup overview or its log backup tasks.
 */
typedef struct ClusterRound
{
	ClusterPages *pages;
	OcpbList   *lists;			/* [0] its tenants, [1] its backup jobs */
} ClusterRound;

static void
write_cluster_round(void *arg)
{
	ClusterRound *round = arg;
	OcpbPageRead read;
	int			i;

	/* The pages' memory goes with the round; an error's copy does not. */
	MemoryContextSwitchTo(round->pages->page_context);
	for (i = 0; i < 2; i++)
	{
		OcpbList   *list = &round->lists[i];

		if (!list->answered && !list->throttled)
			continue;
		ocpb_list_page(round->pages->endpoint, list, &read);
		list->go_on = i == 0 ? write_tenant_page(&read, round->pages) :
			write_history_page(&read, round->pages);
	}
	MemoryContextSwitchTo(round->pages->counts_context);
}

/* The backup overview or a page of the log backup tasks of a cluster. */
static void
write_recoverability_list(void *arg)
{
	ClusterRound *round = arg;
	OcpbList   *list = round->lists;
	OcpbPageRead read;

	MemoryContextSwitchTo(round->pages->page_context);
	ocpb_list_page(round->pages->endpoint, list, &read);
	if (list->single)
		write_backup_overview(&read, round->pages);
	else
		list->go_on = write_log_backup_page(&read, round->pages);
	MemoryContextSwitchTo(round->pages->counts_context);
}

/* A cluster fails once in its sync's counts, whatever failed and when. */
static void
count_failed_cluster(ClusterPages *pages, int cluster, ErrorData *failure)
{
	if (pages->failed[cluster])
		return;
	pages->failed[cluster] = true;
	pages->counts->clusters_failed++;
	if (pages->counts->first_failure == NULL)
		pages->counts->first_failure = failure;
}

/* Keeps why a cluster's recoverability could not be read, in its row. */
static void
record_read_failure(ClusterPages *pages, ErrorData *failure)
{
	ReadFailure read_failure;
	ErrorData  *not_recorded;

	read_failure.pages = pages;
	read_failure.error = ocpb_error_text(failure);
	not_recorded = ocpb_try_in_subtransaction(write_read_failure, &read_failure);
	if (not_recorded != NULL)
		ereport(WARNING,
				(errcode(not_recorded->sqlerrcode),
				 errmsg("could not record why cluster " INT64_FORMAT " of OCP server \"%s\" was not read",
						pages->cluster_id, pages->endpoint->server_name),
				 errdetail("%s", ocpb_error_text(not_recorded))));
}

/*
 * A cluster's backup overview and log backup tasks of one round, each in a
 * subtransaction of its own: either can be kept without the other (an OCP
 * without the overview still lists the tasks), and neither touches the
 * cluster's inventory.
 */
static void
recoverability_round_done(OcpbList *lists, ClusterPages *pages)
{
	ClusterRound round;
	ErrorData  *failure;
	ErrorData  *first_failure = NULL;
	int			i;

	round.pages = pages;
	for (i = 0; i < 2; i++)
	{
		if (!lists[i].answered && !lists[i].throttled)
			continue;
		round.lists = &lists[i];
		failure = ocpb_try_in_subtransaction(write_recoverability_list, &round);
		MemoryContextReset(pages->page_context);
		if (failure == NULL)
			continue;
		lists[i].go_on = false;
		if (first_failure == NULL)
			first_failure = failure;
	}
	if (first_failure == NULL)
		return;
	/* One warning for the cluster, whichever of its two reads failed. */
	ereport(WARNING,
			(errcode(first_failure->sqlerrcode),
			 errmsg("could not read the log backups of cluster " INT64_FORMAT " of OCP server \"%s\"",
					pages->cluster_id, pages->endpoint->server_name),
			 errdetail("%s", ocpb_error_text(first_failure)),
			 errhint("What an earlier sync read of them is kept; ocp_backup.cluster_backup.read_error says why.")));
	record_read_failure(pages, first_failure);
	count_failed_cluster(pages, lists[0].group / 2, first_failure);
}

/*
 * A cluster's tenants and new backup jobs of one round, in a
 * subtransaction: a cluster OCP fails to describe leaves the others' rows.
 * Its recoverability group (2i + 1, beside its inventory's 2i) is stored
 * apart.
 */
static void
cluster_round_done(OcpbList *lists, int n_lists, void *arg)
{
	ClusterPages *pages = arg;
	ClusterRound round;
	ErrorData  *failure;
	MemoryContext caller_context;
	int			cluster = lists[0].group / 2;

	Assert(n_lists == 2);
	if (lists[0].throttled || lists[1].throttled)
	{
		/* Not read at all: one WARNING for all of them, after the rounds. */
		lists[0].go_on = lists[1].go_on = false;
		if (!pages->failed[cluster])
		{
			pages->failed[cluster] = true;
			pages->counts->clusters_failed++;
			pages->throttled++;
		}
		return;
	}
	caller_context = MemoryContextSwitchTo(pages->counts_context);
	pages->cluster_id = pages->cluster_ids[cluster];
	if (lists[0].group % 2 == 1)
	{
		recoverability_round_done(lists, pages);
		MemoryContextSwitchTo(caller_context);
		return;
	}
	round.pages = pages;
	round.lists = lists;
	failure = ocpb_try_in_subtransaction(write_cluster_round, &round);
	MemoryContextSwitchTo(caller_context);
	MemoryContextReset(pages->page_context);
	if (failure == NULL)
		return;
	lists[0].go_on = lists[1].go_on = false;
	ereport(WARNING,
			(errcode(failure->sqlerrcode),
			 errmsg("could not sync cluster " INT64_FORMAT " of OCP server \"%s\"",
					pages->cluster_id, pages->endpoint->server_name),
			 errdetail("%s", ocpb_error_text(failure)),
			 errhint("Its tenants and backups keep the rows of its last sync.")));
	/* A cluster failing in a later round, or in both groups, is counted once. */
	count_failed_cluster(pages, cluster, failure);
}

static void
raise_throttled(void *arg)
{
	const ClusterPages *pages = arg;

	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("OCP server \"%s\" is throttling requests", pages->endpoint->server_name),
			 errdetail("%d of its clusters were not read: they keep the rows of their last sync.",
					   pages->throttled),
			 errhint("It answered 429; the next sync after its RateLimit-Reset reads them.")));
}

/*
 * One WARNING for the clusters a 429 kept from being read, and their error
 * for the server's row when no cluster failed otherwise.
 */
static void
warn_throttled(ClusterPages *pages)
{
	MemoryContext caller_context = MemoryContextSwitchTo(pages->counts_context);
	ErrorData  *error = ocpb_try_in_subtransaction(raise_throttled, pages);

	MemoryContextSwitchTo(caller_context);
	error->elevel = WARNING;
	ThrowErrorData(error);
	if (pages->counts->first_failure == NULL)
		pages->counts->first_failure = error;
}

/*
 * Every listed cluster's tenants and new backup jobs, and its backup
 * overview and log backup tasks, read concurrently: each cluster's two
 * groups of two go out together, and each group is stored as soon as it is
 * in, while the other clusters' requests are in flight.
 */
static void
sync_clusters(ClusterPages *pages, int n_clusters)
{
	OcpbList   *lists = palloc0(sizeof(OcpbList) * Max(4 * n_clusters, 1));
	int			i;

	for (i = 0; i < n_clusters; i++)
	{
		int64		id = pages->cluster_ids[i];
		char	   *object = psprintf("cluster " INT64_FORMAT, id);
		OcpbList   *cluster = &lists[4 * i];

		/* Its inventory: group 2i. */
		cluster[0].path = psprintf("/api/v2/ob/clusters/" INT64_FORMAT "/tenants", id);
		cluster[0].subject.object = object;
		cluster[0].subject.action = psprintf("list the tenants of %s", object);
		cluster[0].page_size = OCPB_LIST_PAGE_SIZE;
		cluster[0].group = 2 * i;
		cluster[1].path = psprintf("/api/v2/ob/clusters/" INT64_FORMAT
								   "/backup/task/dataBackupTasks", id);
		cluster[1].subject.object = object;
		cluster[1].subject.action = psprintf("list the data backups of %s", object);
		cluster[1].page_size = HISTORY_PAGE_SIZE;
		cluster[1].group = 2 * i;
		/* What a restore needs: group 2i + 1. */
		cluster[2].path = psprintf("/api/v2/ob/clusters/" INT64_FORMAT "/backup/overview", id);
		cluster[2].subject.object = object;
		cluster[2].subject.action = psprintf("read the backup overview of %s", object);
		cluster[2].single = true;
		cluster[2].group = 2 * i + 1;
		cluster[3].path = psprintf("/api/v2/ob/clusters/" INT64_FORMAT
								   "/backup/task/logBackupTasks", id);
		cluster[3].subject.object = object;
		cluster[3].subject.action = psprintf("list the log backups of %s", object);
		cluster[3].page_size = OCPB_LIST_PAGE_SIZE;
		cluster[3].group = 2 * i + 1;
	}
	ocpb_read_lists(pages->endpoint, lists, 4 * n_clusters, cluster_round_done, pages);
	if (pages->throttled > 0)
		warn_throttled(pages);
}

static void
sync_server(const OcpbEndpoint *endpoint, void *arg)
{
	ClusterPages pages;
	OcpbCallSubject subject;
	ArrayType  *clusters;
	Datum	   *cluster_ids;
	int			n_clusters;
	int			i;

	pages.endpoint = endpoint;
	pages.counts = arg;
	pages.counts_context = CurrentMemoryContext;
	/* Whose view of the fleet this is: the OCP account, not the role. */
	pages.seen_by = CStringGetTextDatum(ocpb_endpoint_account(endpoint));
	/* An overlapping sync of the server holds it: this one skips it (55P03). */
	ocpb_lock_server(OCPB_LOCK_SYNC, endpoint->server_id, endpoint->server_name);
	pages.run_started = TimestampTzGetDatum(GetCurrentTimestamp());
	subject.action = "list its clusters";
	subject.object = "the cluster list";
	ocpb_read_pages(endpoint, "/api/v2/ob/clusters", &subject, OCPB_LIST_PAGE_SIZE,
					write_cluster_page, &pages);
	clusters = listed_clusters(&pages);
	deconstruct_array(clusters, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &cluster_ids, NULL, &n_clusters);
	pages.cluster_ids = palloc(sizeof(int64) * Max(n_clusters, 1));
	pages.failed = palloc0(sizeof(bool) * Max(n_clusters, 1));
	pages.throttled = 0;
	for (i = 0; i < n_clusters; i++)
		pages.cluster_ids[i] = DatumGetInt64(cluster_ids[i]);
	pages.page_context = AllocSetContextCreate(CurrentMemoryContext, "ocp_backup sync page",
											   ALLOCSET_DEFAULT_SIZES);
	sync_clusters(&pages, n_clusters);
	MemoryContextDelete(pages.page_context);
}

static void
put_result(ReturnSetInfo *rsinfo, const char *server_name, const SyncCounts *counts,
		   const ErrorData *error)
{
	Datum		values[SYNC_COLUMNS];
	bool		nulls[SYNC_COLUMNS];

	memset(nulls, 0, sizeof(nulls));
	values[COL_SERVER_NAME] = CStringGetTextDatum(server_name);
	values[COL_CLUSTERS] = Int32GetDatum(counts->clusters);
	values[COL_CLUSTERS_MISSING] = Int32GetDatum(counts->clusters_missing);
	values[COL_CLUSTERS_FAILED] = Int32GetDatum(counts->clusters_failed);
	values[COL_TENANTS] = Int32GetDatum(counts->tenants);
	values[COL_BACKUP_JOBS] = Int32GetDatum(counts->backup_jobs);
	nulls[COL_ERROR_CODE] = nulls[COL_ERROR] = error == NULL;
	if (error != NULL)
	{
		values[COL_ERROR_CODE] = CStringGetTextDatum(unpack_sql_state(error->sqlerrcode));
		values[COL_ERROR] = CStringGetTextDatum(ocpb_error_text(error));
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
ocp_backup_sync(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *servers;
	ListCell   *cell;

	/* Its rows go into the ocp_backup tables: refuse before asking OCP. */
	ocpb_journal_check_writable("ocp_backup_sync()");
	ocpb_call_log_flush_leftovers();
	servers = ocpb_servers_to_visit(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	foreach(cell, servers)
	{
		const char *server_name = lfirst(cell);
		SyncCounts	counts;
		ErrorData  *error;

		memset(&counts, 0, sizeof(counts));
		error = ocpb_visit_server(server_name, sync_server, &counts);
		if (error == NULL)
			error = counts.first_failure;
		else
		{
			/* Rolled back: nothing of this server was recorded. */
			memset(&counts, 0, sizeof(counts));
			ereport(WARNING,
					(errcode(error->sqlerrcode),
					 errmsg("could not sync OCP server \"%s\"", server_name),
					 errdetail("%s", ocpb_error_text(error)),
					 errhint("The other servers were synced; this one keeps the rows of its last sync.")));
		}
		put_result(rsinfo, server_name, &counts, error);
	}
	return (Datum) 0;
}
