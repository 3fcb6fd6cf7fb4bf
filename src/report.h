/*
 * report.h - turns failed exchanges with OCP into errors a DBA can act on.
 */
#ifndef OCPB_REPORT_H
#define OCPB_REPORT_H

#include "postgres.h"

#include "endpoint.h"
#include "http.h"
#include "pg_compat.h"
#include "response.h"

/* What a call was for, in the words its error messages use. */
typedef struct OcpbCallSubject
{
	const char *action;			/* "back up cluster 8" */
	const char *object;			/* "cluster 8", the thing a 404 is about */
} OcpbCallSubject;

/* An error, classified and worded, not yet raised. */
typedef struct OcpbFailure
{
	int			sqlerrcode;
	char	   *message;
	char	   *detail;			/* NULL when none */
	char	   *hint;			/* NULL when none */
} OcpbFailure;

/*
 * Decides whether the exchange failed as a whole (no answer, an HTTP error,
 * an error envelope, or a body that cannot be read) and words the failure.
 * Per-object failures inside a successful answer are not failures here.
 */
extern bool ocpb_exchange_failed(const OcpbEndpoint *endpoint,
								 const OcpbCallSubject *subject,
								 const OcpbHttpResult *http,
								 const OcpbEnvelope *envelope,
								 OcpbFailure *failure);

/* Words a transport failure (no HTTP answer); false when there was none. */
extern bool ocpb_transport_failed(const OcpbEndpoint *endpoint,
								  const OcpbHttpResult *http,
								  OcpbFailure *failure);

/* The failure as one line of text, for the journal. */
extern char *ocpb_failure_text(const OcpbFailure *failure);

pg_noreturn extern void ocpb_raise_failure(const OcpbFailure *failure);

/* A WARNING for each backup object OCP refused inside a successful answer. */
extern void ocpb_warn_refused_objects(const OcpbBackupNowResponse *response);

#endif
