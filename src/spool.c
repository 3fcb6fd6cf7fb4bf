/*
 * spool.c - keeps journal rows that their transaction rolled back, and the
 * background worker that writes them again.
 *
 * A call of ocp_backup_now acts on the outside world, so its journal row
 * must outlive the caller's transaction.  The common (committed) path pays
 * only the INSERT: the row's JSON is remembered in backend memory.  When the
 * transaction or subtransaction that inserted it aborts, the row is written
 * to a spool file under the data directory, fsync'd, and a dynamic
 * background worker writes it in a transaction of its own, through the
 * same ocp_backup.record_invocation as the call itself, which skips a row
 * whose id is there already: a row is never written twice, however often a
 * spool file is replayed.  The worker connects as the journal's owner, not
 * as a superuser, with search_path pinned to pg_catalog, pg_temp, so that
 * nothing a database owner set or planted runs in it.
 *
 * A call interrupted while it awaits OCP (cancel, statement_timeout, or
 * pg_terminate_backend, whose exit aborts the transaction too) never reaches
 * its INSERT; the row prepared for that case before sending is spooled by
 * the same callbacks.
 *
 * Abort callbacks must not fail, so the spool is written with plain system
 * calls into stack buffers, and trouble is reported as a WARNING.
 *
 * The writer writes each row in a subtransaction of its own: a row the
 * journal refuses goes to a file set aside (*.aside), with a WARNING, and
 * so does a file that cannot be read, so that neither keeps the other rows
 * or files out of the journal.  It flushes its commit to disk before
 * removing a file, whatever synchronous_commit says.
 */
#include "spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/string.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "journal.h"
#include "subxact.h"

#define SPOOL_DIRECTORY "pg_ocp_backup"
#define SPOOL_SUFFIX ".jsonl"
/* Rows or files the writer cannot take: kept, out of its way, for the DBA. */
#define SPOOL_ASIDE_SUFFIX ".aside"

typedef struct PendingRow
{
	dlist_node	node;
	SubTransactionId subid;		/* the subtransaction that inserted it */
	char	   *row_json;		/* in TopMemoryContext */
} PendingRow;

static dlist_head pending_rows = DLIST_STATIC_INIT(pending_rows);

/* The row of the call awaiting OCP, in TopMemoryContext; NULL if none. */
static char *in_flight_row = NULL;
static SubTransactionId in_flight_subid;

/* Whether this backend has looked for leftovers in its database yet. */
static bool leftovers_checked = false;

/* The role that owns the journal, which writers run as. */
static Oid	journal_owner = InvalidOid;

/* The writer this backend launched last; in TopMemoryContext. */
static BackgroundWorkerHandle *last_writer = NULL;

static void
clear_in_flight(void)
{
	if (in_flight_row != NULL)
		pfree(in_flight_row);
	in_flight_row = NULL;
}

static void
spool_directory(Oid database_id, char *path)
{
	snprintf(path, MAXPGPATH, SPOOL_DIRECTORY "/%u", database_id);
}

void
ocpb_spool_set_in_flight(const char *row_json, Oid owner)
{
	journal_owner = owner;
	clear_in_flight();
	in_flight_row = MemoryContextStrdup(TopMemoryContext, row_json);
	in_flight_subid = GetCurrentSubTransactionId();
}

void
ocpb_spool_in_flight_inserted(void)
{
	PendingRow *row;

	/* A subtransaction of a trigger on the journal may have spooled it. */
	if (in_flight_row == NULL)
		return;
	row = MemoryContextAlloc(TopMemoryContext, sizeof(PendingRow));
	row->subid = in_flight_subid;
	row->row_json = in_flight_row;
	in_flight_row = NULL;
	dlist_push_tail(&pending_rows, &row->node);
}

static void
forget_row(PendingRow *row)
{
	dlist_delete(&row->node);
	pfree(row->row_json);
	pfree(row);
}

