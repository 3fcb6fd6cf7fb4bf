/*
 * catalog.c - the extension's own catalog objects: the journal's relations
 * and functions, its owner, and the functions of the ocp_backup schema.
 *
 * The journal's catalog facts are looked up once and kept, forgotten at
 * the invalidations that may change them; no search_path takes part in
 * any lookup, and an object found must be the extension's own.
 */
#include "catalog.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

static OcpbJournalCatalog journal_catalog;
static bool journal_catalog_callbacks_registered = false;
/* Counts invalidations, so that one during a lookup is not lost. */
static uint64 journal_invalidations = 0;

static void
forget_journal_catalog(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == journal_catalog.journal ||
		relid == journal_catalog.task_table)
	{
		journal_catalog.valid = false;
		journal_invalidations++;
	}
}

static void
forget_journal_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	journal_catalog.valid = false;
	journal_invalidations++;
}

static Oid
journal_relation(const char *name, Oid namespace_id)
{
	Oid			relid = get_relname_relid(name, namespace_id);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the journal relation ocp_backup.%s does not exist", name),
				 errhint("Update or reinstall the extension: ALTER EXTENSION ocp_backup UPDATE;")));
	return relid;
}

/*
 * A function found by its schema and exact argument types, InvalidOid if
 * there is none: no search_path takes part, and the caller needs no USAGE
 * on the schema.
 */
Oid
ocpb_function_in_schema(const char *name, Oid namespace_id, int nargs, const Oid *arg_types)
{
	HeapTuple	tuple;
	Oid			function;

	tuple = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum(name),
							PointerGetDatum(buildoidvector(arg_types, nargs)),
							ObjectIdGetDatum(namespace_id));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	function = ((Form_pg_proc) GETSTRUCT(tuple))->oid;
	ReleaseSysCache(tuple);
	return function;
}

static Oid
journal_function(const char *name, Oid namespace_id, int nargs, const Oid *arg_types)
{
	Oid			function = ocpb_function_in_schema(name, namespace_id, nargs, arg_types);

	if (!OidIsValid(function))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the journal function ocp_backup.%s does not exist", name),
				 errhint("Update the extension to the version of its library: ALTER EXTENSION ocp_backup UPDATE;")));
	return function;
}

Oid
ocpb_extension_function(const char *name, int nargs, const Oid *arg_types)
{
	return journal_function(name, get_namespace_oid("ocp_backup", false), nargs, arg_types);
}

/*
 * Objects are found by name: after DROP EXTENSION anyone may create a
 * schema ocp_backup and fill it, and the journal writer must not call what
 * is there with the journal owner's rights.
 */
static void
require_extension_member(Oid class_id, Oid object_id, const char *name)
{
	Oid			extension = get_extension_oid("ocp_backup", true);

	if (!OidIsValid(extension) || getExtensionOfObject(class_id, object_id) != extension)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("ocp_backup.%s is not the extension's own", name),
				 errhint("Update or reinstall the extension: ALTER EXTENSION ocp_backup UPDATE;")));
}

OcpbJournalCatalog *
ocpb_journal_catalog(void)
{
	static const Oid record_invocation_args[] = {JSONBOID};
	static const Oid record_task_status_args[] = {
		TEXTOID, INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID
	};
	Oid			namespace_id;
	HeapTuple	tuple;
	uint64		invalidations_before;

	if (journal_catalog.valid)
		return &journal_catalog;
	if (!journal_catalog_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(forget_journal_catalog, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, forget_journal_functions, (Datum) 0);
		journal_catalog_callbacks_registered = true;
	}
	invalidations_before = journal_invalidations;
	namespace_id = get_namespace_oid("ocp_backup", false);
	journal_catalog.journal = journal_relation("invocation", namespace_id);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(journal_catalog.journal));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", journal_catalog.journal);
	journal_catalog.owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	journal_catalog.id_sequence = journal_relation("invocation_id_seq", namespace_id);
	journal_catalog.task_table = journal_relation("task", namespace_id);
	journal_catalog.record_invocation =
		journal_function("record_invocation", namespace_id,
						 lengthof(record_invocation_args), record_invocation_args);
	journal_catalog.record_task_status =
		journal_function("record_task_status", namespace_id,
						 lengthof(record_task_status_args), record_task_status_args);
	require_extension_member(RelationRelationId, journal_catalog.journal, "invocation");
	require_extension_member(RelationRelationId, journal_catalog.id_sequence, "invocation_id_seq");
	require_extension_member(RelationRelationId, journal_catalog.task_table, "task");
	require_extension_member(ProcedureRelationId, journal_catalog.record_invocation,
							 "record_invocation");
	require_extension_member(ProcedureRelationId, journal_catalog.record_task_status,
							 "record_task_status");
	/* Good for this call; looked up again if something changed meanwhile. */
	journal_catalog.valid = journal_invalidations == invalidations_before;
	return &journal_catalog;
}

Oid
ocpb_journal_owner(void)
{
	return ocpb_journal_catalog()->owner;
}

Oid
ocpb_journal_oid(void)
{
	return ocpb_journal_catalog()->journal;
}
