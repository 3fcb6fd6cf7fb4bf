/*
 * spool.c - the call log: each call's journal row on disk before its
 * request leaves, and the background workers that write the rows the
 * journal did not get.
 *
 * A call of ocp_backup_now acts on the outside world, so its journal row
 * must outlive the caller's transaction and any crash.  Each backend keeps
 * a call log, a file under the data directory (pg_ocp_backup/<database
 * oid>/), locked with flock for as long as the backend may still write the
 * rows in it.  Before a request leaves, the call's row (outcome unknown) is
 * appended and the file flushed to disk; once the answer is read, the
 * complete row is appended after it, and supersedes it.  The journal's own
 * INSERT follows, for calls that succeeded (a failed call raises, and its
 * INSERT would only be rolled back).
 *
 * When the transaction commits and every row in the log was inserted by it
 * (none rolled back with a subtransaction), the log is emptied once the
 * commit is on disk, whatever synchronous_commit says.  Otherwise (an
 * abort, a PREPARE, a row rolled back) the backend closes the log, which
 * releases its lock, and makes sure a journal writer runs in the database.
 * A backend that dies (kill -9, a crash restart, an immediate shutdown)
 * releases its lock too: the kernel does it.
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
 *
 * Abort callbacks must not fail: what they do is close a file and register
 * a worker, and trouble is logged.
 */
#include "spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "common/hashfn.h"
#include "common/string.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/message.h"
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
#include "utils/timestamp.h"

#include "journal.h"
#include "subxact.h"

#define SPOOL_DIRECTORY "pg_ocp_backup"
#define SPOOL_SUFFIX ".jsonl"
/* Rows or files the writer cannot take: kept, out of its way, for the DBA. */
#define SPOOL_ASIDE_SUFFIX ".aside"
#define WRITER_LOCK_FILE "writer.lock"

/* How long a row waits on a lock before the writer leaves it for later. */
#define WRITER_LOCK_TIMEOUT "1s"
#define LAUNCHER_NAP_MS 5000
/* How often a backend looks for logs left to write, at its calls. */
#define LEFTOVERS_RECHECK_MS 5000

/*
 * Each line of a log begins with the (sub)transaction that writes the
 * call's row into the journal, ahead of the row's own keys: a row whose
 * transaction committed was written, and is never written again from a
 * copy of the log (a base backup, a file copy), even after it was purged.
 */
#define XACT_KEY "ocp_backup_xact"
#define XACT_PREFIX "{\"" XACT_KEY "\": "

#if PG_VERSION_NUM >= 170000
#define OLDEST_CLOG_XID (TransamVariables->oldestClogXid)
#else
#define OLDEST_CLOG_XID (ShmemVariableCache->oldestClogXid)
#endif

/* The rows a (sub)transaction inserted, innermost last. */
typedef struct InsertedRows
{
	SubTransactionId subid;
	int			rows;
} InsertedRows;

/* This backend's call log, locked; -1 when it has none open. */
static int	call_log = -1;
static char call_log_path[MAXPGPATH];
static off_t call_log_size = 0;

/* Rows in the log that no live (sub)transaction has inserted. */
static int	rows_not_inserted = 0;
static InsertedRows *inserted = NULL;
static int	n_inserted = 0;
static int	max_inserted = 0;

static bool exit_callback_registered = false;

/* When this backend last looked for leftovers in its database; 0: never. */
static TimestampTz leftovers_checked_at = 0;

/* The last transaction a WAL record of this backend named, flushed. */
static FullTransactionId logged_xact = {InvalidTransactionId};

/* The writer this backend launched last; in TopMemoryContext. */
static BackgroundWorkerHandle *last_writer = NULL;

static void
spool_directory(Oid database_id, char *path)
{
	snprintf(path, MAXPGPATH, SPOOL_DIRECTORY "/%u", database_id);
}

static bool
fsync_path(const char *path, int flags)
{
	int			fd = open(path, flags);
	bool		ok;

	if (fd < 0)
		return false;
	ok = pg_fsync(fd) == 0;
	close(fd);
	return ok;
}

/* A directory, its entry made durable in its parent when it is new. */
static bool
make_directory(const char *path, const char *parent)
{
	if (mkdir(path, S_IRWXU) == 0)
		return fsync_path(parent, O_RDONLY);
	return errno == EEXIST;
}

static bool
write_all(int fd, const char *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		written = write(fd, data, len);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return false;
		data += written;
		len -= (size_t) written;
	}
	return true;
}