static bool
make_directory(const char *path)
{
	return mkdir(path, S_IRWXU) == 0 || errno == EEXIST;
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

static bool
fsync_path(const char *path, int flags)
{
	int			fd = open(path, flags);
	bool		ok;

	if (fd < 0)
		return false;
	ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/*
 * Whether a row of subtransaction subid is rolled back by an abort from
 * first_subid on (InvalidSubTransactionId: the whole transaction).
 * Subtransactions nest, so every one begun since the aborting one began is
 * the aborting one or a child of it.
 */
static bool
rolled_back(SubTransactionId subid, SubTransactionId first_subid)
{
	return first_subid == InvalidSubTransactionId || subid >= first_subid;
}

static bool
in_flight_belongs(SubTransactionId first_subid)
{
	return in_flight_row != NULL && rolled_back(in_flight_subid, first_subid);
}

/* Whether an abort from first_subid on leaves rows to spool. */
static bool
has_rows_to_spool(SubTransactionId first_subid)
{
	dlist_iter	iter;

	if (in_flight_belongs(first_subid))
		return true;
	dlist_foreach(iter, &pending_rows)
	{
		PendingRow *row = dlist_container(PendingRow, node, iter.cur);

		if (rolled_back(row->subid, first_subid))
			return true;
	}
	return false;
}

/*
 * Writes the rows of subtransactions from first_subid on (all of them for
 * InvalidSubTransactionId) to a new spool file, durably, and forgets them.
 * Returns how many rows were spooled; on failure the rows are logged whole
 * so that nothing is lost without a trace.
 */
static int
spool_rows(SubTransactionId first_subid)
{
	char		directory[MAXPGPATH];
	char		temporary[MAXPGPATH];
	char		final[MAXPGPATH];
	dlist_mutable_iter iter;
	int			fd;
	int			count = 0;
	bool		ok;
	bool		in_flight_aborted = in_flight_belongs(first_subid);
	static uint32 sequence = 0;

	spool_directory(MyDatabaseId, directory);
	snprintf(final, MAXPGPATH, "%s/" INT64_FORMAT "-%d-%u" SPOOL_SUFFIX,
			 directory, (int64) GetCurrentTimestamp(), MyProcPid, sequence++);
	snprintf(temporary, MAXPGPATH, "%s.tmp", final);
	ok = make_directory(SPOOL_DIRECTORY) && make_directory(directory);
	fd = ok ? open(temporary, O_WRONLY | O_CREAT | O_EXCL, S_IRUSR | S_IWUSR) : -1;
	ok = fd >= 0;
	dlist_foreach_modify(iter, &pending_rows)
	{
		PendingRow *row = dlist_container(PendingRow, node, iter.cur);

		if (!rolled_back(row->subid, first_subid))
			continue;
		ok = ok && write_all(fd, row->row_json, strlen(row->row_json)) &&
			write_all(fd, "\n", 1);
		count++;
	}
	if (in_flight_aborted)
	{
		ok = ok && write_all(fd, in_flight_row, strlen(in_flight_row)) &&
			write_all(fd, "\n", 1);
		count++;
	}
	if (fd >= 0)
	{
		ok = ok && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
	}
	ok = ok && rename(temporary, final) == 0 && fsync_path(directory, O_RDONLY);
	dlist_foreach_modify(iter, &pending_rows)
	{
		PendingRow *row = dlist_container(PendingRow, node, iter.cur);

		if (!rolled_back(row->subid, first_subid))
			continue;
		if (!ok)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not spool a rolled-back ocp_backup journal row to \"%s\": %m",
							final),
					 errdetail_internal("The row: %s", row->row_json)));
		forget_row(row);
	}
	if (in_flight_aborted && !ok)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not spool the journal row of an interrupted ocp_backup call to \"%s\": %m",
						final),
				 errdetail_internal("The row: %s", in_flight_row)));
	if (in_flight_aborted)
		clear_in_flight();
	if (!ok)
		unlink(temporary);
	return ok ? count : 0;
}

/*
 * Whether the writer this backend launched last has not started yet: it
 * lists the spool directory once it starts, so it will find any file
 * written before then, and a burst of failing calls needs no more writers.
 */
static bool
writer_not_started(void)
{
	pid_t		pid;

	return last_writer != NULL &&
		GetBackgroundWorkerPid(last_writer, &pid) == BGWH_NOT_YET_STARTED;
}

