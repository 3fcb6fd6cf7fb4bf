/*
 * server_loop.c - runs fleet-wide work server by server.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "ocp_list.h"
#include "server_loop.h"

List *
ocpb_servers_to_visit(const char *named)
{
	if (named == NULL)
		return ocpb_usable_servers();
	/* A server named is an argument: what is wrong with it is raised. */
	(void) ocpb_resolve_endpoint(named, true);
	return list_make1(pstrdup(named));
}

typedef struct ServerVisit
{
	const char *server_name;
	OcpbServerVisit visit;
	void	   *arg;
} ServerVisit;

static void
visit_server(void *arg)
{
	ServerVisit *server = arg;

	server->visit(ocpb_resolve_endpoint(server->server_name, true), server->arg);
}

ErrorData *
ocpb_visit_server(const char *server_name, OcpbServerVisit visit, void *arg)
{
	ServerVisit server;

	server.server_name = server_name;
	server.visit = visit;
	server.arg = arg;
	return ocpb_try_in_subtransaction(visit_server, &server);
}

/*
 * The run's claim on the server is a row lock on the server's row of
 * ocp_backup.server_run, which only the extension's owner can write (an
 * advisory lock would do as well, but any role can take any advisory key and
 * hold it forever).  ocp_backup.claim_server_run takes it without waiting:
 * an overlapping run raises 55P03, which skips this server.
 */
void
ocpb_lock_server(OcpbServerLock lock, Oid server_id, const char *server_name)
{
	static const Oid arg_types[] = {OIDOID, TEXTOID, TEXTOID};
	Datum		args[3];
	bool		nulls[3] = {false, false, false};

	args[0] = ObjectIdGetDatum(server_id);
	args[1] = CStringGetTextDatum(server_name);
	args[2] = CStringGetTextDatum(lock == OCPB_LOCK_SYNC ? "sync" : "reconcile");
	(void) ocpb_call_privileged("claim_server_run", 3, arg_types, args, nulls);
}
