/*
 * json_plain.h - JSON that PostgreSQL's parser certainly takes, recognized
 * in one pass (pure core: no PostgreSQL headers).
 */
#ifndef OCPB_JSON_PLAIN_H
#define OCPB_JSON_PLAIN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True only for a JSON text by RFC 8259's grammar that holds no \u escape
 * and nests at most OCPB_JSON_PLAIN_MAX_DEPTH deep; false does not mean
 * that PostgreSQL refuses it.  The encoding of the bytes in strings is
 * not checked.
 */
#define OCPB_JSON_PLAIN_MAX_DEPTH 64

extern bool ocpb_json_is_plain(const char *text, size_t len);

#endif
