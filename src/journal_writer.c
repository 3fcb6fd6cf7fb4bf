/*
 * journal_writer.c - the background workers that write the journal rows
 * of call logs (call_log.c) no backend holds: the journal writer, and the
 * launcher that starts writers.
 *
 * The journal writer is a background worker, one per database at a time
 * (it holds pg_ocp_backup/<database oid>/writer.lock).  It writes the last
 * row of each call of every log no backend holds, through the same
 * ocp_backup.record_invocation as the calls themselves, which skips a row
 * whose id is there already: a committed row is never written twice,
 * however often a log is replayed.  Each line names the (sub)transaction
 * that inserts its row, with an id a WAL record names before the line is
 * written (so no crash or promotion hands it out again): a row whose
 * transaction committed went into the journal then, and is skipped even
 * if it was purged since (a log copied by a base backup, with the call's
 * transaction open, outlives the row on the copy); a row whose transaction
 * is still prepared waits.  A row the journal refuses goes to a file set
 * aside (*.aside), with a WARNING, and so does a log that cannot be read,
 * and a row whose transaction is older than the commit statuses the server
 * keeps (it may have been written and purged).  A row that waits (on a
 * lock a caller holds, on a prepared transaction) stays in its log and the
 * writer leaves, freeing its worker slot: the launcher, or a backend's
 * next use of ocp_backup, starts another within seconds, until the row
 * goes in; nothing else waits for it.  Rows of a journal that was dropped
 * since are written into the new one only if their ids are beyond what its
 * sequence handed out (which is then moved past them); else they are set
 * aside.  The writer connects without a role of its own and works as the
 * journal's owner, with search_path pinned to pg_catalog, pg_temp, so that
 * nothing a database owner set or planted runs in it.
 *
 * With ocp_backup in shared_preload_libraries, a launcher looks for logs no
 * backend holds every few seconds, and at startup, after a crash restart
 * too, and starts the writers; without it, a use of an ocp_backup function
 * in the database does (a backend looks at its first, and again every few
 * seconds).
 */
#include "journal_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "call_log.h"
#include "catalog.h"
#include "journal.h"
#include "subxact.h"


/* How long a row waits on a lock before the writer leaves it for later. */
#define WRITER_LOCK_TIMEOUT "1s"
#define LAUNCHER_NAP_MS 5000
#if PG_VERSION_NUM >= 170000
#define OLDEST_CLOG_XID (TransamVariables->oldestClogXid)
#else
#define OLDEST_CLOG_XID (ShmemVariableCache->oldestClogXid)
#endif

/* ---- the writer ---- */

typedef enum RowOutcome
{
	ROW_WRITTEN,
	ROW_SKIPPED,				/* in the journal already, or superseded */
	ROW_REFUSED,				/* set aside */
	ROW_WAITING,				/* on a lock or a transaction: tried again later */
} RowOutcome;

/* What became of the transaction that a log line names. */
typedef enum XactFate
{
	XACT_COMMITTED,				/* the row went in: it is never written again */
	XACT_RUNNING,				/* prepared: its row may still go in */
	XACT_NOT_COMMITTED,			/* rolled back, or ended by a crash */
	XACT_FORGOTTEN,				/* older than the statuses the server keeps */
} XactFate;

/* A call: ids repeat across journals (the extension created again). */
typedef struct CallKey
{
	int64		journal;
	int64		id;
} CallKey;

typedef struct LogReplay
{
	const char *path;
	Oid			journal;		/* ocp_backup.invocation now */
	HTAB	   *seen;			/* calls whose last row was taken */
	bool		waiting;		/* a row waits on a lock: the rest wait too */
	List	   *refused;		/* lines, in the log's order */
	List	   *waiting_rows;	/* lines, in the log's order */
	int			written;
} LogReplay;

typedef struct ReplayedRow
{
	LogReplay  *replay;
	char	   *line;
	bool		superseded;
} ReplayedRow;