/* An open descriptor of path locked for this process; -1 if it is held. */
static int
lock_file(const char *path, int flags)
{
	/* Not inherited: a child (COPY ... TO PROGRAM) would keep the lock. */
	int			fd = open(path, flags | O_CLOEXEC | PG_BINARY, S_IRUSR | S_IWUSR);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
	{
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the call log of this backend ---- */

static void
close_call_log(void)
{
	if (call_log < 0)
		return;
	close(call_log);
	ReleaseExternalFD();
	call_log = -1;
	call_log_size = 0;
}

/*
 * Registered with on_shmem_exit, so that it runs after the exit's abort of
 * any open transaction, which hands a log with rows to the writer.
 */
static void
close_call_log_at_exit(int code, Datum arg)
{
	/* An emptied log holds nothing for anyone. */
	if (call_log >= 0 && call_log_size == 0)
		unlink(call_log_path);
	close_call_log();
}

static void
open_call_log(void)
{
	char		directory[MAXPGPATH];
	char		temporary[MAXPGPATH];
	static uint32 logs_opened = 0;

	spool_directory(MyDatabaseId, directory);
	if (!make_directory(SPOOL_DIRECTORY, ".") || !make_directory(directory, SPOOL_DIRECTORY))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create the ocp_backup call log directory \"%s\": %m", directory)));
	snprintf(call_log_path, MAXPGPATH, "%s/" INT64_FORMAT "-%d-%u" SPOOL_SUFFIX,
			 directory, (int64) GetCurrentTimestamp(), MyProcPid, logs_opened++);
	snprintf(temporary, MAXPGPATH, "%s.new", call_log_path);
	ReserveExternalFD();

	/*
	 * Locked under a name writers do not look at, then renamed: a writer
	 * never finds the log unlocked.  Its name must be on disk before a
	 * request it records leaves.
	 */
	call_log = lock_file(temporary, O_WRONLY | O_CREAT | O_EXCL | O_APPEND);
	if (call_log < 0 || pg_fsync(call_log) != 0 || rename(temporary, call_log_path) != 0 ||
		!fsync_path(directory, O_RDONLY))
	{
		int			save_errno = errno;

		if (call_log >= 0)
		{
			unlink(temporary);
			unlink(call_log_path);
			close_call_log();
		}
		else
			ReleaseExternalFD();
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create the ocp_backup call log \"%s\": %m", call_log_path),
				 errdetail("No request was sent: a call is recorded on disk before its request leaves.")));
	}
	call_log_size = 0;
	if (!exit_callback_registered)
	{
		on_shmem_exit(close_call_log_at_exit, (Datum) 0);
		exit_callback_registered = true;
	}
}

/*
 * Appends one row and its line break; false, with the log as it was, when
 * it cannot.
 */
static bool
append_row(const char *row_json)
{
	if (write_all(call_log, row_json, strlen(row_json)) && write_all(call_log, "\n", 1))
	{
		call_log_size += (off_t) strlen(row_json) + 1;
		return true;
	}
	/* A partial line would spoil the row appended after it. */
	if (ftruncate(call_log, call_log_size) != 0)
		close_call_log();
	return false;
}

/*
 * The current (sub)transaction, which inserts the call's row, with an id
 * that a crash or a promotion never hands out again: a WAL record names it,
 * on disk before the log line that names it.  Without one an id no record
 * names yet goes back to the pool at a crash, and a later transaction
 * that got it and committed would pass for the call's.
 */
static FullTransactionId
durable_current_xact(void)
{
	FullTransactionId xact = GetCurrentFullTransactionId();

	if (!FullTransactionIdEquals(xact, logged_xact))
	{
#if PG_VERSION_NUM >= 170000
		XLogFlush(LogLogicalMessage("ocp_backup", "", 0, true, false));
#else
		XLogFlush(LogLogicalMessage("ocp_backup", "", 0, true));
#endif
		logged_xact = xact;
	}
	return xact;
}

/* The log line of a row: its transaction's key, then the row's keys. */
static char *
log_line(const char *row_json, FullTransactionId xact)
{
	Assert(row_json[0] == '{');
	return psprintf(XACT_PREFIX UINT64_FORMAT ", %s", U64FromFullTransactionId(xact),
					row_json + 1);
}

