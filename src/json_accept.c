/*
 * json_accept.c - whether PostgreSQL takes a JSON text that cJSON read:
 * json (ocpb_json_takes) and jsonb (ocpb_jsonb_takes), checked without
 * raising.
 */
#include "json_accept.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "json_plain.h"
#include "pg_compat.h"

/*
 * Whether PostgreSQL takes a JSON text that cJSON read, checked with
 * PostgreSQL's own JSON parser, which returns errors instead of raising
 * them: json_in and jsonb_in would raise on what cJSON accepts and
 * PostgreSQL does not ("01", "+1", "1."), jsonb_in also on numbers numeric
 * refuses.  An answer the journal cannot store must not make its write fail.
 */

/* numeric refuses exponents beyond about 131072 digits; OCP sends none. */
#define MAX_NUMBER_CHARS 1000

static bool
number_numeric_takes(const char *token)
{
	const char *exponent = strpbrk(token, "eE");

	return strlen(token) <= MAX_NUMBER_CHARS &&
		(exponent == NULL || labs(strtol(exponent + 1, NULL, 10)) <= MAX_NUMBER_CHARS);
}

static OCPB_JSON_ACTION
check_answer_scalar(void *arg, char *token, JsonTokenType type)
{
	bool	   *refused = arg;

	if (type == JSON_TOKEN_NUMBER && !number_numeric_takes(token))
		*refused = true;
	return OCPB_JSON_ACTION_DONE;
}

/* Whether PostgreSQL's JSON parser takes the text, and numeric its numbers. */
static bool
json_parses(const char *body, size_t body_len, bool check_numbers)
{
	JsonSemAction actions;
	JsonLexContext *lex;
	bool		refused = false;
	bool		parsed;

	memset(&actions, 0, sizeof(actions));
	actions.semstate = &refused;
	if (check_numbers)
		actions.scalar = check_answer_scalar;
	lex = ocpb_json_lex_cstring(body, body_len, GetDatabaseEncoding(), true);
	parsed = pg_parse_json(lex, &actions) == JSON_SUCCESS;
	ocpb_json_lex_free(lex);
	return parsed && !refused;
}

bool
ocpb_jsonb_takes(const char *body, size_t body_len)
{
	return json_parses(body, body_len, true);
}

/*
 * json keeps the text as it is: it only has to be JSON, in the database's
 * encoding (OCP's bytes were not converted), without NUL bytes.  A plain
 * answer (json_plain.h), as nearly all are, needs no run of PostgreSQL's
 * parser: the one pass costs about a third of it.
 */
bool
ocpb_json_takes(const char *body, size_t body_len)
{
	return memchr(body, '\0', body_len) == NULL &&
		pg_verifymbstr(body, (int) body_len, true) &&
		(ocpb_json_is_plain(body, body_len) || json_parses(body, body_len, false));
}
