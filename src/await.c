/*
 * await.c - ocp_backup_await, the procedures that wait for tasks without
 * holding back vacuum.
 *
 * ocp_backup_wait is a function: its whole wait is one transaction, with
 * an xid (its status updates) and a snapshot, so vacuum cleans nothing
 * newer anywhere in the cluster, and the statuses it reads stay invisible
 * to other sessions until it returns.  A procedure called on its own may
 * commit: each task read here (ocp_backup_task, which records its status
 * in ocp_backup.task) is committed at once, and the sleep between polls
 * runs in a transaction that has neither an xid nor a snapshot.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_compat.h"

PG_FUNCTION_INFO_V1(ocp_backup_await);
PG_FUNCTION_INFO_V1(ocp_backup_await_task);
PG_FUNCTION_INFO_V1(ocp_backup_await_invocations);

/* SQLSTATE OB001: a wait ran out of its own timeout, as ocp_backup_wait's. */
#define OCPB_ERRCODE_WAIT_TIMEOUT MAKE_SQLSTATE('O', 'B', '0', '0', '1')
/* SQLSTATE OB003: a task waited for ended FAILED. */
#define OCPB_ERRCODE_TASK_FAILED MAKE_SQLSTATE('O', 'B', '0', '0', '3')

/* How many unfinished tasks a timeout's detail names. */
#define TASKS_NAMED 10

typedef struct AwaitedTask
{
	int64		task_id;
	char	   *server;			/* NULL: the default server */
	char	   *status;			/* last read; NULL before the first */
	int			done;
	int			total;
	bool		ended;
} AwaitedTask;

typedef struct Await
{
	AwaitedTask *tasks;
	int			n;
	TimestampTz deadline;
	int64		poll_us;
	char	   *timeout_text;
	char	   *read_query;		/* the extension's ocp_backup_task, qualified */
} Await;

/* Refuses a call that cannot commit: inside a transaction block or a function. */
static void
require_own_transaction(FunctionCallInfo fcinfo, const char *name)
{
	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a transaction block", name),
				 errdetail("It commits after each task it reads, so that it holds no transaction while it waits."),
				 errhint("CALL it on its own, outside any transaction block; inside a transaction, use ocp_backup_wait().")));
}

static int64
interval_us(const Interval *interval)
{
	return interval->time + (int64) interval->day * USECS_PER_DAY +
		(int64) interval->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

/* timeout and poll, arguments first and first + 1. */
static void
read_times(FunctionCallInfo fcinfo, int first, Await *await)
{
	Interval   *timeout;
	Interval   *poll;

	if (PG_ARGISNULL(first) || PG_ARGISNULL(first + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout and poll must not be NULL")));
	timeout = PG_GETARG_INTERVAL_P(first);
	poll = PG_GETARG_INTERVAL_P(first + 1);
	await->poll_us = interval_us(poll);
	if (await->poll_us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("poll must be a positive interval")));
	await->deadline = GetCurrentTimestamp() + interval_us(timeout);
	await->timeout_text = DatumGetCString(DirectFunctionCall1(interval_out,
															  IntervalPGetDatum(timeout)));
}

/*
 * The query that reads one task through the extension's ocp_backup_task,
 * in the schema of the procedure called (the extension's), with typed
 * arguments: no name of the caller's takes part.  Built before the first
 * commit.
 */
static char *
read_query(FunctionCallInfo fcinfo)
{
	char	   *schema = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));

	return psprintf("SELECT t.status, t.subtasks_done, t.subtasks_total, t.failed_subtask "
					"FROM %s.ocp_backup_task($1::pg_catalog.int8, $2::pg_catalog.text) t",
					quote_identifier(schema));
}

static bool
is_terminal(const char *status)
{
	return status != NULL && (strcmp(status, "SUCCESSFUL") == 0 || strcmp(status, "FAILED") == 0);
}

/*
 * Reads a task from OCP (its status recorded in ocp_backup.task), tells of
 * a change, and commits: the status is visible to every session at once.
 */