void
ocpb_spool_call_leaving(const char *row_json)
{
	off_t		size_before;
	bool		logged;
	char	   *line = log_line(row_json, durable_current_xact());

	if (call_log < 0)
		open_call_log();
	size_before = call_log_size;
	logged = append_row(line);
	pfree(line);
	if (logged && pg_fdatasync(call_log) != 0)
	{
		int			save_errno = errno;

		/* Nothing is sent: the row must not say it may have been. */
		if (ftruncate(call_log, size_before) == 0)
			call_log_size = size_before;
		else
			close_call_log();
		errno = save_errno;
		logged = false;
	}
	if (!logged)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not record the call in the ocp_backup call log \"%s\": %m",
						call_log_path),
				 errdetail("No request was sent: a call is recorded on disk before its request leaves.")));
	rows_not_inserted++;
}

void
ocpb_spool_call_answered(const char *row_json)
{
	char	   *line;
	bool		logged;

	/*
	 * The row written before sending stays: the journal gets this one from
	 * the INSERT that follows, or, if the process dies first, that one.
	 * The INSERT is of the current (sub)transaction.
	 */
	line = log_line(row_json, durable_current_xact());
	logged = call_log >= 0 && append_row(line);
	pfree(line);
	if (!logged)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not record OCP's answer in the ocp_backup call log \"%s\": %m",
						call_log_path),
				 errdetail("The call's row is in the log with its outcome unknown.")));
}

void
ocpb_spool_call_inserted(void)
{
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (n_inserted > 0 && inserted[n_inserted - 1].subid == subid)
	{
		inserted[n_inserted - 1].rows++;
		rows_not_inserted--;
		return;
	}
	if (n_inserted == max_inserted)
	{
		max_inserted = Max(8, max_inserted * 2);
		inserted = inserted == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(InsertedRows) * max_inserted) :
			repalloc(inserted, sizeof(InsertedRows) * max_inserted);
	}
	inserted[n_inserted].subid = subid;
	inserted[n_inserted].rows = 1;
	n_inserted++;
	rows_not_inserted--;
}

/* ---- starting the writer ---- */

/*
 * Whether a writer holds this database's lock; one that is about to let go
 * looks for released logs once more after it has.
 */
static bool
writer_running(const char *directory)
{
	char		path[MAXPGPATH];
	int			fd;

	snprintf(path, MAXPGPATH, "%s/" WRITER_LOCK_FILE, directory);
	fd = lock_file(path, O_RDWR | O_CREAT);
	if (fd < 0)
		return errno == EWOULDBLOCK;
	close(fd);
	return false;
}

static bool
register_worker(const char *function, const char *name, Oid database_id,
				BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = handle == NULL ? 10 : BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ocp_backup");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", name);
	worker.bgw_main_arg = ObjectIdGetDatum(database_id);
	if (handle == NULL)
	{
		RegisterBackgroundWorker(&worker);
		return true;
	}
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/*
 * Starts the database's writer unless one runs or is about to; false when
 * no worker slot was free.  Never raises: abort callbacks call it.
 */
static bool
start_writer(Oid database_id, BackgroundWorkerHandle **last)
{
	char		directory[MAXPGPATH];
	char		name[BGW_MAXLEN];
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	pid_t		pid;
	bool		started;

	/* It lists the directory once it starts, and will find what is there. */
	if (last != NULL && *last != NULL &&
		GetBackgroundWorkerPid(*last, &pid) == BGWH_NOT_YET_STARTED)
		return true;
	spool_directory(database_id, directory);
	if (writer_running(directory))
		return true;
	snprintf(name, sizeof(name), "ocp_backup journal writer for database %u", database_id);
	old = MemoryContextSwitchTo(TopMemoryContext);
	started = register_worker("ocp_backup_journal_writer", name, database_id, &handle);
	MemoryContextSwitchTo(old);
	if (!started)
		return false;
	if (last == NULL)
		pfree(handle);
	else
	{
		if (*last != NULL)
			pfree(*last);
		*last = handle;
	}
	return true;
}

/* Logged, not warned: the rows wait safely on disk, and nobody else waits. */
static void
start_writer_or_log(void)
{
	if (start_writer(MyDatabaseId, &last_writer))
		return;
	leftovers_checked_at = 0;
	ereport(LOG,
			(errmsg("could not start the ocp_backup journal writer for database %u", MyDatabaseId),
			 errdetail("Journal rows wait in directory \"%s/%u\" of the data directory.",
					   SPOOL_DIRECTORY, MyDatabaseId),
			 errhint("They are written once a worker slot is free: at the next use of ocp_backup in this database, "
					 "or within seconds with ocp_backup in shared_preload_libraries; raise max_worker_processes if this recurs.")));
}

