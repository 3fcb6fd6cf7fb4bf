/*
 * journal_write.c - a call's journal row and its task rows inserted
 * straight into ocp_backup.invocation and ocp_backup.task.
 *
 * The SQL writer, ocp_backup.record_invocation, reads the row back from
 * JSON, runs PL/pgSQL and executes two INSERTs: it was most of what a call
 * cost.  Here the call's values become tuples directly, inserted as INSERT
 * ... ON CONFLICT (primary key) DO NOTHING inserts them: the primary key
 * looked up first, then a speculative insertion, confirmed once every index
 * took it.  No name is resolved: journal.c found the relations by OID and
 * checked that they are the extension's own, and their columns are matched
 * here by name and type once per relcache entry.  The index work (partial
 * indexes' predicates, any expression index the owner added) runs as the
 * journal's owner, in a restricted operation, with search_path pinned to
 * pg_catalog, pg_temp: as in the SQL writer.
 *
 * What only SQL does is left to the SQL writer, and the caller is told so:
 * a table with triggers on INSERT, rules, CHECK constraints or row
 * security that applies to the journal's owner, a partition, an owner other
 * than the journal's or one without the right to INSERT, a primary key
 * other than the SQL writer's conflict target, another unique index or an
 * exclusion constraint (ON CONFLICT would take one as an arbiter too, or
 * check it first), a known column with a type modifier, a column unknown
 * to the extension that INSERT would fill or that has a domain's type, or
 * a NULL for a NOT NULL column.  The task table's foreign key to the journal
 * (the install script's) is not checked here: the row it points at was
 * inserted just before, by this transaction, and no other can see it, let
 * alone remove it.  Unlike INSERT under REPEATABLE READ, a conflicting row
 * the snapshot cannot see raises no serialization failure: the row there
 * is kept, as it is under READ COMMITTED.
 */
#include "journal_write.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "pg_compat.h"

typedef struct KnownColumn
{
	const char *name;
	Oid			type;
} KnownColumn;

static const KnownColumn invocation_columns[INVOCATION_COLUMNS] = {
	[INVOCATION_ID] = {"id", INT8OID},
	[INVOCATION_STARTED_AT] = {"started_at", TIMESTAMPTZOID},
	[INVOCATION_FINISHED_AT] = {"finished_at", TIMESTAMPTZOID},
	[INVOCATION_INVOKED_BY] = {"invoked_by", TEXTOID},
	[INVOCATION_SERVER_NAME] = {"server_name", TEXTOID},
	[INVOCATION_CLUSTER_ID] = {"cluster_id", INT8OID},
	[INVOCATION_BACKUP_MODE] = {"backup_mode", TEXTOID},
	[INVOCATION_DATA_MODE] = {"data_mode", TEXTOID},
	[INVOCATION_REQUEST] = {"request", JSONBOID},
	[INVOCATION_HTTP_STATUS] = {"http_status", INT4OID},
	[INVOCATION_SUCCESSFUL] = {"successful", BOOLOID},
	[INVOCATION_TASK_IDS] = {"task_ids", INT8ARRAYOID},
	[INVOCATION_TRACE_ID] = {"trace_id", TEXTOID},
	[INVOCATION_ERROR] = {"error", TEXTOID},
	[INVOCATION_RESPONSE] = {"response", JSONOID},
	[INVOCATION_TENANT_ID] = {"tenant_id", INT8OID},
	[INVOCATION_OUTCOME_UNKNOWN] = {"outcome_unknown", BOOLOID},
	[INVOCATION_RECONCILED_AT] = {"reconciled_at", TIMESTAMPTZOID},
	[INVOCATION_RECONCILIATION] = {"reconciliation", TEXTOID},
	[INVOCATION_OCP_ACCOUNT] = {"ocp_account", TEXTOID},
	[INVOCATION_APPLICATION_NAME] = {"application_name", TEXTOID},
	[INVOCATION_BACKEND_PID] = {"backend_pid", INT4OID},
};

/* The columns of ocp_backup.task a new task row gets. */
typedef enum TaskColumn
{
	TASK_TASK_ID,
	TASK_INVOCATION_ID,
	TASK_SERVER_NAME,
	TASK_CLUSTER_ID,
	TASK_COLUMNS
} TaskColumn;

