/*
 * spool.h - the call log: each call's journal row on disk before its
 * request leaves, and the background workers that write the rows the
 * journal did not get.
 */
#ifndef OCPB_SPOOL_H
#define OCPB_SPOOL_H

#include "postgres.h"

/*
 * Registers the transaction callbacks, and, when loaded through
 * shared_preload_libraries, the launcher that writes what a crash left;
 * from _PG_init.
 */
extern void ocpb_spool_init(void);

/*
 * Appends the row of a call whose request is about to leave (its outcome
 * unknown) and makes it durable; raises if it cannot, before anything is
 * sent.
 */
extern void ocpb_spool_call_leaving(const char *row_json);

/*
 * Appends the complete row of the call, once OCP's answer (or the failure)
 * is known; it supersedes the row written before sending.
 */
extern void ocpb_spool_call_answered(const char *row_json);

/*
 * The current (sub)transaction has inserted the row of the call last
 * logged: nothing has to write it again unless that (sub)transaction rolls
 * back.
 */
extern void ocpb_spool_call_inserted(void);

/*
 * Starts a writer when this database has rows left in call logs (by a
 * crash, a restart, or a writer that could not start); cheap enough for
 * every call of every function.
 */
extern void ocpb_spool_flush_leftovers(void);

extern PGDLLEXPORT void ocp_backup_journal_writer(Datum main_arg);
extern PGDLLEXPORT void ocp_backup_spool_launcher(Datum main_arg);

#endif
