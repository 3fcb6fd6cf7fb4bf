/*
 * catalog.h - the extension's own catalog objects: the journal's relations
 * and functions, its owner, and the functions of the ocp_backup schema.
 */
#ifndef OCPB_CATALOG_H
#define OCPB_CATALOG_H

#include "postgres.h"

/*
 * The journal's catalog facts, looked up once and forgotten when the
 * journal's relation or any function changes (the extension dropped and
 * created again, updated, a new owner).  The functions are kept as OIDs and
 * looked up for each call, so that a changed definition (its owner, its
 * settings) takes effect at once.
 */
typedef struct OcpbJournalCatalog
{
	bool		valid;
	Oid			journal;		/* ocp_backup.invocation */
	Oid			task_table;		/* ocp_backup.task */
	Oid			owner;			/* of the journal */
	Oid			id_sequence;	/* ocp_backup.invocation_id_seq */
	Oid			record_invocation;	/* ocp_backup.record_invocation */
	Oid			record_task_status; /* ocp_backup.record_task_status */
} OcpbJournalCatalog;

/*
 * The journal's catalog facts, looked up again if something changed since;
 * raises when an object is missing or not the extension's own.
 */
extern OcpbJournalCatalog *ocpb_journal_catalog(void);

/* ocp_backup.invocation: what each logged row names as its journal. */
extern Oid	ocpb_journal_oid(void);

/*
 * A function of the ocp_backup schema, by its exact argument types: no
 * search_path takes part, and the caller needs no USAGE on the schema.  The
 * privileged writers, granted to nobody, are called with it through fmgr.
 */
extern Oid	ocpb_extension_function(const char *name, int nargs, const Oid *arg_types);
extern Oid	ocpb_function_in_schema(const char *name, Oid namespace_id, int nargs,
									const Oid *arg_types);

/* The role that owns the journal, which the journal writer runs as. */
extern Oid	ocpb_journal_owner(void);

#endif
