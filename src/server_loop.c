/*
 * server_loop.c - runs fleet-wide work server by server.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "server_loop.h"

/* The first key of the advisory locks: "ocpb". */
#define OCPB_LOCK_SPACE 0x6f637062

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

void
ocpb_lock_server(OcpbServerLock lock, Oid server_id)
{
	(void) DirectFunctionCall2(pg_advisory_xact_lock_int4,
							   Int32GetDatum(OCPB_LOCK_SPACE + (int32) lock),
							   Int32GetDatum((int32) server_id));
}
