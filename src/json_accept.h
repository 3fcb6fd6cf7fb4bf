/*
 * json_accept.h - whether PostgreSQL's json and jsonb take a JSON text
 * that cJSON read, checked without raising.
 */
#ifndef OCPB_JSON_ACCEPT_H
#define OCPB_JSON_ACCEPT_H

#include "postgres.h"

/*
 * Whether jsonb takes a JSON text that cJSON read, checked without raising:
 * numeric refuses some numbers, and PostgreSQL some texts cJSON accepts
 * ("01", "1.", \u0000).
 */
extern bool ocpb_jsonb_takes(const char *body, size_t body_len);

/*
 * Whether json takes a JSON text as it is: JSON in the database's encoding
 * (not converted), without NUL bytes.
 */
extern bool ocpb_json_takes(const char *body, size_t body_len);

#endif
