/*
 * reconcile.c - ocp_backup_reconcile: settles the journal rows whose
 * outcome is unknown.
 *
 * A request that may have reached OCP without an answer read (a timeout
 * after sending, a dropped connection, a cancel, a crash) may or may not
 * have started a backup; backupNow is not idempotent, so calling again
 * blindly may start a second one.  OCP's task list shows the tasks of the
 * call's cluster, in pages of OCP's largest size; the SQL writer looks in
 * each page for a backup task created around the call that no journal row
 * has and records it as the call's task, or, after the last page, records
 * that OCP lists none.  It never invents one: a call is settled only by
 * what the pages showed.
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


typedef struct ReconcileRun
{
	Interval   *since;
	Interval   *margin;		/* the clock difference allowed with OCP */
	int			settled;
} ReconcileRun;

/*
 * How long the call may have waited for OCP, during which OCP may have
 * created its task: the server's timeout_ms.
 */
static Datum
call_timeout(const OcpbEndpoint *endpoint)
{
	Interval   *timeout = palloc0(sizeof(Interval));

	timeout->time = (TimeOffset) endpoint->timeout_ms * 1000;
	return IntervalPGetDatum(timeout);
}

/*
 * [id, cluster id] per unsettled call of the server made through this user
 * mapping and past its window, flattened.
 */
static void
unsettled_calls(const OcpbEndpoint *endpoint, const ReconcileRun *run, Datum **calls, int *n)
{
	static const Oid arg_types[] = {TEXTOID, OIDOID, INTERVALOID, INTERVALOID, INTERVALOID};
	Datum		args[5];
	bool		nulls[5] = {false, false, false, false, false};
	ArrayType  *array;

	args[0] = CStringGetTextDatum(endpoint->server_name);
	args[1] = ObjectIdGetDatum(endpoint->user_mapping_id);
	args[2] = IntervalPGetDatum(run->since);
	args[3] = IntervalPGetDatum(run->margin);
	args[4] = call_timeout(endpoint);
	array = DatumGetArrayTypeP(ocpb_call_writer("unsettled_calls", 5, arg_types, args, nulls));
	deconstruct_array(array, INT8OID, 8, true, TYPALIGN_DOUBLE, calls, NULL, n);
}

typedef struct CallPages
{
	const OcpbEndpoint *endpoint;
	const ReconcileRun *run;
	int64		invocation_id;
} CallPages;

/* One page of the cluster's tasks; false once the call is settled. */
static bool
reconcile_page(const OcpbPageRead *read, void *arg)
{
	static const Oid arg_types[] = {
		TEXTOID, INT8OID, INTERVALOID, INTERVALOID, TEXTOID, JSONBOID, BOOLOID
	};
	CallPages  *call = arg;
	Datum		args[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	args[0] = CStringGetTextDatum(call->endpoint->server_name);
	args[1] = Int64GetDatum(call->invocation_id);
	args[2] = IntervalPGetDatum(call->run->margin);
	args[3] = call_timeout(call->endpoint);
	/* With AK/SK, OCP's name of the account is not known here. */
	nulls[4] = call->endpoint->username == NULL;
	args[4] = nulls[4] ? (Datum) 0 : CStringGetTextDatum(call->endpoint->username);
	args[5] = read->answer;
	args[6] = BoolGetDatum(read->last);
	return !DatumGetBool(ocpb_call_writer("reconcile_page", 7, arg_types, args, nulls));
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
	unsettled_calls(endpoint, run, &calls, &n);
	call.endpoint = endpoint;
	call.run = run;
	/* Oldest first: each call takes the task nearest to it not yet taken. */
	for (i = 0; i + 1 < n; i += 2)
	{
		int64		cluster_id = DatumGetInt64(calls[i + 1]);
		OcpbCallSubject subject;

		call.invocation_id = DatumGetInt64(calls[i]);
		subject.object = psprintf("cluster " INT64_FORMAT, cluster_id);
		subject.action = psprintf("list the tasks of %s", subject.object);
		ocpb_read_pages(endpoint,
						psprintf("/api/v2/tasks/instances?clusterId=" INT64_FORMAT, cluster_id),
						&subject, OCPB_LIST_PAGE_SIZE, reconcile_page, &call);
		run->settled++;
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