static bool
int8_field(Jsonb *row, const char *key, int64 *value)
{
	JsonbValue	name;
	JsonbValue *found;

	name.type = jbvString;
	name.val.string.val = unconstify(char *, key);
	name.val.string.len = strlen(key);
	found = findJsonbValueFromContainer(&row->root, JB_FOBJECT, &name);
	if (found == NULL || found->type != jbvNumeric)
		return false;
	*value = DatumGetInt64(DirectFunctionCall1(numeric_int8,
											   NumericGetDatum(found->val.numeric)));
	return true;
}

/*
 * Writes one row unless a later row of its call was taken already (the
 * log is read from its end).  Rows logged before 1.1 name no journal: they
 * are of this one.
 */
static void
replay_row_work(void *arg)
{
	ReplayedRow *work = arg;
	Jsonb	   *row = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(work->line)));
	CallKey		call;
	bool		found;

	if (!int8_field(row, "id", &call.id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the row has no id")));
	if (!int8_field(row, "journal", &call.journal))
		call.journal = work->replay->journal;
	(void) hash_search(work->replay->seen, &call, HASH_ENTER, &found);
	work->superseded = found;
	if (found)
		return;
	if (call.journal == work->replay->journal)
		(void) ocpb_journal_record_jsonb(row);
	else
		ocpb_journal_adopt_row(row, call.id);
}

/*
 * Errors that are not the row's: a lock it waits on, or the journal gone
 * under the writer (DROP EXTENSION).  The row waits; it is not set aside.
 */
static bool
is_wait(const ErrorData *error)
{
	return error->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		error->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
		error->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		error->sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
		error->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION ||
		error->sqlerrcode == ERRCODE_UNDEFINED_SCHEMA ||
		error->sqlerrcode == ERRCODE_UNDEFINED_OBJECT;
}

static XactFate
xact_fate(FullTransactionId xact)
{
	TransactionId xid = XidFromFullTransactionId(xact);
	FullTransactionId next;
	XactFate	fate;

	/* Holds off the truncation of the statuses while they are read. */
	LWLockAcquire(XactTruncationLock, LW_SHARED);
	next = ReadNextFullTransactionId();
	if (FullTransactionIdFollowsOrEquals(xact, next))
		fate = XACT_NOT_COMMITTED;
	else if (!TransactionIdIsNormal(xid) ||
			 U64FromFullTransactionId(next) - U64FromFullTransactionId(xact) >=
			 (UINT64CONST(1) << 31) ||
			 TransactionIdPrecedes(xid, OLDEST_CLOG_XID))
		fate = XACT_FORGOTTEN;
	/* In progress first: a committing one is marked before it leaves. */
	else if (TransactionIdIsInProgress(xid))
		fate = XACT_RUNNING;
	else if (TransactionIdDidCommit(xid))
		fate = XACT_COMMITTED;
	else
		fate = XACT_NOT_COMMITTED;
	LWLockRelease(XactTruncationLock);
	return fate;
}

/*
 * A line whose transaction committed is skipped: its row went into the
 * journal then, and may have been purged since.  One whose transaction is
 * prepared waits for it.  Else the row is written, and any line kept of it
 * (set aside, waiting on a lock) is the row alone, whose fate is known.
 */
static RowOutcome
replay_row(LogReplay *replay, char **line)
{
	ReplayedRow work = {replay, *line, false};
	ErrorData  *error;
	RowOutcome	outcome;
	FullTransactionId xact;
	const char *keys;

	if (ocpb_call_log_line_xact(*line, &xact, &keys))
	{
		switch (xact_fate(xact))
		{
			case XACT_COMMITTED:
				return ROW_SKIPPED;
			case XACT_RUNNING:
				return ROW_WAITING;
			case XACT_FORGOTTEN:
				ereport(LOG,
						(errmsg("ocp_backup journal writer cannot tell whether a row of \"%s\" was written", replay->path),
						 errdetail("Its transaction " UINT64_FORMAT " is older than the oldest transaction whose commit status the server keeps; the row may have been written and purged since.",
								   U64FromFullTransactionId(xact)),
						 errhint("Move the row back only if the journal never had it.")));
				*line = psprintf("{%s", keys);
				return ROW_REFUSED;
			case XACT_NOT_COMMITTED:
				*line = psprintf("{%s", keys);
				work.line = *line;
				break;
		}
	}
	error = ocpb_try_in_subtransaction(replay_row_work, &work);

	if (error == NULL)
		return work.superseded ? ROW_SKIPPED : ROW_WRITTEN;
	outcome = is_wait(error) ? ROW_WAITING : ROW_REFUSED;
	if (outcome == ROW_REFUSED)
		ereport(LOG,
				(errmsg("ocp_backup journal writer could not write a row of \"%s\"", replay->path),
				 errdetail("%s", ocpb_error_text(error))));
	FreeErrorData(error);
	return outcome;
}

/*
 * A line that the process writing it did not finish (it died in the
 * write) ends the log: the row before it, or none, is the call's record,
 * and a request is sent only once its row is whole on disk.
 */
static void
replay_lines(LogReplay *replay, char *contents)
{
	char	   *end = strrchr(contents, '\n');
	char	   *line;
	char	   *before;

	if (end == NULL)
		return;
	*end = '\0';
	/* From the end: a call's last row is its record. */
	for (line = end;; line = before)
	{
		before = line > contents ? memrchr(contents, '\n', line - contents) : NULL;
		line = before == NULL ? contents : before + 1;
		if (*line != '\0')
		{
			/* The line as it is kept, if it is. */
			char	   *kept = line;

			/* One wait a pass is enough: the rest are tried again with it. */
			switch (replay->waiting ? ROW_WAITING : replay_row(replay, &kept))
			{
				case ROW_WRITTEN:
					replay->written++;
					break;
				case ROW_SKIPPED:
					break;
				case ROW_REFUSED:
					replay->refused = lcons(kept, replay->refused);
					break;
				case ROW_WAITING:
					replay->waiting = true;
					replay->waiting_rows = lcons(kept, replay->waiting_rows);
					break;
			}
		}
		if (before == NULL)
			break;
		*before = '\0';
	}
}

/* Lines as a file's contents, one a line. */
static StringInfo
lines_text(List *lines)
{
	StringInfo	text = makeStringInfo();
	ListCell   *cell;

	foreach(cell, lines)
		appendStringInfo(text, "%s\n", (char *) lfirst(cell));
	return text;
}

static void
fsync_parent(const char *path)
{
	char		directory[MAXPGPATH];

	strlcpy(directory, path, sizeof(directory));
	get_parent_directory(directory);
	if (!ocpb_fsync_path(directory, O_RDONLY))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m", directory)));
}

static void
write_file(const char *path, const StringInfo contents)
{
	char		temporary[MAXPGPATH];
	int			fd;

	snprintf(temporary, sizeof(temporary), "%s.tmp", path);
	fd = OpenTransientFile(temporary, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 || !ocpb_write_all(fd, contents->data, contents->len) || pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write \"%s\": %m", temporary)));
	CloseTransientFile(fd);
	if (rename(temporary, path) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename \"%s\" to \"%s\": %m", temporary, path)));
	fsync_parent(path);
}

