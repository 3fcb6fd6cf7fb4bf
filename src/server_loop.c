/*
 * server_loop.c - runs fleet-wide work server by server.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

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

static bool
ends_the_statement(const ErrorData *error)
{
	return ERRCODE_TO_CATEGORY(error->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION ||
		error->sqlerrcode == ERRCODE_OUT_OF_MEMORY;
}

ErrorData *
ocpb_visit_server(const char *server_name, OcpbServerVisit visit, void *arg)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		visit(ocpb_resolve_endpoint(server_name, true), arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
		if (ends_the_statement(error))
			ReThrowError(error);
	}
	PG_END_TRY();
	return error;
}

void
ocpb_lock_server(OcpbServerLock lock, Oid server_id)
{
	(void) DirectFunctionCall2(pg_advisory_xact_lock_int4,
							   Int32GetDatum(OCPB_LOCK_SPACE + (int32) lock),
							   Int32GetDatum((int32) server_id));
}

char *
ocpb_error_text(const ErrorData *error)
{
	if (error->detail == NULL)
		return pstrdup(error->message);
	return psprintf("%s: %s", error->message, error->detail);
}
