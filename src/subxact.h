/*
 * subxact.h - runs a piece of work in a subtransaction of its own and
 * returns its error instead of raising it, so that one failing part (a
 * server, a cluster, a call, a logged row) leaves the others' rows.
 */
#ifndef OCPB_SUBXACT_H
#define OCPB_SUBXACT_H

#include "postgres.h"

typedef void (*OcpbWork) (void *arg);

/*
 * NULL when work succeeded; else its error, in the caller's memory
 * context, with the subtransaction rolled back.  A cancel,
 * statement_timeout, shutdown or lack of memory is raised again: those end
 * the whole statement.
 */
extern ErrorData *ocpb_try_in_subtransaction(OcpbWork work, void *arg);

/* An error's message and detail, as one line for a result row. */
extern char *ocpb_error_text(const ErrorData *error);

#endif
