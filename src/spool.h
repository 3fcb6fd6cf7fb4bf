/*
 * spool.h - keeps journal rows that their transaction rolled back, and the
 * background worker that writes them again.
 */
#ifndef OCPB_SPOOL_H
#define OCPB_SPOOL_H

#include "postgres.h"

/* Registers the transaction callbacks; from _PG_init. */
extern void ocpb_spool_init(void);

/*
 * Remembers a journal row just inserted by the current (sub)transaction, as
 * the JSON of the whole row, until that transaction's fate is known.
 */
extern void ocpb_spool_remember(const char *row_json);

/*
 * The row to journal if the call now sending a request never finishes (a
 * cancel, statement_timeout, or the backend's exit while OCP is awaited):
 * set before sending, cleared once the answer or failure is in hand.
 */
extern void ocpb_spool_set_in_flight(const char *row_json);
extern void ocpb_spool_clear_in_flight(void);

/*
 * Starts a writer when this database has spooled rows left by a writer that
 * could not start; cheap enough for every call.
 */
extern void ocpb_spool_flush_leftovers(void);

extern PGDLLEXPORT void ocp_backup_journal_writer(Datum main_arg);

#endif