/* Lets the writer have the log: it writes what this backend did not. */
static void
hand_log_to_writer(void)
{
	close_call_log();
	start_writer_or_log();
}

static void
forget_inserted_rows(void)
{
	n_inserted = 0;
	rows_not_inserted = 0;
}

/*
 * Every row in the log is in the journal and committed: the log is emptied
 * once the commit is on disk, since it is the rows' only other copy; else
 * it goes to the writer, which skips the rows committed here, so the commit
 * is flushed first in either case.  A flush here raises only where it
 * would PANIC anyway.
 */
static void
on_commit(void)
{
	if (call_log < 0 || call_log_size == 0)
		return;
	/* The writer skips rows committed here: they must be on disk first. */
	XLogFlush(XactLastCommitEnd);
	if (rows_not_inserted > 0)
	{
		hand_log_to_writer();
		return;
	}
	if (ftruncate(call_log, 0) == 0)
		call_log_size = 0;
	else
		hand_log_to_writer();
}

static void
on_transaction_end(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			on_commit();
			forget_inserted_rows();
			break;

			/*
			 * A prepared transaction may still roll back: the writer's insert
			 * waits for its outcome, then either meets the committed row or
			 * writes it.
			 */
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
			if (call_log >= 0 && call_log_size > 0)
				hand_log_to_writer();
			forget_inserted_rows();
			break;
		default:
			break;
	}
}

/*
 * Subtransactions nest, so the rows of the aborting one and of every one
 * begun inside it are the innermost entries.
 */
static void
on_subtransaction_end(SubXactEvent event, SubTransactionId subid,
					  SubTransactionId parent_subid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (n_inserted > 0 && inserted[n_inserted - 1].subid >= subid)
			rows_not_inserted += inserted[--n_inserted].rows;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB && n_inserted > 0 &&
			 inserted[n_inserted - 1].subid == subid)
	{
		if (n_inserted > 1 && inserted[n_inserted - 2].subid == parent_subid)
		{
			inserted[n_inserted - 2].rows += inserted[n_inserted - 1].rows;
			n_inserted--;
		}
		else
			inserted[n_inserted - 1].subid = parent_subid;
	}
}

void
ocpb_spool_init(void)
{
	RegisterXactCallback(on_transaction_end, NULL);
	RegisterSubXactCallback(on_subtransaction_end, NULL);
	if (process_shared_preload_libraries_in_progress)
		(void) register_worker("ocp_backup_spool_launcher", "ocp_backup spool launcher",
							   InvalidOid, NULL);
}

static bool
path_listed(List *paths, const char *path)
{
	ListCell   *cell;

	foreach(cell, paths)
	{
		if (strcmp((const char *) lfirst(cell), path) == 0)
			return true;
	}
	return false;
}

/*
 * Whether the directory holds a log no backend holds, other than those of
 * the list (paths).
 */
static bool
has_released_logs(const char *directory, List *except)
{
	DIR		   *dir = opendir(directory);
	struct dirent *entry;
	char		path[MAXPGPATH];
	bool		found = false;
	int			fd;

	if (dir == NULL)
		return false;
	while (!found && (entry = readdir(dir)) != NULL)
	{
		if (!pg_str_endswith(entry->d_name, SPOOL_SUFFIX))
			continue;
		snprintf(path, MAXPGPATH, "%s/%s", directory, entry->d_name);
		if (path_listed(except, path))
			continue;
		fd = lock_file(path, O_RDONLY);
		found = fd >= 0;
		if (found)
			close(fd);
	}
	closedir(dir);
	return found;
}

void
ocpb_spool_flush_leftovers(void)
{
	char		directory[MAXPGPATH];
	TimestampTz now;

	/* No writer starts before promotion; the logs wait for it. */
	if (RecoveryInProgress())
		return;

	/*
	 * Again every few seconds: a writer leaves rows that wait (on a lock, on
	 * a prepared transaction) in their log, for a later one.
	 */
	now = GetCurrentTimestamp();
	if (leftovers_checked_at != 0 &&
		!TimestampDifferenceExceeds(leftovers_checked_at, now, LEFTOVERS_RECHECK_MS))
		return;
	leftovers_checked_at = now;
	spool_directory(MyDatabaseId, directory);
	if (has_released_logs(directory, NIL))
		start_writer_or_log();
}

PG_FUNCTION_INFO_V1(ocp_backup_start_journal_writer);

/* For the SQL functions (ocp_backup_refresh, purge_journal). */
Datum
ocp_backup_start_journal_writer(PG_FUNCTION_ARGS)
{
	ocpb_spool_flush_leftovers();
	PG_RETURN_VOID();
}

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

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