static bool
launch_writer(Oid database_id, Oid owner)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool		launched;

	if (writer_not_started())
		return true;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ocp_backup");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ocp_backup_journal_writer");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ocp_backup journal writer for database %u",
			 database_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "ocp_backup journal writer");
	worker.bgw_main_arg = ObjectIdGetDatum(database_id);
	memcpy(worker.bgw_extra, &owner, sizeof(owner));
	worker.bgw_notify_pid = 0;
	old = MemoryContextSwitchTo(TopMemoryContext);
	launched = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (launched)
	{
		if (last_writer != NULL)
			pfree(last_writer);
		last_writer = handle;
	}
	return launched;
}

static void
spool_and_launch(SubTransactionId first_subid)
{
	if (spool_rows(first_subid) == 0)
		return;
	if (!launch_writer(MyDatabaseId, journal_owner))
	{
		leftovers_checked = false;
		ereport(WARNING,
				(errmsg("could not start a background worker to write rolled-back ocp_backup journal rows"),
				 errdetail("The rows are kept in directory \"%s/%u\" of the data directory.",
						   SPOOL_DIRECTORY, MyDatabaseId),
				 errhint("They are written by the next call of ocp_backup_now in this database; "
						 "raise max_worker_processes if this recurs.")));
	}
}

static void
on_transaction_end(XactEvent event, void *arg)
{
	dlist_mutable_iter iter;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			dlist_foreach_modify(iter, &pending_rows)
				forget_row(dlist_container(PendingRow, node, iter.cur));
			break;

			/*
			 * A prepared transaction may still roll back: its rows are spooled
			 * now, and the writer's insert waits for the outcome, then either
			 * conflicts with the committed row or writes it.
			 */
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (has_rows_to_spool(InvalidSubTransactionId))
				spool_and_launch(InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
on_subtransaction_end(SubXactEvent event, SubTransactionId subid,
					  SubTransactionId parent_subid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && has_rows_to_spool(subid))
		spool_and_launch(subid);
}

void
ocpb_spool_init(void)
{
	RegisterXactCallback(on_transaction_end, NULL);
	RegisterSubXactCallback(on_subtransaction_end, NULL);
}

static bool
has_spool_files(const char *directory)
{
	DIR		   *dir = opendir(directory);
	struct dirent *entry;
	bool		found = false;

	if (dir == NULL)
		return false;
	while (!found && (entry = readdir(dir)) != NULL)
		found = pg_str_endswith(entry->d_name, SPOOL_SUFFIX);
	closedir(dir);
	return found;
}

void
ocpb_spool_flush_leftovers(void)
{
	char		directory[MAXPGPATH];

	if (leftovers_checked)
		return;
	leftovers_checked = true;
	spool_directory(MyDatabaseId, directory);
	if (has_spool_files(directory) && !launch_writer(MyDatabaseId, ocpb_journal_owner()))
	{
		leftovers_checked = false;
		ereport(WARNING,
				(errmsg("could not start a background worker to write spooled ocp_backup journal rows"),
				 errhint("Raise max_worker_processes; the rows stay spooled until a worker starts.")));
	}
}

/* ---- the writer ---- */

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

static List *
spool_files(const char *directory)
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

/* The file's contents, or NULL when another writer has replayed it already. */
static char *
read_spool_file(const char *path)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	StringInfoData contents;
	char		buffer[8192];
	ssize_t		got;

	if (fd < 0 && errno == ENOENT)
		return NULL;
	if (fd < 0)
		ereport(ERROR, (errcode_for_file_access(),
						errmsg("could not open spool file \"%s\": %m", path)));
	initStringInfo(&contents);
	while ((got = read(fd, buffer, sizeof(buffer))) > 0)
		appendBinaryStringInfo(&contents, buffer, (int) got);
	if (got < 0)
		ereport(ERROR, (errcode_for_file_access(),
						errmsg("could not read spool file \"%s\": %m", path)));
	CloseTransientFile(fd);
	return contents.data;
}

static void
record_row(void *row)
{
	(void) ocpb_journal_record_row(row);
}

/*
 * Writes one row in a subtransaction of its own; false, with the error
 * logged, when it cannot be written, so that one bad row does not keep the
 * others of its file out of the journal.
 */
static bool
replay_row(char *row, const char *path)
{
	ErrorData  *error = ocpb_try_in_subtransaction(record_row, row);

	if (error == NULL)
		return true;
	ereport(LOG,
			(errmsg("ocp_backup journal writer could not write a row of \"%s\"", path),
			 errdetail("%s", ocpb_error_text(error))));
	FreeErrorData(error);
	return false;
}