static void
read_task(Await *await, AwaitedTask *task, MemoryContext keep)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Oid			types[2] = {INT8OID, TEXTOID};
	char	   *status;
	char	   *done;
	char	   *total;
	char	   *failed_subtask;
	int			ret;

	values[0] = Int64GetDatum(task->task_id);
	values[1] = task->server ? CStringGetTextDatum(task->server) : (Datum) 0;
	nulls[1] = task->server ? ' ' : 'n';
	ret = SPI_execute_with_args(await->read_query, 2, types, values, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading task " INT64_FORMAT " returned %d (%d rows)", task->task_id,
			 ret, (int) SPI_processed);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	done = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	total = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	failed_subtask = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	if (task->status == NULL || status == NULL || strcmp(task->status, status) != 0 ||
		task->done != (done ? atoi(done) : 0))
		ereport(NOTICE,
				(errmsg("task " INT64_FORMAT ": %s (%s of %s subtasks done)%s%s",
						task->task_id, status ? status : "(no status)",
						done ? done : "?", total ? total : "?",
						failed_subtask ? ", failed subtask: " : "",
						failed_subtask ? failed_subtask : "")));
	task->status = status ? MemoryContextStrdup(keep, status) : NULL;
	task->done = done ? atoi(done) : 0;
	task->total = total ? atoi(total) : 0;
	task->ended = is_terminal(status);
	SPI_freetuptable(SPI_tuptable);
	SPI_commit();
}

static void
raise_timeout(const Await *await, int unfinished)
{
	StringInfoData detail;
	int			named = 0;
	int			i;

	initStringInfo(&detail);
	if (await->n == 1)
	{
		const AwaitedTask *task = &await->tasks[0];

		ereport(ERROR,
				(errcode(OCPB_ERRCODE_WAIT_TIMEOUT),
				 errmsg("task " INT64_FORMAT " did not finish within %s",
						task->task_id, await->timeout_text),
				 errdetail("Its last status was %s, with %d of %d subtasks done.",
						   task->status ? task->status : "(none)", task->done, task->total),
				 errhint("The task goes on in OCP; wait again, or let ocp_backup_refresh() follow it.")));
	}
	for (i = 0; i < await->n && named < TASKS_NAMED; i++)
	{
		const AwaitedTask *task = &await->tasks[i];

		if (task->ended)
			continue;
		appendStringInfo(&detail, "%sTask " INT64_FORMAT ": %s, %d of %d subtasks done.",
						 named > 0 ? "\n" : "", task->task_id,
						 task->status ? task->status : "(none)", task->done, task->total);
		named++;
	}
	if (unfinished > named)
		appendStringInfo(&detail, "\nAnd %d more.", unfinished - named);
	ereport(ERROR,
			(errcode(OCPB_ERRCODE_WAIT_TIMEOUT),
			 errmsg("%d of %d tasks did not finish within %s", unfinished, await->n,
					await->timeout_text),
			 errdetail_internal("%s", detail.data),
			 errhint("The tasks go on in OCP; wait again, or let ocp_backup_refresh() follow them.")));
}

/*
 * Sleeps until the next poll, in a transaction with no xid and no
 * snapshot, waking for a cancel or a signal (the cancel is raised).
 */
static void
sleep_until(TimestampTz wake)
{
	/* A catalog snapshot would keep an xmin. */
	InvalidateCatalogSnapshot();
	for (;;)
	{
		long		remaining_ms;

		CHECK_FOR_INTERRUPTS();
		remaining_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake);
		if (remaining_ms <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 remaining_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Every task has ended: a task that ended FAILED makes the wait fail
 * (OB003), so that a pg_cron job that waits says failed too.  What was read
 * is committed already.
 */
static void
report_failed_tasks(const Await *await)
{
	StringInfoData ids;
	int			failed = 0;
	int			i;

	initStringInfo(&ids);
	for (i = 0; i < await->n; i++)
	{
		if (strcmp(await->tasks[i].status, "FAILED") != 0)
			continue;
		if (failed < TASKS_NAMED)
			appendStringInfo(&ids, "%s" INT64_FORMAT, failed > 0 ? ", " : "",
							 await->tasks[i].task_id);
		failed++;
	}
	if (failed > TASKS_NAMED)
		appendStringInfo(&ids, " and %d more", failed - TASKS_NAMED);
	if (failed > 0)
		ereport(ERROR,
				(errcode(OCPB_ERRCODE_TASK_FAILED),
				 errmsg_plural("%d of %d task ended FAILED: %s",
							   "%d of %d tasks ended FAILED: %s",
							   await->n, failed, await->n, ids.data),
				 errhint("Their failed subtasks are in ocp_backup.task and in the NOTICEs above; OCP's task view has the rest.")));
}

/*
 * Reads every unfinished task each poll until all have ended, committing
 * after each read; raises OB001 when the next poll would come after the
 * deadline, and OB003 when a task ended FAILED.
 */
static void
await_tasks(Await *await, MemoryContext keep)
{
	for (;;)
	{
		TimestampTz round_start = GetCurrentTimestamp();
		int			unfinished = 0;
		int			i;

		for (i = 0; i < await->n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!await->tasks[i].ended)
				read_task(await, &await->tasks[i], keep);
			if (!await->tasks[i].ended)
				unfinished++;
		}
		if (unfinished == 0)
		{
			report_failed_tasks(await);
			return;
		}
		if (round_start + await->poll_us > await->deadline)
			raise_timeout(await, unfinished);
		sleep_until(round_start + await->poll_us);
	}
}

/* The distinct task ids of the array, in their first order. */
static void
read_task_ids(ArrayType *array, const char *server, Await *await)
{
	Datum	   *elements;
	bool	   *nulls;
	int			n;
	int			i;
	int			j;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("task_ids must be a one-dimensional array")));
	deconstruct_array(array, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE,
					  &elements, &nulls, &n);
	await->tasks = palloc0(sizeof(AwaitedTask) * Max(n, 1));
	await->n = 0;
	for (i = 0; i < n; i++)
	{
		int64		id;
		bool		seen = false;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("task_ids must not hold NULL")));
		id = DatumGetInt64(elements[i]);
		if (id <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("task_id must be positive, not " INT64_FORMAT, id)));
		for (j = 0; j < await->n && !seen; j++)
			seen = await->tasks[j].task_id == id;
		if (seen)
			continue;
		await->tasks[await->n].task_id = id;
		await->tasks[await->n].server = server ? pstrdup(server) : NULL;
		await->n++;
	}
}

