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
#include "utils/datum.h"
#include "utils/timestamp.h"

#include "endpoint.h"
#include "journal.h"
#include "spool.h"
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
 * How long after its start a call's request may have reached OCP, which
 * then creates its task: the server's timeout_ms, after the connection
 * attempts and waits of its retries (a retry is made only when nothing was
 * sent).
 */
static Datum
call_deadline(const OcpbEndpoint *endpoint)
{
	Interval   *deadline = palloc0(sizeof(Interval));
	int64		ms = endpoint->timeout_ms;
	int64		backoff = endpoint->retry_backoff_ms;
	int			attempt;

	for (attempt = 0; attempt < endpoint->retries; attempt++)
	{
		ms += endpoint->connect_timeout_ms + backoff;
		backoff *= 2;
	}
	deadline->time = (TimeOffset) ms * 1000;
	return IntervalPGetDatum(deadline);
}

/*
 * [id, cluster id] per unsettled call of the server made as this OCP
 * account and past its window, flattened.
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

typedef struct CallPages
{
	const OcpbEndpoint *endpoint;
	const ReconcileRun *run;
	int64		invocation_id;
	int64		cluster_id;
	MemoryContext keep;			/* where the pages read are kept */
	List	   *pages;			/* of jsonb Datums */
	bool		settled;		/* by what the pages showed */
} CallPages;

/* Every page is kept: which task is the call's is decided on all of them. */
static bool
keep_page(const OcpbPageRead *read, void *arg)
{
	CallPages  *call = arg;
	MemoryContext page_context = MemoryContextSwitchTo(call->keep);

	call->pages = lappend(call->pages, DatumGetPointer(datumCopy(read->answer, false, -1)));
	MemoryContextSwitchTo(page_context);
	return true;
}

/* Reads the cluster's tasks and settles the call, or notes why not. */
static void
reconcile_call(void *arg)
{
	static const Oid arg_types[] = {
		TEXTOID, INT8OID, INTERVALOID, INTERVALOID, TEXTOID, JSONBARRAYOID
	};
	CallPages  *call = arg;
	OcpbCallSubject subject;
	Datum		args[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	Datum	   *pages;
	ListCell   *cell;
	int			n = 0;

	subject.object = psprintf("cluster " INT64_FORMAT, call->cluster_id);
	subject.action = psprintf("list the tasks of %s", subject.object);
	call->keep = CurrentMemoryContext;
	call->pages = NIL;
	ocpb_read_pages(call->endpoint,
					psprintf("/api/v2/tasks/instances?clusterId=" INT64_FORMAT, call->cluster_id),
					&subject, OCPB_LIST_PAGE_SIZE, keep_page, call);
	pages = palloc(sizeof(Datum) * Max(list_length(call->pages), 1));
	foreach(cell, call->pages)
		pages[n++] = PointerGetDatum(lfirst(cell));
	args[0] = CStringGetTextDatum(call->endpoint->server_name);
	args[1] = Int64GetDatum(call->invocation_id);
	args[2] = IntervalPGetDatum(call->run->margin);
	args[3] = call_deadline(call->endpoint);
	/* With AK/SK, OCP's name of the account is not known here. */
	nulls[4] = call->endpoint->username == NULL;
	args[4] = nulls[4] ? (Datum) 0 : CStringGetTextDatum(call->endpoint->username);
	args[5] = PointerGetDatum(construct_array(pages, n, JSONBOID, -1, false, TYPALIGN_INT));
	call->settled = DatumGetBool(ocpb_call_privileged("reconcile_call", 6, arg_types, args, nulls));
}

static void
reconcile_server(const OcpbEndpoint *endpoint, void *arg)
{
	ReconcileRun *run = arg;
	CallPages	call;
	Datum	   *calls;
	int			n;
	int			i;

	/* Overlapping runs would look for the same calls' tasks twice: one skips. */
	ocpb_lock_server(OCPB_LOCK_RECONCILE, endpoint->server_id, endpoint->server_name);
	unsettled_calls(endpoint, run, &calls, &n);
	call.endpoint = endpoint;
	call.run = run;
	/*
	 * Oldest first: each call takes the task nearest to it not yet taken.  A
	 * call whose tasks cannot be read stays unsettled; the others go on.
	 */
	for (i = 0; i + 1 < n; i += 2)
	{
		ErrorData  *failure;

		call.invocation_id = DatumGetInt64(calls[i]);
		call.cluster_id = DatumGetInt64(calls[i + 1]);
		call.settled = false;
		failure = ocpb_try_in_subtransaction(reconcile_call, &call);
		if (failure == NULL)
		{
			run->settled += call.settled;
			continue;
		}
		ereport(WARNING,
				(errcode(failure->sqlerrcode),
				 errmsg("could not reconcile journal row " INT64_FORMAT " of OCP server \"%s\"",
						call.invocation_id, endpoint->server_name),
				 errdetail("%s", ocpb_error_text(failure)),
				 errhint("It stays unsettled until a later ocp_backup_reconcile() reads its cluster's tasks.")));
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
	ocpb_spool_flush_leftovers();
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
