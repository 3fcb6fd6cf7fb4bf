/*
 * mask.c - a storage object with its secrets masked, for the journal: the
 * values of secret-looking keys and the credentials of URLs.
 */
#include "mask.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#define SECRET_MARKER "********"

/* OCP's storage configurations hold a few; this bounds the scrubbing. */
#define MAX_SECRETS 256

/*
 * Adds a masked value to the values to scrub from OCP's answer, as OCP
 * received it: in UTF-8.  A value that is not text of the database encoding
 * (the %XX-decoded form of a URL's part) is already what went on the wire;
 * converting it could raise, with its bytes in the message.
 */
static void
remember_secret_text(OcpbSecretList *secrets, const char *text)
{
	int			len = (int) strlen(text);
	const char *wire = text;

	/* Each is looked for at every byte of OCP's answer. */
	if (secrets->n >= MAX_SECRETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage object holds too many secret values"),
				 errdetail("It holds more than %d values under secret keys or in the credentials of URLs.",
						   MAX_SECRETS)));

	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII &&
		pg_verifymbstr(text, len, true))
		wire = pg_server_to_any(text, len, PG_UTF8);
	if (!ocpb_secret_list_add(secrets, wire, strlen(wire)))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

static void
remember_secret(OcpbSecretList *secrets, const JsonbValue *value)
{
	if (value->type == jbvString)
		remember_secret_text(secrets, pnstrdup(value->val.string.val, value->val.string.len));
	else if (value->type == jbvNumeric)
		remember_secret_text(secrets,
							 DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(value->val.numeric))));
}

/* Reads the rest of a secret container, remembering each scalar in it. */
static void
remember_container(JsonbIterator **iterator, OcpbSecretList *secrets)
{
	JsonbValue	value;
	JsonbIteratorToken token;
	int			depth = 1;

	while (depth > 0)
	{
		token = JsonbIteratorNext(iterator, &value, false);
		if (token == WJB_BEGIN_ARRAY || token == WJB_BEGIN_OBJECT)
			depth++;
		else if (token == WJB_END_ARRAY || token == WJB_END_OBJECT)
			depth--;
		else if (token == WJB_VALUE || token == WJB_ELEM)
			remember_secret(secrets, &value);
	}
}

/* Whether a key names a URL: it ends in "url" or "uri" (storageUrl, backupUri). */
static bool
is_url_key(const JsonbValue *key)
{
	return key->val.string.len >= 3 &&
		(pg_strncasecmp(key->val.string.val + key->val.string.len - 3, "url", 3) == 0 ||
		 pg_strncasecmp(key->val.string.val + key->val.string.len - 3, "uri", 3) == 0);
}

/*
 * A URL value with its credentials (a password in its userinfo, keys in
 * its query) masked; false when it has none.
 */
static bool
mask_url(JsonbValue *value, OcpbSecretList *secrets)
{
	char	   *url = pnstrdup(value->val.string.val, value->val.string.len);
	OcpbSecretList found = {0};
	bool		masked_any;
	char	   *masked = ocpb_mask_url_credentials(url, &found, &masked_any);
	size_t		i;

	if (masked == NULL)
	{
		ocpb_secret_list_free(&found);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (masked_any)
	{
		value->val.string.val = pstrdup(masked);
		value->val.string.len = strlen(masked);
	}
	free(masked);
	PG_TRY();
	{
		for (i = 0; i < found.n; i++)
			remember_secret_text(secrets, found.values[i]);
	}
	PG_FINALLY();
	{
		ocpb_secret_list_free(&found);
	}
	PG_END_TRY();
	return masked_any;
}

/*
 * Object-store credentials travel in the storage object under names that
 * vary with the store and the OCP version: the value of any key that names
 * a secret is masked, at any depth, and so are the credentials of URLs.
 * Each masked value is added to secrets, to be scrubbed from OCP's answer,
 * which may echo it.
 */
Jsonb *
ocpb_mask_secrets(Jsonb *storage, OcpbSecretList *secrets)
{
	JsonbIterator *iterator = JsonbIteratorInit(&storage->root);
	JsonbParseState *state = NULL;
	JsonbValue	value;
	JsonbValue	marker;
	JsonbValue *result = NULL;
	JsonbIteratorToken token;
	bool		masking = false;
	bool		url = false;
	bool		masked_any = false;

	marker.type = jbvString;
	marker.val.string.val = SECRET_MARKER;
	marker.val.string.len = strlen(SECRET_MARKER);
	while ((token = JsonbIteratorNext(&iterator, &value, false)) != WJB_DONE)
	{
		if (masking)
		{
			/* A secret object or array is replaced whole. */
			if (token != WJB_VALUE)
				remember_container(&iterator, secrets);
			else
				remember_secret(secrets, &value);
			result = pushJsonbValue(&state, WJB_VALUE, &marker);
			masking = false;
			masked_any = true;
			continue;
		}
		if (url && token == WJB_VALUE && value.type == jbvString && mask_url(&value, secrets))
			masked_any = true;
		url = false;
		if (token == WJB_KEY)
		{
			masking = ocpb_is_secret_key(value.val.string.val, value.val.string.len);
			url = is_url_key(&value);
		}
		result = pushJsonbValue(&state, token,
								token < WJB_BEGIN_ARRAY ? &value : NULL);
	}
	return masked_any ? JsonbValueToJsonb(result) : NULL;
}