/* Rows that cannot be written, kept apart for the DBA. */
static void
set_aside(const char *path, StringInfo rows)
{
	char		aside[MAXPGPATH];
	int			fd;

	snprintf(aside, sizeof(aside), "%s" CALL_LOG_ASIDE_SUFFIX, path);
	fd = OpenTransientFile(aside, O_WRONLY | O_CREAT | O_APPEND | PG_BINARY);
	if (fd < 0 || !ocpb_write_all(fd, rows->data, rows->len) || pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write \"%s\": %m", aside)));
	CloseTransientFile(fd);
	fsync_parent(aside);
	ereport(WARNING,
			(errmsg("ocp_backup journal rows that cannot be written were moved to \"%s\"", aside),
			 errdetail("They came from \"%s\"; the server log says why each was refused.", path),
			 errhint("Fix what refused them (the journal's constraints, triggers or privileges), then move the file back to a name ending in \"%s\".",
					 CALL_LOG_SUFFIX)));
}

/*
 * Flushes all the WAL inserted so far.  GetXLogInsertRecPtr is where the next
 * record would begin: at the very start of a page, past the page's header,
 * which no WAL has reached yet, and XLogFlush raises an error for a request
 * past the WAL there is.  (GetXLogInsertEndRecPtr does this, but older
 * minor releases lack it.)
 */
