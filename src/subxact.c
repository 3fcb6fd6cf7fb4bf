/*
 * subxact.c - runs a piece of work in a subtransaction of its own.
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "subxact.h"

static bool
ends_the_statement(const ErrorData *error)
{
	return ERRCODE_TO_CATEGORY(error->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION ||
		error->sqlerrcode == ERRCODE_OUT_OF_MEMORY;
}

ErrorData *
ocpb_try_in_subtransaction(OcpbWork work, void *arg)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		work(arg);
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

char *
ocpb_error_text(const ErrorData *error)
{
	if (error->detail == NULL)
		return pstrdup(error->message);
	return psprintf("%s: %s", error->message, error->detail);
}
