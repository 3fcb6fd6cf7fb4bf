/*
 * wire_text.c - text at the boundary with OCP.
 *
 * OCP speaks UTF-8.  Its answers may still hold bytes that are not (a proxy's
 * error page, a broken server), and a database may use another encoding:
 * every string read from an answer ends up in the journal, a result row or
 * an error message, so the answer is made valid text of the database
 * encoding once, here, before the parsers see it.  In a database that is
 * not UTF-8, \uXXXX escapes of non-ASCII characters are converted too, so
 * that the strings the parsers decode are in the database encoding as well;
 * a character the database encoding lacks becomes '?', as OCP's answer must
 * never make a call fail after OCP acted on it.
 */
#include "wire_text.h"

#include "response.h"

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

char *
ocpb_body_to_wire(const char *body, size_t len, size_t *wire_len)
{
	char	   *wire = pg_server_to_any(body, (int) len, PG_UTF8);

	*wire_len = wire == body ? len : strlen(wire);
	return wire;
}

/* Appends one UTF-8 character in the database encoding, or '?'. */
static void
append_converted(StringInfo out, Oid conversion, const unsigned char *utf8, int len)
{
	unsigned char converted[MAX_CONVERSION_GROWTH * 4 + 1];
	int			taken;

	taken = pg_do_encoding_conversion_buf(conversion, PG_UTF8, GetDatabaseEncoding(),
										  unconstify(unsigned char *, utf8), len,
										  converted, sizeof(converted), true);
	if (taken == len)
		appendStringInfoString(out, (char *) converted);
	else
		appendStringInfoChar(out, '?');
}

static int
hex4(const char *s)
{
	int			value = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
			value = value * 16 + c - '0';
		else if (c >= 'a' && c <= 'f')
			value = value * 16 + c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			value = value * 16 + c - 'A' + 10;
		else
			return -1;
	}
	return value;
}

/*
 * The code point of the \uXXXX escape (or surrogate pair) at s, of the len
 * bytes left, with how many bytes it takes; -1 when it is not one that
 * stands for a non-ASCII character.
 */
static pg_wchar
non_ascii_escape(const char *s, size_t len, int *consumed)
{
	int			high;
	int			low;

	if (len < 6 || s[0] != '\\' || s[1] != 'u' || (high = hex4(s + 2)) < 0x80)
		return (pg_wchar) -1;
	*consumed = 6;
	if (high < 0xD800 || high > 0xDFFF)
		return (pg_wchar) high;
	if (high <= 0xDBFF && len >= 12 && s[6] == '\\' && s[7] == 'u' &&
		(low = hex4(s + 8)) >= 0xDC00 && low <= 0xDFFF)
	{
		*consumed = 12;
		return 0x10000 + ((pg_wchar) (high - 0xD800) << 10) + (pg_wchar) (low - 0xDC00);
	}
	return 0xFFFD;				/* a lone surrogate */
}

/*
 * Valid UTF-8 in, the same with each \uXXXX escape of a lone surrogate made
 * \uFFFD: cJSON refuses those, and a truncated emoji in a hint must not
 * make the answer to a started backup unreadable.
 */
static char *
repair_lone_surrogates(const char *text, size_t len, size_t *out_len)
{
	StringInfoData out;
	size_t		i = 0;

	initStringInfo(&out);
	while (i < len)
	{
		int			consumed;
		pg_wchar	code;

		if (text[i] == '\\' && (code = non_ascii_escape(text + i, len - i, &consumed)) != (pg_wchar) -1)
		{
			/* A pair is kept whole; a lone half is what 0xFFFD stands for. */
			if (code == 0xFFFD && pg_strncasecmp(text + i + 2, "fffd", 4) != 0)
				appendStringInfoString(&out, "\\uFFFD");
			else
				appendBinaryStringInfo(&out, text + i, consumed);
			i += consumed;
		}
		else if (text[i] == '\\' && i + 1 < len)
		{
			/* Keep an escape whole, so that \\u stays two characters. */
			appendBinaryStringInfo(&out, text + i, 2);
			i += 2;
		}
		else
		{
			/* Up to the next escape, at once. */
			const char *escape = memchr(text + i + 1, '\\', len - i - 1);
			size_t		run = escape != NULL ? (size_t) (escape - text) - i : len - i;

			appendBinaryStringInfo(&out, text + i, (int) run);
			i += run;
		}
	}
	*out_len = out.len;
	return out.data;
}

