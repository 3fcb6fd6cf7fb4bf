/*
 * sync.c - ocp_backup_sync: mirrors OCP's inventory and backup history.
 *
 * For each server: every page of the cluster list, then for each cluster
 * OCP lists, every page of its tenants and the new pages of its data-backup
 * history.  The GETs go out as the caller, with the caller's user mapping;
 * the rows are written by the SQL writers of the install script, as the
 * journal's owner, from what was read here.  Each server runs in a
 * subtransaction of its own, so that one that fails leaves the others'
 * rows and says why in its result row.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "endpoint.h"
#include "journal.h"
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
	int			tenants;
	int			backup_jobs;
} SyncCounts;

static void
sync_cluster_list(const OcpbEndpoint *endpoint, MemoryContext page_context,
				  SyncCounts *counts)
{
	static const Oid arg_types[] = {TEXTOID, JSONBOID, BOOLOID};
	Datum		args[3];
	bool		nulls[3] = {false, false, false};
	OcpbPageRead read;
	long		page;
	MemoryContext caller_context = MemoryContextSwitchTo(page_context);

	for (page = 1;; page++)
	{
		ocpb_read_list_page(endpoint, "/api/v2/ob/clusters", "the clusters", page,
							OCPB_LIST_PAGE_SIZE, &read);
		args[0] = CStringGetTextDatum(endpoint->server_name);
		args[1] = read.answer;
		args[2] = BoolGetDatum(read.last);
		counts->clusters_missing =
			DatumGetInt32(ocpb_call_writer("record_cluster_page", 3, arg_types, args, nulls));
		counts->clusters += read.n_rows;
		MemoryContextReset(page_context);
		if (read.last)
			break;
	}
	MemoryContextSwitchTo(caller_context);
}

static void
sync_tenants(const OcpbEndpoint *endpoint, int64 cluster_id, MemoryContext page_context,
			 SyncCounts *counts)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, JSONBOID, BOOLOID};
	Datum		args[4];
	bool		nulls[4] = {false, false, false, false};
	OcpbPageRead read;
	long		page;
	MemoryContext caller_context = MemoryContextSwitchTo(page_context);

	for (page = 1;; page++)
	{
		ocpb_read_list_page(endpoint,
							psprintf("/api/v2/ob/clusters/" INT64_FORMAT "/tenants", cluster_id),
							psprintf("the tenants of cluster " INT64_FORMAT, cluster_id),
							page, OCPB_LIST_PAGE_SIZE, &read);
		args[0] = CStringGetTextDatum(endpoint->server_name);
		args[1] = Int64GetDatum(cluster_id);
		args[2] = read.answer;
		args[3] = BoolGetDatum(read.last);
		(void) ocpb_call_writer("record_tenant_page", 4, arg_types, args, nulls);
		counts->tenants += read.n_rows;
		MemoryContextReset(page_context);
		if (read.last)
			break;
	}
	MemoryContextSwitchTo(caller_context);
}

static void
sync_history(const OcpbEndpoint *endpoint, int64 cluster_id, MemoryContext page_context,
			 SyncCounts *counts)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, JSONBOID};
	Datum		args[3];
	bool		nulls[3] = {false, false, false};
	OcpbPageRead read;
	long		page;
	bool		go_on;
	MemoryContext caller_context = MemoryContextSwitchTo(page_context);

	for (page = 1;; page++)
	{
		ocpb_read_list_page(endpoint,
							psprintf("/api/v2/ob/clusters/" INT64_FORMAT
									 "/backup/task/dataBackupTasks", cluster_id),
							psprintf("the data backups of cluster " INT64_FORMAT, cluster_id),
							page, HISTORY_PAGE_SIZE, &read);
		args[0] = CStringGetTextDatum(endpoint->server_name);
		args[1] = Int64GetDatum(cluster_id);
		args[2] = read.answer;
		/* False once a page holds a job already recorded as finished. */
		go_on = DatumGetBool(ocpb_call_writer("record_backup_page", 3, arg_types, args, nulls));
		counts->backup_jobs += read.n_rows;
		MemoryContextReset(page_context);
		if (read.last || !go_on)
			break;
	}
	MemoryContextSwitchTo(caller_context);
}

/* The clusters the server lists now, as the sync just recorded them. */
static ArrayType *
listed_clusters(const char *server_name)
{
	static const Oid arg_types[] = {TEXTOID};
	Datum		args[1];
	bool		nulls[1] = {false};

	args[0] = CStringGetTextDatum(server_name);
	return DatumGetArrayTypeP(ocpb_call_writer("listed_clusters", 1, arg_types, args, nulls));
}

static void
sync_server(const OcpbEndpoint *endpoint, void *arg)
{
	SyncCounts *counts = arg;
	MemoryContext page_context;
	ArrayType  *clusters;
	Datum	   *cluster_ids;
	int			n_clusters;
	int			i;

	/* Overlapping syncs of a server wait for each other instead of racing. */
	ocpb_lock_server(OCPB_LOCK_SYNC, endpoint->server_id);
	page_context = AllocSetContextCreate(CurrentMemoryContext, "ocp_backup sync page",
										 ALLOCSET_DEFAULT_SIZES);
	sync_cluster_list(endpoint, page_context, counts);
	clusters = listed_clusters(endpoint->server_name);
	deconstruct_array(clusters, INT8OID, 8, true, TYPALIGN_DOUBLE,
					  &cluster_ids, NULL, &n_clusters);
	for (i = 0; i < n_clusters; i++)
	{
		sync_tenants(endpoint, DatumGetInt64(cluster_ids[i]), page_context, counts);
		sync_history(endpoint, DatumGetInt64(cluster_ids[i]), page_context, counts);
	}
	MemoryContextDelete(page_context);
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
	servers = ocpb_servers_to_visit(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	foreach(cell, servers)
	{
		const char *server_name = lfirst(cell);
		SyncCounts	counts;
		ErrorData  *error;

		memset(&counts, 0, sizeof(counts));
		error = ocpb_visit_server(server_name, sync_server, &counts);
		if (error != NULL)
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
