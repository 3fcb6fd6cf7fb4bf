/*
 * wire_text.h - text at the boundary with OCP: what goes out is UTF-8,
 * whatever the database encoding; what comes in is made valid text in the
 * database encoding, with the caller's secrets masked, before anything
 * reads it.
 */
#ifndef OCPB_WIRE_TEXT_H
#define OCPB_WIRE_TEXT_H

#include "postgres.h"

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

#endif
