/*
 * rename.c - follows ALTER SERVER ... RENAME TO for ocp_backup servers.
 *
 * The journal, the task table and the fleet tables name servers as they
 * are called, which is what a DBA joins on and what survives pg_dump (an
 * OID does not).  A renamed server must keep its rows, so an event trigger
 * of the extension renames them with it.  Only C can read the statement's
 * old name; the rows are renamed by ocp_backup.rename_server, a SECURITY
 * DEFINER function granted to nobody, since the server's owner need not
 * own the journal.
 *
 * A dropped server's rows stay its own: its name is noted when it is
 * dropped (ocp_backup.note_dropped_servers), and a server created or
 * renamed with that name takes the rows only when the role doing so may
 * act as the journal's owner; anyone else's statement is refused, so no
 * role with mere USAGE on the wrapper can rename, change or claim them.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "catalog.h"

PG_FUNCTION_INFO_V1(ocp_backup_follow_server_rename);
PG_FUNCTION_INFO_V1(ocp_backup_guard_server_name);

/* The server of that name, if it is one of ocp_backup's. */
static bool
is_ocp_backup_server(const char *name)
{
	ForeignServer *server = GetForeignServerByName(name, true);
	ForeignDataWrapper *wrapper = GetForeignDataWrapperByName("ocp_backup", true);

	return server != NULL && wrapper != NULL && server->fdwid == wrapper->fdwid;
}

/*
 * A server of ocp_backup is about to carry this name: refused when it is
 * a dropped server's whose rows are kept, unless the role may act as the
 * journal's owner, whose statement then gives the rows to the server.
 */
static void
take_server_name(const char *name)
{
	static const Oid take_server_name_args[] = {TEXTOID, BOOLOID};
	bool		may_adopt = has_privs_of_role(GetUserId(), ocpb_journal_owner());

	(void) OidFunctionCall2(ocpb_extension_function("take_server_name",
													lengthof(take_server_name_args),
													take_server_name_args),
							CStringGetTextDatum(name), BoolGetDatum(may_adopt));
}

static void
require_event_trigger(FunctionCallInfo fcinfo, const char *function)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as an event trigger", function)));
}

Datum
ocp_backup_guard_server_name(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigger;
	CreateForeignServerStmt *create;

	require_event_trigger(fcinfo, "ocp_backup.guard_server_name()");
	trigger = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigger->parsetree, CreateForeignServerStmt))
		PG_RETURN_VOID();
	create = (CreateForeignServerStmt *) trigger->parsetree;
	if (is_ocp_backup_server(create->servername))
		take_server_name(create->servername);
	PG_RETURN_VOID();
}

Datum
ocp_backup_follow_server_rename(PG_FUNCTION_ARGS)
{
	static const Oid rename_server_args[] = {TEXTOID, TEXTOID};
	EventTriggerData *trigger;
	RenameStmt *rename;

	require_event_trigger(fcinfo, "ocp_backup.follow_server_rename()");
	trigger = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigger->parsetree, RenameStmt))
		PG_RETURN_VOID();
	rename = (RenameStmt *) trigger->parsetree;
	if (rename->renameType != OBJECT_FOREIGN_SERVER)
		PG_RETURN_VOID();
	if (!is_ocp_backup_server(rename->newname))
		PG_RETURN_VOID();
	/* Before 1.2 the extension had no ocp_backup.take_server_name. */
	if (OidIsValid(ocpb_function_in_schema("take_server_name",
										   get_namespace_oid("ocp_backup", false), 2,
										   (const Oid[]) {TEXTOID, BOOLOID})))
		take_server_name(rename->newname);
	(void) OidFunctionCall2(ocpb_extension_function("rename_server", lengthof(rename_server_args),
													rename_server_args),
							CStringGetTextDatum(strVal(rename->object)),
							CStringGetTextDatum(rename->newname));
	PG_RETURN_VOID();
}
