/*
 * journal.c - records every call that tried to reach OCP in
 * ocp_backup.invocation.
 *
 *
 * The SQL writes run in the install script's SECURITY DEFINER functions,
 * looked up once and kept by OID (catalog.c), whose search_path is pinned
 * to pg_catalog, pg_temp: they run with the journal owner's rights, so
 * that roles allowed to trigger backups get their calls recorded without
 * being able to write (or forge) journal rows themselves, and no name in
 * them resolves through a search_path the caller or the database's owner
 * controls.  They are granted to nobody and called through fmgr, which
 * checks no EXECUTE privilege.  ocp_backup.record_invocation writes every
 * journal row and its task rows, from the row's JSON (journal_row.c), a
 * call's as the journal writer's: there is no other way into the
 * journal's tables.
 *
 * The row's id is drawn, and made durable with the sequence's WAL, before
 * the row is logged and the request sent: a crash cannot hand it out again.
 * The complete row is logged as soon as the answer is read, before anything
 * else can fail.
 */
#include "journal.h"

#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"

#include "call_log.h"
#include "catalog.h"

void
ocpb_journal_check_writable(const char *function_name)
{
	PreventCommandIfReadOnly(function_name);
	PreventCommandDuringRecovery(function_name);
}

bool
ocpb_journal_record_jsonb(Jsonb *row)
{
	return DatumGetBool(OidFunctionCall1(ocpb_journal_catalog()->record_invocation,
										 JsonbPGetDatum(row)));
}

/* The sequence's last value; false when it has handed out none. */
static bool
sequence_last_value(Oid sequence, int64 *last)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		value;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(sequence);
	fcinfo->args[0].isnull = false;
	value = pg_sequence_last_value(fcinfo);
	if (fcinfo->isnull)
		return false;
	*last = DatumGetInt64(value);
	return true;
}

/*
 * The ids this writer moved the sequence over by adopting rows: none of
 * them was handed out as long as the sequence still stands where the
 * writer left it.  Rows come newest first, so the first adopted moves the
 * sequence past the others of its log.
 */
typedef struct AdoptedIds
{
	Oid			sequence;
	int64		floor;			/* the sequence's last value before */
	int64		top;			/* where the writer left it */
} AdoptedIds;

static AdoptedIds adopted;

void
ocpb_journal_adopt_row(Jsonb *row, int64 id)
{
	OcpbJournalCatalog *catalog = ocpb_journal_catalog();
	int64		last = 0;
	int64		floor;

	/*
	 * nextval takes RowExclusiveLock, which this conflicts with: no id is
	 * handed out between the look and the move.
	 */
	LockRelationOid(catalog->id_sequence, ShareLock);
	(void) sequence_last_value(catalog->id_sequence, &last);
	floor = adopted.sequence == catalog->id_sequence && adopted.top == last ?
		adopted.floor : last;
	if (id <= floor)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("the row's journal was dropped, and its id " INT64_FORMAT " may belong to a call of the new journal",
						id),
				 errdetail("The new journal has handed out ids up to " INT64_FORMAT ".", floor)));
	if (id > last)
	{
		(void) DirectFunctionCall2(setval_oid, ObjectIdGetDatum(catalog->id_sequence),
								   Int64GetDatum(id));
		adopted.sequence = catalog->id_sequence;
		adopted.floor = floor;
		adopted.top = id;
	}
	(void) ocpb_journal_record_jsonb(row);
}

/*
 * An id handed out must survive a crash, or another call gets it: nextval
 * WAL-logs a batch of ids ahead, not always in this transaction (a nextval
 * in SQL may have), and flushes nothing.  The sequence page's LSN is that
 * of its last record.
 */
static void
flush_sequence_wal(Oid sequence)
{
	Relation	relation = relation_open(sequence, AccessShareLock);
	Buffer		buffer = ReadBuffer(relation, 0);
	XLogRecPtr	lsn;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	lsn = PageGetLSN(BufferGetPage(buffer));
	UnlockReleaseBuffer(buffer);
	relation_close(relation, AccessShareLock);
	XLogFlush(lsn);
}

void
ocpb_journal_call_in_flight(OcpbInvocation *invocation)
{
	OcpbInvocation interrupted;

	invocation->id = nextval_internal(ocpb_journal_catalog()->id_sequence, false);
	flush_sequence_wal(ocpb_journal_catalog()->id_sequence);
	interrupted = *invocation;

	interrupted.finished_at = invocation->started_at;
	interrupted.http_status = 0;
	interrupted.successful = false;
	interrupted.n_task_ids = 0;
	interrupted.trace_id = NULL;
	interrupted.response_text = NULL;
	interrupted.outcome_unknown = true;
	interrupted.error = "the call ended before OCP's answer was read "
		"(a cancel, statement_timeout, the backend's exit or a crash); "
		"the request may have reached OCP: look in OCP for a task it may have started";
	ocpb_call_log_leaving(ocpb_journal_row_json(&interrupted));
}

/*
 * The row and its task rows written by the SQL writer, from the row the
 * call log holds; false when a row of its id is there already.
 */
static bool
insert_call(const char *row)
{
	return ocpb_journal_record_jsonb(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																		CStringGetDatum(row))));
}

void
ocpb_journal_record_call(const OcpbInvocation *invocation, bool insert)
{
	char	   *row = ocpb_journal_row_json(invocation);

	ocpb_call_log_answered(row);
	/* A row there already came from the log: it still needs the writer. */
	if (insert && insert_call(row))
		ocpb_call_log_inserted();
	pfree(row);
}

void
ocpb_journal_task_status(const OcpbTaskStatus *task)
{
	LOCAL_FCINFO(fcinfo, 7);
	FmgrInfo	record_task_status;

	fmgr_info(ocpb_journal_catalog()->record_task_status, &record_task_status);
	InitFunctionCallInfoData(*fcinfo, &record_task_status, 7, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = CStringGetTextDatum(task->server_name);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = Int64GetDatum(task->task_id);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = task->status ? CStringGetTextDatum(task->status) : (Datum) 0;
	fcinfo->args[2].isnull = task->status == NULL;
	fcinfo->args[3].value = Int32GetDatum(task->subtasks_total);
	fcinfo->args[3].isnull = false;
	fcinfo->args[4].value = Int32GetDatum(task->subtasks_done);
	fcinfo->args[4].isnull = false;
	fcinfo->args[5].value = task->failed_subtask ? CStringGetTextDatum(task->failed_subtask) : (Datum) 0;
	fcinfo->args[5].isnull = task->failed_subtask == NULL;
	fcinfo->args[6].value = TimestampTzGetDatum(task->finish_time);
	fcinfo->args[6].isnull = !task->has_finish_time;
	(void) FunctionCallInvoke(fcinfo);
}