static void
flush_inserted_wal(void)
{
	XLogRecPtr	end = GetXLogInsertRecPtr();

	if (XLogSegmentOffset(end, wal_segment_size) == SizeOfXLogLongPHD)
		end -= SizeOfXLogLongPHD;
	else if (end % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		end -= SizeOfXLogShortPHD;
	XLogFlush(end);
}

/*
 * Writes the rows of one log in one transaction, each in a subtransaction.
 * Once the commit is on disk (the log is the rows' only other copy), the
 * log is removed, or, when rows wait (on a lock, on a prepared
 * transaction), rewritten with just those.  Returns whether rows wait.
 */
static bool
replay_log(int fd, const char *path)
{
	/* The lines outlive the transaction: those that wait are kept. */
	MemoryContext pass = CurrentMemoryContext;
	LogReplay	replay;
	HASHCTL		seen;
	bool		waiting;

	memset(&replay, 0, sizeof(replay));
	replay.path = path;
	seen.keysize = sizeof(CallKey);
	seen.entrysize = sizeof(CallKey);
	seen.hcxt = pass;
	StartTransactionCommand();
	MemoryContextSwitchTo(pass);
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "writing ocp_backup journal rows from call logs");
	replay.seen = hash_create("ocp_backup replayed ids", 64, &seen,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	replay.journal = ocpb_journal_oid();
	replay_lines(&replay, ocpb_read_call_log(fd, path));
	if (replay.refused != NIL)
		set_aside(path, lines_text(replay.refused));
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(pass);

	/*
	 * The rows skipped as there already, or as committed, may be of an
	 * asynchronous commit.
	 */
	flush_inserted_wal();
	pgstat_report_activity(STATE_IDLE, NULL);
	waiting = replay.waiting_rows != NIL;
	if (waiting)
		write_file(path, lines_text(replay.waiting_rows));
	else if (unlink(path) != 0 && errno != ENOENT)
		ereport(ERROR, (errcode_for_file_access(),
						errmsg("could not remove ocp_backup call log \"%s\": %m", path)));
	if (replay.written > 0)
		elog(LOG, "ocp_backup journal writer wrote %d journal row(s) from \"%s\"",
			 replay.written, path);
	hash_destroy(replay.seen);
	return waiting;
}

/*
 * A log that cannot be read is renamed out of the writer's way, so that
 * the logs after it are still written.
 */
static void
move_aside(const char *path, const char *why)
{
	char		aside[MAXPGPATH];
	int			n;

	/* A name no earlier aside has: link refuses to replace one. */
	for (n = 1;; n++)
	{
		if (n == 1)
			snprintf(aside, sizeof(aside), "%s" CALL_LOG_ASIDE_SUFFIX, path);
		else
			snprintf(aside, sizeof(aside), "%s.%d" CALL_LOG_ASIDE_SUFFIX, path, n);
		if (link(path, aside) == 0)
			break;
		if (errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not move ocp_backup call log \"%s\" to \"%s\": %m", path, aside)));
	}
	if (unlink(path) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not remove ocp_backup call log \"%s\": %m", path)));
	fsync_parent(aside);
	ereport(WARNING,
			(errmsg("ocp_backup call log \"%s\" cannot be read and was moved to \"%s\"", path, aside),
			 errdetail("%s", why),
			 errhint("Restore its permissions or contents, then move it back to a name ending in \"%s\".",
					 CALL_LOG_SUFFIX)));
}

