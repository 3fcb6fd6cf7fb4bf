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
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "journal.h"

PG_FUNCTION_INFO_V1(ocp_backup_follow_server_rename);

Datum
ocp_backup_follow_server_rename(PG_FUNCTION_ARGS)
{
	static const Oid rename_server_args[] = {TEXTOID, TEXTOID};
	EventTriggerData *trigger;
	RenameStmt *rename;
	ForeignServer *server;
	ForeignDataWrapper *wrapper;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ocp_backup.follow_server_rename() must be called as an event trigger")));
	trigger = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigger->parsetree, RenameStmt))
		PG_RETURN_VOID();
	rename = (RenameStmt *) trigger->parsetree;
	if (rename->renameType != OBJECT_FOREIGN_SERVER)
		PG_RETURN_VOID();
	server = GetForeignServerByName(rename->newname, true);
	wrapper = GetForeignDataWrapperByName("ocp_backup", true);
	if (server == NULL || wrapper == NULL || server->fdwid != wrapper->fdwid)
		PG_RETURN_VOID();
	(void) OidFunctionCall2(ocpb_extension_function("rename_server", lengthof(rename_server_args),
													rename_server_args),
							CStringGetTextDatum(strVal(rename->object)),
							CStringGetTextDatum(rename->newname));
	PG_RETURN_VOID();
}
