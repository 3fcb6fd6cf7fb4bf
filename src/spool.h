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
 * The journal row of the call now under way: set before sending (to be
 * spooled if the call never finishes) and again, complete, before its
 * INSERT (to be spooled if the INSERT or anything before it fails).
 */
extern void ocpb_spool_set_in_flight(const char *row_json, Oid journal_owner);

/*
 * The in-flight row has been inserted by the current (sub)transaction: it is
 * remembered as such until that transaction's fate is known.
 */
extern void ocpb_spool_in_flight_inserted(void);

/*
 * Starts a writer when this database has spooled rows left by a writer that
 * could not start; cheap enough for every call.
 */
extern void ocpb_spool_flush_leftovers(void);

extern PGDLLEXPORT void ocp_backup_journal_writer(Datum main_arg);

#endif