/*
 * Whether an error that ended a log's replay is the log's own (it cannot
 * be opened, read or set aside), rather than a cancel, a shutdown, a lack
 * of memory, or the journal gone.
 */
static bool
is_log_fault(const ErrorData *error)
{
	return error->sqlerrcode != ERRCODE_QUERY_CANCELED &&
		error->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN &&
		error->sqlerrcode != ERRCODE_OUT_OF_MEMORY &&
		!is_wait(error);
}

/* Replays one log no backend holds; returns whether rows of it wait. */
static bool
replay_released_log(const char *path)
{
	MemoryContext caller_context = CurrentMemoryContext;
	volatile bool waiting = false;

	/*
	 * Volatile: it is read in PG_CATCH, and gcc 12 at -O2 (-Wclobbered)
	 * cannot tell that nothing changes it after the setjmp.
	 */
	volatile int fd;

	fd = ocpb_lock_file(path, O_RDONLY);
	if (fd < 0 && errno == EWOULDBLOCK)
		return false;			/* its backend still holds it */
	if (fd < 0 && errno == ENOENT)
		return false;
	PG_TRY();
	{
		if (fd < 0)
			ereport(ERROR, (errcode_for_file_access(),
							errmsg("could not open ocp_backup call log \"%s\": %m", path)));
		waiting = replay_log(fd, path);
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(caller_context);
		error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (fd >= 0)
			close(fd);
		/* Not the log's fault: it stays, for the next writer. */
		if (!is_log_fault(error))
			ReThrowError(error);
		move_aside(path, error->message);
		FreeErrorData(error);
		return false;
	}
	PG_END_TRY();
	if (fd >= 0)
		close(fd);
	return waiting;
}

/*
 * Replays every log no backend holds; returns the paths of those whose
 * rows wait, in the caller's memory context.
 */
static List *
replay_directory(const char *directory)
{
	MemoryContext pass = AllocSetContextCreate(TopMemoryContext, "ocp_backup writer pass",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(pass);
	ListCell   *cell;
	List	   *waiting = NIL;

	foreach(cell, ocpb_call_log_files(directory))
	{
		CHECK_FOR_INTERRUPTS();
		if (replay_released_log(lfirst(cell)))
		{
			MemoryContextSwitchTo(old);
			waiting = lappend(waiting, pstrdup(lfirst(cell)));
			MemoryContextSwitchTo(pass);
		}
	}
	if (waiting == NIL)
		(void) ocpb_fsync_path(directory, O_RDONLY);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(pass);
	return waiting;
}

static int
take_writer_lock(const char *directory)
{
	char		path[MAXPGPATH];

	snprintf(path, MAXPGPATH, "%s/" WRITER_LOCK_FILE, directory);
	return ocpb_lock_file(path, O_RDWR | O_CREAT);
}

/*
 * The extension the writer started with, and its journal's owner, whose
 * rights it works with.  Checked at every pass: after DROP EXTENSION the
 * logs wait for it to be created again, and nothing the schema then holds
 * runs with the old owner's rights.
 */
static Oid	writer_extension = InvalidOid;

static bool
become_journal_owner(void)
{
	Oid			extension;
	Oid			owner = InvalidOid;

	StartTransactionCommand();
	extension = get_extension_oid("ocp_backup", true);
	if (OidIsValid(extension) &&
		(!OidIsValid(writer_extension) || extension == writer_extension))
		owner = ocpb_journal_owner();
	CommitTransactionCommand();
	if (!OidIsValid(owner))
		return false;
	writer_extension = extension;
	SetUserIdAndSecContext(owner, SECURITY_RESTRICTED_OPERATION);
	return true;
}

void
ocp_backup_journal_writer(Datum main_arg)
{
	Oid			database_id = DatumGetObjectId(main_arg);
	char		directory[MAXPGPATH];
	int			lock;
	MemoryContext passes;
	MemoryContext old;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	ocpb_call_log_directory(database_id, directory);
	lock = take_writer_lock(directory);
	if (lock < 0)
		proc_exit(0);			/* another writer has it */
	BackgroundWorkerInitializeConnectionByOid(database_id, InvalidOid, 0);
	/* Over whatever ALTER DATABASE set: nothing of it may refuse a row. */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", WRITER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	passes = AllocSetContextCreate(TopMemoryContext, "ocp_backup writer",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		List	   *waiting;

		if (!become_journal_owner())
			break;
		MemoryContextReset(passes);
		old = MemoryContextSwitchTo(passes);
		waiting = replay_directory(directory);
		MemoryContextSwitchTo(old);

		/*
		 * Rows that wait (on a lock a caller holds, on a prepared
		 * transaction) stay in their logs, and the writer leaves, freeing
		 * its worker slot for as long as they wait: the launcher, or the
		 * next use of ocp_backup in the database, starts a writer again
		 * within seconds.  A log released while this writer held the lock
		 * is found here.
		 */
		close(lock);
		if (waiting != NIL)
			ereport(DEBUG1,
					(errmsg("ocp_backup journal writer leaves rows of %d call log(s) waiting for a later writer",
							list_length(waiting))));
		if (!ocpb_has_released_logs(directory, waiting))
			break;
		lock = take_writer_lock(directory);
		if (lock < 0)
			break;
	}
	proc_exit(0);
}