static const KnownColumn task_columns[TASK_COLUMNS] = {
	[TASK_TASK_ID] = {"task_id", INT8OID},
	[TASK_INVOCATION_ID] = {"invocation_id", INT8OID},
	[TASK_SERVER_NAME] = {"server_name", TEXTOID},
	[TASK_CLUSTER_ID] = {"cluster_id", INT8OID},
};

#define MAX_KNOWN_COLUMNS INVOCATION_COLUMNS

/* The conflict targets of the SQL writer's ON CONFLICT clauses. */
static const int invocation_key[] = {INVOCATION_ID};
static const int task_key[] = {TASK_SERVER_NAME, TASK_TASK_ID};

/*
 * Keys of the row the call log holds that name no column: the SQL writer
 * would fill a column of that name from them.
 */
static const char *const logged_only_keys[] = {"journal", "response_text", NULL};

/*
 * How a table takes rows directly, made from its relcache entry and
 * forgotten when that changes.
 */
typedef struct TablePlan
{
	Oid			relid;			/* InvalidOid: to be made */
	/*
	 * What else it was made for: the task table's plan depends on the
	 * journal's owner and OID, which change without touching that table.
	 */
	Oid			owner;
	Oid			journal;		/* that task rows refer to; InvalidOid: none */
	bool		direct;			/* false: the SQL writer is needed */
	Oid			primary_key;	/* the conflict arbiter */
	int			attindex[MAX_KNOWN_COLUMNS];	/* each known column's */
	bool		null_refused[MAX_KNOWN_COLUMNS];	/* NULL would not do */
} TablePlan;

static TablePlan invocation_plan;
static TablePlan task_plan;
static bool plan_callback_registered = false;
/* Counts invalidations, so that one while a plan is made is not lost. */
static uint64 plan_invalidations = 0;

const char *
ocpb_invocation_column_name(OcpbInvocationColumn column)
{
	return invocation_columns[column].name;
}

static void
forget_table_plans(Datum arg, Oid relid)
{
	plan_invalidations++;
	if (relid == InvalidOid || relid == invocation_plan.relid)
		invocation_plan.relid = InvalidOid;
	if (relid == InvalidOid || relid == task_plan.relid)
		task_plan.relid = InvalidOid;
}

/*
 * Whether a column this writer leaves NULL gets NULL from the SQL writer
 * too, and takes it.  The journal's row is inserted with every column
 * given (VALUES (r.*)), a task row with four: the others get their
 * defaults.
 */
static bool
null_accepted(Form_pg_attribute attribute, bool all_columns_given)
{
	return !attribute->attnotnull && attribute->attgenerated == '\0' &&
		(all_columns_given || (!attribute->atthasdef && attribute->attidentity == '\0'));
}

/*
 * The foreign key a task row holds by construction: the install script's,
 * from its invocation_id to the journal's id.  Another the owner added is
 * checked by SQL.
 */
typedef struct JournalReference
{
	Oid			journal;		/* InvalidOid: none for this table */
	AttrNumber	journal_id;		/* the journal's id column */
	int			column;			/* the known column that refers to it */
} JournalReference;

static bool
is_journal_reference(Relation relation, Oid constraint, const JournalReference *reference,
					 const TablePlan *plan)
{
	ListCell   *cell;

	foreach(cell, RelationGetFKeyList(relation))
	{
		const ForeignKeyCacheInfo *key = lfirst(cell);

		if (key->conoid == constraint)
			return key->confrelid == reference->journal && key->nkeys == 1 &&
				key->conkey[0] == plan->attindex[reference->column] + 1 &&
				key->confkey[0] == reference->journal_id;
	}
	return false;
}

/*
 * Whether an INSERT into the table would run a trigger other than the
 * check of the task rows' reference to the journal.
 */