/* A file's rows that could not be written, kept apart for the DBA. */
static void
set_aside(const char *path, const StringInfo rows)
{
	char		aside[MAXPGPATH];
	int			fd;

	snprintf(aside, sizeof(aside), "%s" SPOOL_ASIDE_SUFFIX, path);
	fd = OpenTransientFile(aside, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 || !write_all(fd, rows->data, rows->len) || pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write \"%s\": %m", aside)));
	CloseTransientFile(fd);
	ereport(WARNING,
			(errmsg("ocp_backup journal rows that cannot be written were moved to \"%s\"", aside),
			 errdetail("They came from \"%s\"; the server log says why each was refused.", path),
			 errhint("Fix what refused them (the journal's constraints, triggers or privileges), then move the file back to its name without \"%s\".",
					 SPOOL_ASIDE_SUFFIX)));
}

/*
 * Writes every row of one spool file in one transaction, each in a
 * subtransaction; rows that cannot be written go to a file set aside.
 * Returns how many rows were written, or -1 when another writer took the
 * file first.  The commit is flushed to disk before the caller removes the
 * file, whatever synchronous_commit says: the file is the rows' only other
 * copy.
 */
static int
replay_file(const char *path)
{
	char	   *contents;
	char	   *line;
	char	   *next;
	int			rows = 0;
	StringInfoData refused;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "writing spooled ocp_backup journal rows");
	initStringInfo(&refused);
	contents = read_spool_file(path);
	if (contents == NULL)
		rows = -1;
	for (line = contents; line != NULL && *line != '\0'; line = next)
	{
		next = strchr(line, '\n');
		if (next == NULL)
			next = line + strlen(line);
		else
			*next++ = '\0';
		if (*line == '\0')
			continue;
		if (replay_row(line, path))
			rows++;
		else
			appendStringInfo(&refused, "%s\n", line);
	}
	if (refused.len > 0)
		set_aside(path, &refused);
	PopActiveSnapshot();
	CommitTransactionCommand();
	XLogFlush(XactLastCommitEnd);
	pgstat_report_activity(STATE_IDLE, NULL);
	return rows;
}

/*
 * A file that cannot be read is renamed out of the writer's way, so that
 * the files after it are still written.
 */
static void
move_aside(const char *path, const char *why)
{
	char		aside[MAXPGPATH];

	snprintf(aside, sizeof(aside), "%s" SPOOL_ASIDE_SUFFIX, path);
	if (rename(path, aside) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename spool file \"%s\" to \"%s\": %m", path, aside)));
	ereport(WARNING,
			(errmsg("ocp_backup spool file \"%s\" cannot be read and was moved to \"%s\"", path, aside),
			 errdetail("%s", why),
			 errhint("Restore its permissions or contents, then move it back to its name without \"%s\".",
					 SPOOL_ASIDE_SUFFIX)));
}

/* Replays one file; a file that cannot be read is moved aside. */
static int
replay_or_move_aside(const char *path)
{
	MemoryContext caller_context = CurrentMemoryContext;
	volatile int rows = 0;

	PG_TRY();
	{
		rows = replay_file(path);
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(caller_context);
		error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		move_aside(path, error->message);
		FreeErrorData(error);
		rows = -1;
	}
	PG_END_TRY();
	return rows;
}

void
ocp_backup_journal_writer(Datum main_arg)
{
	Oid			database_id = DatumGetObjectId(main_arg);
	Oid			owner;
	char		directory[MAXPGPATH];
	ListCell   *cell;

	memcpy(&owner, MyBgworkerEntry->bgw_extra, sizeof(owner));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(database_id, owner, 0);
	/* Over whatever ALTER DATABASE or ALTER ROLE set. */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_OVERRIDE);
	spool_directory(database_id, directory);
	foreach(cell, spool_files(directory))
	{
		const char *path = lfirst(cell);
		int			rows = replay_or_move_aside(path);

		if (rows < 0)
			continue;
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(ERROR, (errcode_for_file_access(),
							errmsg("could not remove spool file \"%s\": %m", path)));
		(void) fsync_path(directory, O_RDONLY);
		elog(LOG, "ocp_backup journal writer replayed \"%s\": %d rolled-back journal row(s), any already written skipped",
			 path, rows);
	}
}