static List *
log_files(const char *directory)
{
	DIR		   *dir = AllocateDir(directory);
	struct dirent *entry;
	List	   *names = NIL;

	while ((entry = ReadDirExtended(dir, directory, DEBUG1)) != NULL)
	{
		if (pg_str_endswith(entry->d_name, SPOOL_SUFFIX))
			names = lappend(names, psprintf("%s/%s", directory, entry->d_name));
	}
	if (dir != NULL)
		FreeDir(dir);
	list_sort(names, compare_names);
	return names;
}

static char *
read_log(int fd, const char *path)
{
	StringInfoData contents;
	char		buffer[8192];
	ssize_t		got;

	initStringInfo(&contents);
	while ((got = read(fd, buffer, sizeof(buffer))) > 0)
		appendBinaryStringInfo(&contents, buffer, (int) got);
	if (got < 0)
		ereport(ERROR, (errcode_for_file_access(),
						errmsg("could not read ocp_backup call log \"%s\": %m", path)));
	return contents.data;
}

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

/*
 * The transaction a line names, and where its row's keys begin; false for
 * a line of ocp_backup 1.1 and before, which names none.
 */
static bool
line_xact(const char *line, FullTransactionId *xact, const char **keys)
{
	const char *number = line + strlen(XACT_PREFIX);
	char	   *end;
	uint64		value;

	if (strncmp(line, XACT_PREFIX, strlen(XACT_PREFIX)) != 0 ||
		!isdigit((unsigned char) *number))
		return false;
	errno = 0;
	value = (uint64) strtoull(number, &end, 10);
	if (errno != 0 || strncmp(end, ", ", 2) != 0)
		return false;
	*xact = FullTransactionIdFromU64(value);
	*keys = end + 2;
	return true;
}

/*
 * As pg_xact_status tells it, without its errors: a transaction this
 * server has not reached (a recovery that stopped before it) did not
 * commit here, and one older than the oldest status the server keeps
 * cannot be told.
 */
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

	if (line_xact(*line, &xact, &keys))
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
	if (!fsync_path(directory, O_RDONLY))
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
	if (fd < 0 || !write_all(fd, contents->data, contents->len) || pg_fsync(fd) != 0)
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

	snprintf(aside, sizeof(aside), "%s" SPOOL_ASIDE_SUFFIX, path);
	fd = OpenTransientFile(aside, O_WRONLY | O_CREAT | O_APPEND | PG_BINARY);
	if (fd < 0 || !write_all(fd, rows->data, rows->len) || pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write \"%s\": %m", aside)));
	CloseTransientFile(fd);
	fsync_parent(aside);
	ereport(WARNING,
			(errmsg("ocp_backup journal rows that cannot be written were moved to \"%s\"", aside),
			 errdetail("They came from \"%s\"; the server log says why each was refused.", path),
			 errhint("Fix what refused them (the journal's constraints, triggers or privileges), then move the file back to a name ending in \"%s\".",
					 SPOOL_SUFFIX)));
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
	replay_lines(&replay, read_log(fd, path));
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
			snprintf(aside, sizeof(aside), "%s" SPOOL_ASIDE_SUFFIX, path);
		else
			snprintf(aside, sizeof(aside), "%s.%d" SPOOL_ASIDE_SUFFIX, path, n);
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
					 SPOOL_SUFFIX)));
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

	fd = lock_file(path, O_RDONLY);
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

	foreach(cell, log_files(directory))
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
		(void) fsync_path(directory, O_RDONLY);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(pass);
	return waiting;
}

static int
take_writer_lock(const char *directory)
{
	char		path[MAXPGPATH];

	snprintf(path, MAXPGPATH, "%s/" WRITER_LOCK_FILE, directory);
	return lock_file(path, O_RDWR | O_CREAT);
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
	spool_directory(database_id, directory);
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
		if (!has_released_logs(directory, waiting))
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
	DIR		   *dir = opendir(SPOOL_DIRECTORY);
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
		spool_directory(database_id, directory);
		if (has_released_logs(directory, NIL) && database_accepts_writer(database_id) &&
			!start_writer(database_id, NULL))
			ereport(LOG,
					(errmsg("could not start the ocp_backup journal writer for database %u", database_id),
					 errhint("Raise max_worker_processes; the launcher tries again in a few seconds.")));
	}
	closedir(dir);
}

void
ocp_backup_spool_launcher(Datum main_arg)
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