static bool
has_insert_triggers(Relation relation, const JournalReference *reference,
					const TablePlan *plan)
{
	TriggerDesc *triggers = relation->trigdesc;
	int			i;

	if (triggers == NULL)
		return false;
	for (i = 0; i < triggers->numtriggers; i++)
	{
		const Trigger *trigger = &triggers->triggers[i];

		if (!TRIGGER_FOR_INSERT(trigger->tgtype))
			continue;
		if (OidIsValid(reference->journal) && trigger->tgisinternal &&
			trigger->tgfoid == F_RI_FKEY_CHECK_INS &&
			is_journal_reference(relation, trigger->tgconstraint, reference, plan))
			continue;
		return true;
	}
	return false;
}

static bool
logged_only_key(const char *name)
{
	const char *const *key;

	for (key = logged_only_keys; *key != NULL; key++)
		if (strcmp(*key, name) == 0)
			return true;
	return false;
}

static int
known_column(const KnownColumn *columns, int ncolumns, const char *name)
{
	int			k;

	for (k = 0; k < ncolumns; k++)
		if (strcmp(columns[k].name, name) == 0)
			return k;
	return -1;
}

/* Whether every known column is there with its type, and the rest take NULL. */
static bool
columns_fit(Relation relation, const KnownColumn *columns, int ncolumns,
			bool all_columns_given, TablePlan *plan)
{
	TupleDesc	descriptor = RelationGetDescr(relation);
	int			found = 0;
	int			i;

	for (i = 0; i < descriptor->natts; i++)
	{
		Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
		int			k;

		if (attribute->attisdropped)
			continue;
		k = known_column(columns, ncolumns, NameStr(attribute->attname));
		if (k < 0)
		{
			/* A domain's default and constraints are SQL's to apply to a NULL. */
			if (!null_accepted(attribute, all_columns_given) ||
				(all_columns_given && logged_only_key(NameStr(attribute->attname))) ||
				get_typtype(attribute->atttypid) == TYPTYPE_DOMAIN)
				return false;
			continue;
		}
		/* A type modifier would have SQL coerce the value (a timestamp's precision). */
		if (attribute->atttypid != columns[k].type || attribute->atttypmod != -1 ||
			attribute->attgenerated != '\0')
			return false;
		plan->attindex[k] = i;
		plan->null_refused[k] = !null_accepted(attribute, all_columns_given);
		found++;
	}
	return found == ncolumns;
}

/* Whether the primary key is on exactly the SQL writer's conflict target. */
static bool
primary_key_is(Relation relation, const TablePlan *plan, const int *key, int nkey)
{
	Bitmapset  *primary = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	Bitmapset  *expected = NULL;
	bool		same;
	int			i;

	for (i = 0; i < nkey; i++)
		expected = bms_add_member(expected, plan->attindex[key[i]] + 1 -
								  FirstLowInvalidHeapAttributeNumber);
	same = bms_equal(primary, expected);
	bms_free(primary);
	bms_free(expected);
	return same;
}

/*
 * Whether the primary key is the one index that checks rows against each
 * other: INSERT ... ON CONFLICT (key) would take another unique index on
 * the key as an arbiter too, and look a conflict up before any index is
 * checked, where an insertion checks each index as it goes.
 */
static bool
primary_key_checks_alone(Relation relation, Oid primary_key)
{
	List	   *indexes = RelationGetIndexList(relation);
	ListCell   *cell;
	bool		alone = true;

	foreach(cell, indexes)
	{
		Oid			index = lfirst_oid(cell);
		HeapTuple	tuple;
		Form_pg_index form;

		if (index == primary_key)
			continue;
		tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", index);
		form = (Form_pg_index) GETSTRUCT(tuple);
		alone = !form->indisunique && !form->indisexclusion;
		ReleaseSysCache(tuple);
		if (!alone)
			break;
	}
	list_free(indexes);
	return alone;
}

