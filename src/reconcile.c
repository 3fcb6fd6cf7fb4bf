/*
 * reconcile.c - ocp_backup_reconcile: settles the journal rows whose
 * outcome is unknown.
 *
 * A request that may have reached OCP without an answer read (a timeout
 * after sending, a dropped connection, a cancel, a crash) may or may not
 * have started a backup; backupNow is not idempotent, so calling again
 * blindly may start a second one.  OCP's task list, newest first, shows the
 * tasks of the call's cluster; the SQL writer looks in each page for a
 * backup task created around the call that no journal row has, records it
 * as the call's task, or records that OCP lists none.  It never invents
 * one: a call is settled only by what a page showed.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "endpoint.h"
#include "journal.h"
#include "ocp_list.h"
#include "server_loop.h"

PG_FUNCTION_INFO_V1(ocp_backup_reconcile);

/* The window around a call is a few minutes: it mostly fits one page. */
#define TASK_PAGE_SIZE 100

typedef struct ReconcileRun
{
	Interval   *since;
	int			settled;
} ReconcileRun;

/* [id, cluster id] per unsettled call of the server, flattened. */
static void
unsettled_calls(const char *server_name, Interval *since, Datum **calls, int *n)
{
	static const Oid arg_types[] = {TEXTOID, INTERVALOID};
	Datum		args[2];
	bool		nulls[2] = {false, false};
	ArrayType  *array;

	args[0] = CStringGetTextDatum(server_name);
	args[1] = IntervalPGetDatum(since);
	array = DatumGetArrayTypeP(ocpb_call_writer("unsettled_calls", 2, arg_types, args, nulls));
	deconstruct_array(array, INT8OID, 8, true, TYPALIGN_DOUBLE, calls, NULL, n);
}

typedef struct CallPages
{
	const OcpbEndpoint *endpoint;
	int64		invocation_id;
} CallPages;

/* One page of the cluster's tasks; false once the call is settled. */
static bool
reconcile_page(const OcpbPageRead *read, void *arg)
{
	static const Oid arg_types[] = {TEXTOID, INT8OID, JSONBOID, BOOLOID};
	CallPages  *call = arg;
	Datum		args[4];
	bool		nulls[4] = {false, false, false, false};

	args[0] = CStringGetTextDatum(call->endpoint->server_name);
	args[1] = Int64GetDatum(call->invocation_id);
	args[2] = read->answer;
	args[3] = BoolGetDatum(read->last);
	return !DatumGetBool(ocpb_call_writer("reconcile_page", 4, arg_types, args, nulls));
}

static void
reconcile_server(const OcpbEndpoint *endpoint, void *arg)
{
	ReconcileRun *run = arg;
	CallPages	call;
	Datum	   *calls;
	int			n;
	int			i;

	/* Overlapping runs would look for the same calls' tasks twice. */
	ocpb_lock_server(OCPB_LOCK_RECONCILE, endpoint->server_id);
	unsettled_calls(endpoint->server_name, run->since, &calls, &n);
	call.endpoint = endpoint;
	/* Oldest first: each call takes the task nearest to it not yet taken. */
	for (i = 0; i + 1 < n; i += 2)
	{
		int64		cluster_id = DatumGetInt64(calls[i + 1]);

		call.invocation_id = DatumGetInt64(calls[i]);
		ocpb_read_pages(endpoint,
						psprintf("/api/v2/tasks/instances?clusterId=" INT64_FORMAT, cluster_id),
						psprintf("the tasks of cluster " INT64_FORMAT, cluster_id),
						TASK_PAGE_SIZE, reconcile_page, &call);
		run->settled++;
	}
}

Datum
ocp_backup_reconcile(PG_FUNCTION_ARGS)
{
	ReconcileRun run;
	Interval	no_time = {0};
	List	   *servers;
	ListCell   *cell;
	int			settled = 0;

	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("since must not be NULL")));
	run.since = PG_GETARG_INTERVAL_P(1);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(run.since),
										 IntervalPGetDatum(&no_time))))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("since must not be a negative interval")));
	/* It records what it finds: refuse before asking OCP. */
	ocpb_journal_check_writable("ocp_backup_reconcile()");
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
