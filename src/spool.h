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
 * Starts a writer when this database has spooled rows left by a writer that
 * could not start; cheap enough for every call.
 */
extern void ocpb_spool_flush_leftovers(void);

extern PGDLLEXPORT void ocp_backup_journal_writer(Datum main_arg);

#endif