static const TablePlan *
table_plan(Relation relation, TablePlan *plan, const KnownColumn *columns, int ncolumns,
		   const int *key, int nkey, bool all_columns_given,
		   const JournalReference *reference, Oid owner)
{
	Form_pg_class form = relation->rd_rel;
	uint64		invalidations_before = plan_invalidations;

	if (plan->relid == RelationGetRelid(relation) && plan->owner == owner &&
		plan->journal == reference->journal)
		return plan;
	if (!plan_callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_table_plans, (Datum) 0);
		plan_callback_registered = true;
	}
	memset(plan, 0, sizeof(*plan));
	plan->owner = owner;
	plan->journal = reference->journal;
	plan->primary_key = ocpb_primary_key_index(relation);
	/* Row security is bypassed by the table's owner only. */
	plan->direct = form->relkind == RELKIND_RELATION && !form->relispartition &&
		form->relowner == owner &&
		pg_class_aclcheck(RelationGetRelid(relation), owner, ACL_INSERT) == ACLCHECK_OK &&
		!form->relhasrules &&
		!(form->relrowsecurity && form->relforcerowsecurity) &&
		(relation->rd_att->constr == NULL || relation->rd_att->constr->num_check == 0) &&
		OidIsValid(plan->primary_key) &&
		columns_fit(relation, columns, ncolumns, all_columns_given, plan) &&
		primary_key_is(relation, plan, key, nkey) &&
		primary_key_checks_alone(relation, plan->primary_key) &&
		!has_insert_triggers(relation, reference, plan);
	/* Good for this call (the table is locked); made again if it changed. */
	plan->relid = plan_invalidations == invalidations_before ?
		RelationGetRelid(relation) : InvalidOid;
	return plan;
}

/* Whether a row of these values goes in directly. */
static bool
row_fits(const TablePlan *plan, const bool *isnull, int ncolumns)
{
	int			k;

	if (!plan->direct)
		return false;
	for (k = 0; k < ncolumns; k++)
		if (isnull[k] && plan->null_refused[k])
			return false;
	return true;
}

/* Text in the database's encoding, as text_in would take it. */
static Datum
text_datum(const char *value, bool *isnull)
{
	size_t		len;

	*isnull = value == NULL;
	if (value == NULL)
		return (Datum) 0;
	len = strlen(value);
	(void) pg_verify_mbstr(GetDatabaseEncoding(), value, (int) len, false);
	return PointerGetDatum(cstring_to_text_with_len(value, (int) len));
}

