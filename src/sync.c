/*
 * sync.c - ocp_backup_sync: mirrors OCP's inventory and backup history.
 *
 * For each server: every page of the cluster list, then for each cluster
 * OCP lists, every page of its tenants and the new pages of its data-backup
 * history.  The GETs go out as the caller, with the caller's user mapping;
 * the rows are written by the SQL writers of the install script, as the
 * journal's owner, from what was read here.  Each server, and within it
 * each cluster, runs in a subtransaction of its own, so that one that
 * fails leaves the others' rows and says why in its result row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "endpoint.h"
#include "journal.h"
#include "spool.h"
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
	int64		cluster_id;
	SyncCounts *counts;
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

/* One cluster's tenants and new backup jobs. */
static void
sync_cluster(void *arg)
{
	ClusterPages *pages = arg;
	OcpbCallSubject subject;

	subject.object = psprintf("cluster " INT64_FORMAT, pages->cluster_id);
	subject.action = psprintf("list the tenants of %s", subject.object);
	ocpb_read_pages(pages->endpoint,
					psprintf("/api/v2/ob/clusters/" INT64_FORMAT "/tenants", pages->cluster_id),
					&subject, OCPB_LIST_PAGE_SIZE, write_tenant_page, pages);
	subject.action = psprintf("list the data backups of %s", subject.object);
	ocpb_read_pages(pages->endpoint,
					psprintf("/api/v2/ob/clusters/" INT64_FORMAT
							 "/backup/task/dataBackupTasks", pages->cluster_id),
					&subject, HISTORY_PAGE_SIZE, write_history_page, pages);
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
	/* A cluster OCP fails to describe leaves the others' rows. */
	for (i = 0; i < n_clusters; i++)
	{
		ErrorData  *failure;

		pages.cluster_id = DatumGetInt64(cluster_ids[i]);
		failure = ocpb_try_in_subtransaction(sync_cluster, &pages);
		if (failure == NULL)
			continue;
		ereport(WARNING,
				(errcode(failure->sqlerrcode),
				 errmsg("could not sync cluster " INT64_FORMAT " of OCP server \"%s\"",
						pages.cluster_id, endpoint->server_name),
				 errdetail("%s", ocpb_error_text(failure)),
				 errhint("Its tenants and backups keep the rows of its last sync.")));
		pages.counts->clusters_failed++;
		if (pages.counts->first_failure == NULL)
			pages.counts->first_failure = failure;
	}
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
	ocpb_spool_flush_leftovers();
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
