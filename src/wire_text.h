/*
 * wire_text.h - text at the boundary with OCP: what goes out is UTF-8,
 * whatever the database encoding; what comes in is made valid text in the
 * database encoding, with the caller's secrets masked, before anything
 * reads it.
 */
#ifndef OCPB_WIRE_TEXT_H
#define OCPB_WIRE_TEXT_H

#include "postgres.h"

#include "endpoint.h"
#include "scrub.h"

/* A body in the database encoding as UTF-8: body itself when it is already. */
extern char *ocpb_body_to_wire(const char *body, size_t len, size_t *wire_len);

/*
 * OCP's answer as every later stage reads it, palloc'd: invalid UTF-8
 * replaced by U+FFFD, every value of secrets (UTF-8, may be NULL) masked,
 * and converted to the database encoding, characters it lacks becoming '?'.
 */
extern char *ocpb_answer_from_wire(const char *body, size_t len,
								   const OcpbSecretList *secrets, size_t *out_len);

/*
 * Fills secrets (malloc'd: the caller frees it with ocpb_secret_list_free,
 * on every path) with what must be masked in answer, the unmasked text OCP
 * or a gateway sent for an exchange: the request's own secrets (the storage
 * object's, may be NULL) and, unless the answer is an OCP envelope that says
 * it succeeded, the credentials of the endpoint's user mapping (the
 * password, with "username:password", whose base64 the Basic header
 * carries, and the AccessKey secret), which an error or a gateway may echo.  In a database that is not UTF-8 each value's form in
 * the database encoding is added too, for what is masked after conversion.
 * Raises only when memory runs out, with secrets freed.
 */
extern void ocpb_exchange_secrets(const OcpbEndpoint *endpoint,
								  const OcpbSecretList *request_secrets,
								  const char *answer, size_t answer_len,
								  OcpbSecretList *secrets);

#endif