/*
 * ocp_backup_await(task_ids bigint[], timeout, poll, server) (one_task
 * false) and ocp_backup_await(task_id bigint, timeout, poll, server).
 */
static void
await_given_tasks(FunctionCallInfo fcinfo, bool one_task)
{
	Await		await;
	char	   *server;
	MemoryContext keep;

	require_own_transaction(fcinfo, "ocp_backup_await");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", one_task ? "task_id" : "task_ids")));
	memset(&await, 0, sizeof(await));
	SPI_connect_ext(SPI_OPT_NONATOMIC);
	/* SPI's procedure context lasts until SPI_finish, across commits. */
	keep = CurrentMemoryContext;
	read_times(fcinfo, 1, &await);
	server = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (one_task)
	{
		int64		id = PG_GETARG_INT64(0);

		if (id <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("task_id must be positive, not " INT64_FORMAT, id)));
		await.tasks = palloc0(sizeof(AwaitedTask));
		await.tasks[0].task_id = id;
		await.tasks[0].server = server;
		await.n = 1;
	}
	else
		read_task_ids(PG_GETARG_ARRAYTYPE_P(0), server, &await);
	await.read_query = read_query(fcinfo);
	await_tasks(&await, keep);
	SPI_finish();
}

Datum
ocp_backup_await(PG_FUNCTION_ARGS)
{
	await_given_tasks(fcinfo, false);
	PG_RETURN_VOID();
}

Datum
ocp_backup_await_task(PG_FUNCTION_ARGS)
{
	await_given_tasks(fcinfo, true);
	PG_RETURN_VOID();
}

/*
 * ocp_backup_await_invocations(invocation_ids bigint[], timeout, poll):
 * every task the calls of those journal rows started, each read through
 * its call's server.  Reads ocp_backup.task with the caller's rights.
 */
Datum
ocp_backup_await_invocations(PG_FUNCTION_ARGS)
{
	Await		await;
	MemoryContext keep;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	uint64		i;
	int			ret;

	require_own_transaction(fcinfo, "ocp_backup_await_invocations");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("invocation_ids must not be NULL")));
	memset(&await, 0, sizeof(await));
	SPI_connect_ext(SPI_OPT_NONATOMIC);
	keep = CurrentMemoryContext;
	read_times(fcinfo, 1, &await);
	values[0] = PG_GETARG_DATUM(0);
	ret = SPI_execute_with_args("SELECT t.server_name, t.task_id FROM ocp_backup.task t "
								"WHERE t.invocation_id OPERATOR(pg_catalog.=) ANY ($1) "
								"ORDER BY t.invocation_id, t.task_id",
								1, types, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the tasks of the invocations returned %d", ret);
	await.n = (int) SPI_processed;
	await.tasks = MemoryContextAllocZero(keep, sizeof(AwaitedTask) * Max(await.n, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		await.tasks[i].server = MemoryContextStrdup(keep,
													SPI_getvalue(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc, 1));
		await.tasks[i].task_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	if (await.n == 0)
		ereport(NOTICE,
				(errmsg("the invocations started no task to wait for")));
	await.read_query = read_query(fcinfo);
	await_tasks(&await, keep);
	SPI_finish();
	PG_RETURN_VOID();
}
