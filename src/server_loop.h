/*
 * server_loop.h - runs fleet-wide work (sync, reconcile) server by server,
 * each in a subtransaction of its own, so that one failing server neither
 * stops the others nor leaves half its rows.
 */
#ifndef OCPB_SERVER_LOOP_H
#define OCPB_SERVER_LOOP_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "endpoint.h"
#include "subxact.h"

/* What a run's claim on a server (ocpb_lock_server) keeps from overlapping. */
typedef enum OcpbServerLock
{
	OCPB_LOCK_SYNC = 1,
	OCPB_LOCK_RECONCILE = 2
} OcpbServerLock;

/*
 * The servers to visit: the one named, which must exist and be usable by
 * the caller with a user mapping (else this raises), or, when named is
 * NULL, every ocp_backup server the caller has USAGE on.
 */
extern List *ocpb_servers_to_visit(const char *named);

typedef void (*OcpbServerVisit) (const OcpbEndpoint *endpoint, void *arg);

/*
 * Resolves the server's endpoint and runs visit in a subtransaction.
 * Returns NULL when it succeeded; else the error, the subtransaction rolled
 * back.  A cancel, statement_timeout, shutdown or lack of memory is raised
 * again: those end the whole statement.
 */
extern ErrorData *ocpb_visit_server(const char *server_name, OcpbServerVisit visit, void *arg);

/*
 * Claims the server for that work until the transaction ends, without
 * waiting: raises 55P03 (lock_not_available) when an overlapping run holds
 * it.  Only the extension's owner can hold the claim.
 */
extern void ocpb_lock_server(OcpbServerLock lock, Oid server_id, const char *server_name);

#endif
