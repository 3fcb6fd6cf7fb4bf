/*
 * call_log.h - the call log: each call's journal row on disk before its
 * request leaves, its files as the journal writer reads them, and the
 * start of the journal writer that writes the rows the journal did not get.
 */
#ifndef OCPB_CALL_LOG_H
#define OCPB_CALL_LOG_H

#include "postgres.h"

#include "access/transam.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"

/* Under the data directory: a directory of call logs per database. */
#define CALL_LOG_DIRECTORY "pg_ocp_backup"
#define CALL_LOG_SUFFIX ".jsonl"
/* Rows or files the writer cannot take: kept, out of its way, for the DBA. */
#define CALL_LOG_ASIDE_SUFFIX ".aside"
/* In a database's directory, held by its journal writer. */
#define WRITER_LOCK_FILE "writer.lock"

/*
 * Registers the transaction callbacks, and, when loaded through
 * shared_preload_libraries, the launcher that writes what a crash left;
 * from _PG_init.
 */
extern void ocpb_call_log_init(void);

/*
 * Appends the row of a call whose request is about to leave (its outcome
 * unknown) and makes it durable; raises if it cannot, before anything is
 * sent.
 */
extern void ocpb_call_log_leaving(const char *row_json);

/*
 * Appends the complete row of the call, once OCP's answer (or the failure)
 * is known; it supersedes the row written before sending.
 */
extern void ocpb_call_log_answered(const char *row_json);

/*
 * The current (sub)transaction has inserted the row of the call last
 * logged: nothing has to write it again unless that (sub)transaction rolls
 * back.
 */
extern void ocpb_call_log_inserted(void);

/*
 * Starts a writer when this database has rows left in call logs (by a
 * crash, a restart, or a writer that could not start); cheap enough for
 * every call of every function.
 */
extern void ocpb_call_log_flush_leftovers(void);

/*
 * Starts the database's journal writer unless one runs or is about to;
 * false when no worker slot was free.  last, if not NULL, keeps the handle
 * of the writer started last.  Never raises.
 */
extern bool ocpb_call_log_start_writer(Oid database_id, BackgroundWorkerHandle **last);

/* The database's directory of call logs, into path (MAXPGPATH). */
extern void ocpb_call_log_directory(Oid database_id, char *path);

/*
 * Whether the directory holds a log no backend holds, other than those of
 * the list (paths).
 */
extern bool ocpb_has_released_logs(const char *directory, List *except);

/* The call logs of a directory, their paths in the order of their names. */
extern List *ocpb_call_log_files(const char *directory);

/* A call log's contents; raises if it cannot be read. */
extern char *ocpb_read_call_log(int fd, const char *path);

/*
 * The transaction a log line names, and where its row's keys begin; false
 * for a line of ocp_backup 1.1 and before, which names none.
 */
extern bool ocpb_call_log_line_xact(const char *line, FullTransactionId *xact,
									const char **keys);

/* Files: fsync by path, a whole write, an exclusive flock without waiting. */
extern bool ocpb_fsync_path(const char *path, int flags);
extern bool ocpb_write_all(int fd, const char *data, size_t len);
extern int	ocpb_lock_file(const char *path, int flags);

#endif