/* ---- the launcher (shared_preload_libraries) ---- */

/* Whether a writer can connect to the database. */
static bool
database_accepts_writer(Oid database_id)
{
	HeapTuple	tuple;
	bool		accepts = false;

	StartTransactionCommand();
	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database_id));
	if (HeapTupleIsValid(tuple))
	{
		accepts = ((Form_pg_database) GETSTRUCT(tuple))->datallowconn;
		ReleaseSysCache(tuple);
	}
	CommitTransactionCommand();
	return accepts;
}

/* Starts a writer for each database with logs no backend holds. */
static void
launch_writers(void)
{
	DIR		   *dir = opendir(CALL_LOG_DIRECTORY);
	struct dirent *entry;
	char		directory[MAXPGPATH];
	Oid			database_id;
	char	   *end;

	if (dir == NULL)
		return;
	while ((entry = readdir(dir)) != NULL)
	{
		database_id = (Oid) strtoul(entry->d_name, &end, 10);
		if (*end != '\0' || !OidIsValid(database_id))
			continue;
		ocpb_call_log_directory(database_id, directory);
		if (ocpb_has_released_logs(directory, NIL) && database_accepts_writer(database_id) &&
			!ocpb_call_log_start_writer(database_id, NULL))
			ereport(LOG,
					(errmsg("could not start the ocp_backup journal writer for database %u", database_id),
					 errhint("Raise max_worker_processes; the launcher tries again in a few seconds.")));
	}
	closedir(dir);
}

void
ocp_backup_call_log_launcher(Datum main_arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	/* No database: pg_database is shared, and that is all it reads. */
	BackgroundWorkerInitializeConnectionByOid(InvalidOid, InvalidOid, 0);

	/*
	 * A caller's lock on pg_database makes it exit with an error, and the
	 * postmaster starts it again 10 seconds later, instead of waiting.
	 */
	SetConfigOption("lock_timeout", WRITER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	while (!ShutdownRequestPending)
	{
		launch_writers();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_NAP_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* Barriers (DROP DATABASE waits on one) are absorbed here. */
		CHECK_FOR_INTERRUPTS();
	}
	/* Not 0, which would unregister it: a SIGTERM outside shutdown restarts it. */
	proc_exit(1);
}
