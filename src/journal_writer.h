/*
 * journal_writer.h - the background workers that write the journal rows
 * of call logs no backend holds: the journal writer (one per database at a
 * time), and the launcher (with shared_preload_libraries) that starts
 * them.  call_log.c registers both by their names.
 */
#ifndef OCPB_JOURNAL_WRITER_H
#define OCPB_JOURNAL_WRITER_H

#include "postgres.h"

extern PGDLLEXPORT void ocp_backup_journal_writer(Datum main_arg);
extern PGDLLEXPORT void ocp_backup_call_log_launcher(Datum main_arg);

#endif