static Datum
task_ids_datum(const OcpbInvocation *invocation)
{
	Datum	   *ids;
	int			i;

	if (invocation->n_task_ids == 0)
		return PointerGetDatum(construct_empty_array(INT8OID));
	ids = palloc(sizeof(Datum) * invocation->n_task_ids);
	for (i = 0; i < invocation->n_task_ids; i++)
		ids[i] = Int64GetDatum(invocation->task_ids[i]);
	return PointerGetDatum(construct_array(ids, invocation->n_task_ids, INT8OID,
										   sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* The journal row's values, as the SQL writer would store them. */
static void
invocation_values(const OcpbInvocation *invocation, Datum *values, bool *isnull)
{
	memset(isnull, false, sizeof(bool) * INVOCATION_COLUMNS);
	values[INVOCATION_ID] = Int64GetDatum(invocation->id);
	values[INVOCATION_STARTED_AT] = TimestampTzGetDatum(invocation->started_at);
	values[INVOCATION_FINISHED_AT] = TimestampTzGetDatum(invocation->finished_at);
	values[INVOCATION_INVOKED_BY] = text_datum(invocation->invoked_by, &isnull[INVOCATION_INVOKED_BY]);
	values[INVOCATION_SERVER_NAME] = text_datum(invocation->server_name, &isnull[INVOCATION_SERVER_NAME]);
	values[INVOCATION_CLUSTER_ID] = Int64GetDatum(invocation->cluster_id);
	values[INVOCATION_BACKUP_MODE] = text_datum(invocation->backup_mode, &isnull[INVOCATION_BACKUP_MODE]);
	values[INVOCATION_DATA_MODE] = text_datum(invocation->data_mode, &isnull[INVOCATION_DATA_MODE]);
	values[INVOCATION_REQUEST] = JsonbPGetDatum(ocpb_journal_request_jsonb(invocation));
	values[INVOCATION_HTTP_STATUS] = Int32GetDatum(invocation->http_status);
	isnull[INVOCATION_HTTP_STATUS] = invocation->http_status == 0;
	values[INVOCATION_SUCCESSFUL] = BoolGetDatum(invocation->successful);
	values[INVOCATION_TASK_IDS] = task_ids_datum(invocation);
	values[INVOCATION_TRACE_ID] = text_datum(invocation->trace_id, &isnull[INVOCATION_TRACE_ID]);
	values[INVOCATION_ERROR] = text_datum(invocation->error, &isnull[INVOCATION_ERROR]);
	/* json keeps the text; ocpb_journal_set_response checked that it takes it. */
	values[INVOCATION_RESPONSE] = text_datum(invocation->response_text, &isnull[INVOCATION_RESPONSE]);
	values[INVOCATION_TENANT_ID] = Int64GetDatum(invocation->tenant_id);
	isnull[INVOCATION_TENANT_ID] = invocation->tenant_id == 0;
	values[INVOCATION_OUTCOME_UNKNOWN] = BoolGetDatum(invocation->outcome_unknown);
	values[INVOCATION_RECONCILED_AT] = (Datum) 0;
	isnull[INVOCATION_RECONCILED_AT] = true;
	values[INVOCATION_RECONCILIATION] = (Datum) 0;
	isnull[INVOCATION_RECONCILIATION] = true;
	values[INVOCATION_OCP_ACCOUNT] = text_datum(invocation->ocp_account, &isnull[INVOCATION_OCP_ACCOUNT]);
	values[INVOCATION_APPLICATION_NAME] = text_datum(invocation->application_name,
													 &isnull[INVOCATION_APPLICATION_NAME]);
	values[INVOCATION_BACKEND_PID] = Int32GetDatum(invocation->backend_pid);
	isnull[INVOCATION_BACKEND_PID] = invocation->backend_pid == 0;
}

/* A table opened for rows, with its indexes, in one executor state. */
typedef struct TableWrite
{
	const TablePlan *plan;
	ResultRelInfo *result;
	TupleTableSlot *slot;
	List	   *arbiters;
} TableWrite;

static void
open_table_write(TableWrite *write, Relation relation, const TablePlan *plan, EState *estate)
{
	write->plan = plan;
	write->result = makeNode(ResultRelInfo);
	/* No range table: nothing here reports column privileges. */
	InitResultRelInfo(write->result, relation, 0, NULL, 0);
	ExecOpenIndices(write->result, true);
	write->slot = table_slot_create(relation, &estate->es_tupleTable);
	write->arbiters = list_make1_oid(plan->primary_key);
}

/*
 * Inserts the row unless its primary key is taken, as ON CONFLICT DO
 * NOTHING does: the key is looked up, waiting for a transaction that is
 * inserting it, and a key taken in between makes the insertion undo itself
 * and start over.  A key known to be new (a journal id just drawn) is not
 * looked up first: were it taken, the insertion would undo itself all the
 * same.  True when the row went in.
 */
static bool
insert_unless_taken(TableWrite *write, const Datum *values, const bool *isnull,
					int ncolumns, bool key_is_new, EState *estate)
{
	Relation	relation = write->result->ri_RelationDesc;
	TupleTableSlot *slot = write->slot;
	bool		look = !key_is_new;
	int			k;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (k = 0; k < ncolumns; k++)
	{
		slot->tts_values[write->plan->attindex[k]] = values[k];
		slot->tts_isnull[write->plan->attindex[k]] = isnull[k];
	}
	ExecStoreVirtualTuple(slot);
	for (;;)
	{
		ItemPointerData conflict;
		uint32		token;
		bool		taken_meanwhile = false;

		CHECK_FOR_INTERRUPTS();
		if (look &&
			!ocpb_check_index_constraints(write->result, slot, estate, &conflict,
										  write->arbiters))
			return false;
		token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
		table_tuple_insert_speculative(relation, slot, estate->es_output_cid, 0, NULL, token);
		list_free(ocpb_insert_index_tuples(write->result, slot, estate, &taken_meanwhile,
										   write->arbiters));
		table_tuple_complete_speculative(relation, slot, token, !taken_meanwhile);
		SpeculativeInsertionLockRelease(GetCurrentTransactionId());
		if (!taken_meanwhile)
			return true;
		look = true;
	}
}

static void
insert_task_rows(TableWrite *write, const OcpbInvocation *invocation,
				 Datum server_name, EState *estate)
{
	Datum		values[TASK_COLUMNS];
	bool		isnull[TASK_COLUMNS] = {false};
	int			i;

	values[TASK_INVOCATION_ID] = Int64GetDatum(invocation->id);
	values[TASK_SERVER_NAME] = server_name;
	values[TASK_CLUSTER_ID] = Int64GetDatum(invocation->cluster_id);
	/* OCP may list a task twice, or one an earlier call started. */
	for (i = 0; i < invocation->n_task_ids; i++)
	{
		values[TASK_TASK_ID] = Int64GetDatum(invocation->task_ids[i]);
		(void) insert_unless_taken(write, values, isnull, TASK_COLUMNS, false, estate);
	}
}

/* The inserts, in an executor state of their own; true if the row went in. */
static bool
insert_call_rows(Relation journal, const TablePlan *journal_plan,
				 Relation task_table, const TablePlan *task_plan_used,
				 const OcpbInvocation *invocation, const Datum *values, const bool *isnull)
{
	EState	   *estate = CreateExecutorState();
	MemoryContext caller_context = MemoryContextSwitchTo(estate->es_query_cxt);
	TableWrite	journal_write;
	TableWrite	task_write;
	bool		inserted;

	/* What the inserts allocate goes with the executor state. */
	estate->es_output_cid = GetCurrentCommandId(true);
	open_table_write(&journal_write, journal, journal_plan, estate);
	inserted = insert_unless_taken(&journal_write, values, isnull, INVOCATION_COLUMNS, true,
								   estate);
	ExecCloseIndices(journal_write.result);
	if (inserted && task_table != NULL)
	{
		open_table_write(&task_write, task_table, task_plan_used, estate);
		insert_task_rows(&task_write, invocation, values[INVOCATION_SERVER_NAME], estate);
		ExecCloseIndices(task_write.result);
	}
	ExecResetTupleTable(estate->es_tupleTable, false);
	MemoryContextSwitchTo(caller_context);
	FreeExecutorState(estate);
	return inserted;
}

OcpbDirectWrite
ocpb_journal_write_direct(Oid journal, Oid task_table, Oid owner,
						  const OcpbInvocation *invocation)
{
	Datum		values[INVOCATION_COLUMNS];
	bool		isnull[INVOCATION_COLUMNS];
	Relation	journal_relation;
	Relation	task_relation = NULL;
	const TablePlan *journal_plan;
	const TablePlan *task_plan_used = NULL;
	Oid			saved_user;
	int			saved_context;
	int			guc_level;
	bool		inserted;
	const JournalReference no_reference = {InvalidOid, InvalidAttrNumber, 0};

	invocation_values(invocation, values, isnull);
	journal_relation = table_open(journal, RowExclusiveLock);
	journal_plan = table_plan(journal_relation, &invocation_plan, invocation_columns,
							  INVOCATION_COLUMNS, invocation_key, lengthof(invocation_key),
							  true, &no_reference, owner);
	if (!row_fits(journal_plan, isnull, INVOCATION_COLUMNS))
	{
		table_close(journal_relation, NoLock);
		return OCPB_WRITE_NEEDS_SQL;
	}
	if (invocation->n_task_ids > 0)
	{
		JournalReference task_reference = {
			journal, journal_plan->attindex[INVOCATION_ID] + 1, TASK_INVOCATION_ID
		};

		task_relation = table_open(task_table, RowExclusiveLock);
		task_plan_used = table_plan(task_relation, &task_plan, task_columns, TASK_COLUMNS,
									task_key, lengthof(task_key), false, &task_reference, owner);
		if (!task_plan_used->direct)
		{
			table_close(task_relation, NoLock);
			table_close(journal_relation, NoLock);
			return OCPB_WRITE_NEEDS_SQL;
		}
	}

	/* An error on the way is undone by the (sub)transaction's abort. */
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	inserted = insert_call_rows(journal_relation, journal_plan, task_relation, task_plan_used,
								invocation, values, isnull);
	AtEOXact_GUC(true, guc_level);
	SetUserIdAndSecContext(saved_user, saved_context);

	if (task_relation != NULL)
		table_close(task_relation, NoLock);
	table_close(journal_relation, NoLock);
	return inserted ? OCPB_WRITE_DONE : OCPB_WRITE_EXISTS;
}
