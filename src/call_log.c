/*
 * call_log.c - the call log: each call's journal row on disk before its
 * request leaves, and the start of the journal writer that writes the rows
 * the journal did not get (journal_writer.c).
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
 * With ocp_backup in shared_preload_libraries, a launcher looks for logs no
 * backend holds every few seconds, and at startup, after a crash restart
 * too, and starts the writers; without it, a use of an ocp_backup function
 * in the database does (a backend looks at its first, and again every few
 * seconds).
 *
 * Abort callbacks must not fail: what they do is close a file and register
 * a worker, and trouble is logged.
 */
#include "call_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "common/string.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

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

void
ocpb_call_log_directory(Oid database_id, char *path)
{
	snprintf(path, MAXPGPATH, CALL_LOG_DIRECTORY "/%u", database_id);
}

bool
ocpb_fsync_path(const char *path, int flags)
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
		return ocpb_fsync_path(parent, O_RDONLY);
	return errno == EEXIST;
}

bool
ocpb_write_all(int fd, const char *data, size_t len)
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
int
ocpb_lock_file(const char *path, int flags)
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

	ocpb_call_log_directory(MyDatabaseId, directory);
	if (!make_directory(CALL_LOG_DIRECTORY, ".") || !make_directory(directory, CALL_LOG_DIRECTORY))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create the ocp_backup call log directory \"%s\": %m", directory)));
	snprintf(call_log_path, MAXPGPATH, "%s/" INT64_FORMAT "-%d-%u" CALL_LOG_SUFFIX,
			 directory, (int64) GetCurrentTimestamp(), MyProcPid, logs_opened++);
	snprintf(temporary, MAXPGPATH, "%s.new", call_log_path);
	ReserveExternalFD();

	/*
	 * Locked under a name writers do not look at, then renamed: a writer
	 * never finds the log unlocked.  Its name must be on disk before a
	 * request it records leaves.
	 */
	call_log = ocpb_lock_file(temporary, O_WRONLY | O_CREAT | O_EXCL | O_APPEND);
	if (call_log < 0 || pg_fsync(call_log) != 0 || rename(temporary, call_log_path) != 0 ||
		!ocpb_fsync_path(directory, O_RDONLY))
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
	if (ocpb_write_all(call_log, row_json, strlen(row_json)) && ocpb_write_all(call_log, "\n", 1))
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
ocpb_call_log_leaving(const char *row_json)
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
ocpb_call_log_answered(const char *row_json)
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
ocpb_call_log_inserted(void)
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
	fd = ocpb_lock_file(path, O_RDWR | O_CREAT);
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
bool
ocpb_call_log_start_writer(Oid database_id, BackgroundWorkerHandle **last)
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
	ocpb_call_log_directory(database_id, directory);
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
	if (ocpb_call_log_start_writer(MyDatabaseId, &last_writer))
		return;
	leftovers_checked_at = 0;
	ereport(LOG,
			(errmsg("could not start the ocp_backup journal writer for database %u", MyDatabaseId),
			 errdetail("Journal rows wait in directory \"%s/%u\" of the data directory.",
					   CALL_LOG_DIRECTORY, MyDatabaseId),
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
ocpb_call_log_init(void)
{
	RegisterXactCallback(on_transaction_end, NULL);
	RegisterSubXactCallback(on_subtransaction_end, NULL);
	if (process_shared_preload_libraries_in_progress)
		(void) register_worker("ocp_backup_call_log_launcher", "ocp_backup call log launcher",
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
bool
ocpb_has_released_logs(const char *directory, List *except)
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
		if (!pg_str_endswith(entry->d_name, CALL_LOG_SUFFIX))
			continue;
		snprintf(path, MAXPGPATH, "%s/%s", directory, entry->d_name);
		if (path_listed(except, path))
			continue;
		fd = ocpb_lock_file(path, O_RDONLY);
		found = fd >= 0;
		if (found)
			close(fd);
	}
	closedir(dir);
	return found;
}

void
ocpb_call_log_flush_leftovers(void)
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
	ocpb_call_log_directory(MyDatabaseId, directory);
	if (ocpb_has_released_logs(directory, NIL))
		start_writer_or_log();
}

PG_FUNCTION_INFO_V1(ocp_backup_start_journal_writer);

/* For the SQL functions (ocp_backup_refresh, purge_journal). */
Datum
ocp_backup_start_journal_writer(PG_FUNCTION_ARGS)
{
	ocpb_call_log_flush_leftovers();
	PG_RETURN_VOID();
}

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

List *
ocpb_call_log_files(const char *directory)
{
	DIR		   *dir = AllocateDir(directory);
	struct dirent *entry;
	List	   *names = NIL;

	while ((entry = ReadDirExtended(dir, directory, DEBUG1)) != NULL)
	{
		if (pg_str_endswith(entry->d_name, CALL_LOG_SUFFIX))
			names = lappend(names, psprintf("%s/%s", directory, entry->d_name));
	}
	if (dir != NULL)
		FreeDir(dir);
	list_sort(names, compare_names);
	return names;
}

char *
ocpb_read_call_log(int fd, const char *path)
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

/*
 * The transaction a line names, and where its row's keys begin; false for
 * a line of ocp_backup 1.1 and before, which names none.
 */
bool
ocpb_call_log_line_xact(const char *line, FullTransactionId *xact, const char **keys)
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
