/*
 * postgres_json.h - PostgreSQL's own JSON parser, in its frontend build
 * (libpgcommon), for the tests of the plain-JSON recognizer: the unit
 * tests and the fuzzing harness.  Include after postgres_fe.h.
 */
#ifndef OCPB_POSTGRES_JSON_H
#define OCPB_POSTGRES_JSON_H

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

/*
 * Whether PostgreSQL takes the text, parsed as journal.c runs the parser
 * (de-escaping on).  The parser recurses: give it no deeply nested text.
 */
static inline bool
postgres_takes(const char *text, size_t len)
{
#if PG_VERSION_NUM >= 170000
	JsonLexContext *lex = makeJsonLexContextCstringLen(NULL, text, len, PG_UTF8, true);
	bool		parsed = pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;

	freeJsonLexContext(lex);
#else
	JsonLexContext *lex = makeJsonLexContextCstringLen(unconstify(char *, text), (int) len,
													   PG_UTF8, true);
	bool		parsed = pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;

	/* Before 17, nothing frees the context. */
	pfree(lex->strval->data);
	pfree(lex->strval);
	pfree(lex);
#endif
	return parsed;
}

#endif