/* Valid UTF-8 in, the database encoding (not UTF-8) out. */
static char *
utf8_to_database(const char *utf8, size_t len, size_t *out_len)
{
	Oid			conversion = FindDefaultConversionProc(PG_UTF8, GetDatabaseEncoding());
	StringInfoData out;
	size_t		i = 0;

	if (!OidIsValid(conversion))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("no conversion from UTF8 to the database encoding %s", GetDatabaseEncodingName()),
				 errdetail("OCP answers in UTF-8.")));
	initStringInfo(&out);
	while (i < len)
	{
		unsigned char c = (unsigned char) utf8[i];
		unsigned char encoded[4];
		int			consumed;
		pg_wchar	code;

		if (c == '\\' && (code = non_ascii_escape(utf8 + i, len - i, &consumed)) != (pg_wchar) -1)
		{
			unicode_to_utf8(code, encoded);
			append_converted(&out, conversion, encoded, pg_utf_mblen(encoded));
			i += consumed;
		}
		else if (c == '\\' && i + 1 < len)
		{
			/* Keep an escape whole, so that \\u stays two characters. */
			appendBinaryStringInfo(&out, utf8 + i, 2);
			i += 2;
		}
		else if (c < 0x80)
			appendStringInfoChar(&out, (char) utf8[i++]);
		else
		{
			int			width = pg_utf_mblen((const unsigned char *) utf8 + i);

			append_converted(&out, conversion, (const unsigned char *) utf8 + i, width);
			i += width;
		}
	}
	*out_len = out.len;
	return out.data;
}

char *
ocpb_answer_from_wire(const char *body, size_t len, const OcpbSecretList *secrets,
					  size_t *out_len)
{
	bool		changed;
	size_t		text_len;
	char	   *text = ocpb_utf8_repair(body, len, &text_len, &changed);
	char	   *result;

	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (secrets != NULL && secrets->n > 0)
	{
		char	   *scrubbed = ocpb_scrub_answer(text, text_len, secrets, &text_len);

		free(text);
		text = scrubbed;
		if (text == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	result = palloc_extended(text_len + 1, MCXT_ALLOC_NO_OOM);
	if (result == NULL)
	{
		free(text);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	memcpy(result, text, text_len + 1);
	free(text);
	*out_len = text_len;
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
		result = utf8_to_database(result, text_len, out_len);
	else
		result = repair_lone_surrogates(result, text_len, out_len);
	return result;
}

/* Adds value, and its form in the database encoding when that differs. */
static bool
add_secret(OcpbSecretList *list, const char *value, Oid conversion)
{
	size_t		len = strlen(value);
	unsigned char *converted;
	int			taken;
	bool		ok;

	if (!ocpb_secret_list_add(list, value, len))
		return false;
	if (!OidIsValid(conversion) || len == 0 || len > MaxAllocSize / (MAX_CONVERSION_GROWTH + 1))
		return true;
	converted = palloc(len * MAX_CONVERSION_GROWTH + 1);
	taken = pg_do_encoding_conversion_buf(conversion, PG_UTF8, GetDatabaseEncoding(),
										  (unsigned char *) unconstify(char *, value), (int) len,
										  converted, (int) (len * MAX_CONVERSION_GROWTH + 1), true);
	ok = taken != (int) len ||
		ocpb_secret_list_add(list, (char *) converted, strlen((char *) converted));
	pfree(converted);
	return ok;
}

void
ocpb_exchange_secrets(const OcpbEndpoint *endpoint, const OcpbSecretList *request_secrets,
					  const char *answer, size_t answer_len, OcpbSecretList *secrets)
{
	Oid			conversion = InvalidOid;
	bool		ok = true;
	bool		credentials = true;
	OcpbAnswer	read;
	size_t		i;

	/*
	 * An answer that says it succeeded echoes no credential, and may well
	 * hold a password as weak as a user's name (admin:admin): only others
	 * are masked of them.
	 */
	if (!ocpb_parse_answer(answer, answer_len, &read))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	credentials = !(read.envelope.is_envelope && read.envelope.successful &&
					read.envelope.problem[0] == '\0');
	ocpb_answer_free(&read);

	memset(secrets, 0, sizeof(*secrets));
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
		conversion = FindDefaultConversionProc(PG_UTF8, GetDatabaseEncoding());
	for (i = 0; ok && request_secrets != NULL && i < request_secrets->n; i++)
		ok = add_secret(secrets, request_secrets->values[i], conversion);
	if (ok && credentials && endpoint->credentials.password != NULL)
	{
		/* The Basic header is base64("username:password"): a form of this. */
		char	   *pair = psprintf("%s:%s", endpoint->credentials.username ? endpoint->credentials.username : "",
									endpoint->credentials.password);

		ok = add_secret(secrets, endpoint->credentials.password, conversion) &&
			add_secret(secrets, pair, conversion);
		explicit_bzero(pair, strlen(pair));
		pfree(pair);
	}
	if (ok && credentials && endpoint->credentials.access_key_secret != NULL)
		ok = add_secret(secrets, endpoint->credentials.access_key_secret, conversion);
	if (!ok)
	{
		ocpb_secret_list_free(secrets);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
}
