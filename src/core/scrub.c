/*
 * scrub.c - keeps the secrets of a storage object, and the credentials of
 * a user mapping, out of everything ocp_backup writes.
 *
 * Answers are scrubbed token by token rather than parsed and printed again:
 * a parser would refuse the HTML page of a proxy, and re-encoding a whole
 * answer would change bytes (numbers beyond 2^53, key order, escapes) that
 * have nothing to do with a secret.  In an answer that is one JSON value,
 * the tokens masked are exactly the string values a parser reads, and
 * nothing else: its keys, literals and (in a successful answer) numbers
 * are left as OCP sent them.  Nothing here depends on the process locale,
 * which a backend inherits from the postmaster.
 */
#include "scrub.h"
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MASK_LEN (sizeof(OCPB_MASK) - 1)

static const char *const secret_markers[] = {
	"secret", "password", "passwd", "pwd", "token", "privatekey", "apikey",
	"credential", NULL
};

/*
 * Keys that are secrets only as a whole: OceanBase's backup destinations
 * call the object-store secret access_key (its id is access_id), while
 * ossAccessKey is an object holding the id, the secret and the endpoint.
 */
static const char *const secret_names[] = {"accesskey", "sk", NULL};

/* JSON's two-character escapes: the byte, then the letter after '\'. */
static const char short_escapes[][2] = {
	{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'\b', 'b'}, {'\f', 'f'},
	{'\n', 'n'}, {'\r', 'r'}, {'\t', 't'}
};

#define N_SHORT_ESCAPES (sizeof(short_escapes) / sizeof(short_escapes[0]))

static const char hex_digits[] = "0123456789abcdef";

/* The state of one scrub; the token buffers are reused from token to token. */
typedef struct Scrubber
{
	const OcpbMasker *masker;
	bool		json;			/* the body is one JSON value */
	bool		keep_numbers;	/* ... and an answer that says it succeeded */
	OcpbStrBuf	out;
	OcpbStrBuf	decoded;		/* the current string token, decoded */
	OcpbStrBuf	masked;			/* ... with its secrets masked */
} Scrubber;

static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether key, lower-cased and without '_' and '-', contains marker. */
static bool
key_contains(const char *key, size_t len, const char *marker)
{
	size_t		start;
	size_t		at;
	const char *m;

	for (start = 0; start < len; start++)
	{
		for (at = start, m = marker; *m != '\0' && at < len; at++)
		{
			if (key[at] == '_' || key[at] == '-')
				continue;
			if (ascii_lower(key[at]) != *m)
				break;
			m++;
		}
		if (*m == '\0')
			return true;
	}
	return false;
}

/* Whether key, lower-cased and without '_' and '-', is name. */
static bool
key_is(const char *key, size_t len, const char *name)
{
	size_t		normalized = 0;
	size_t		at;

	for (at = 0; at < len; at++)
		normalized += key[at] != '_' && key[at] != '-';
	return normalized == strlen(name) && key_contains(key, len, name);
}

/* Keys at most this long are normalized once, then searched. */
#define SHORT_KEY 64

/* The short key lower-cased and without '_' and '-', in normalized. */
static void
normalize_key(const char *key, size_t len, char normalized[SHORT_KEY + 1])
{
	size_t		n = 0;
	size_t		at;

	for (at = 0; at < len; at++)
		if (key[at] != '_' && key[at] != '-')
			normalized[n++] = ascii_lower(key[at]);
	normalized[n] = '\0';
}

bool
ocpb_is_secret_key(const char *key, size_t len)
{
	const char *const *marker;
	char		normalized[SHORT_KEY + 1];

	/* A NUL in a key ends what strstr sees: such a key takes the long way. */
	if (len <= SHORT_KEY && memchr(key, '\0', len) == NULL)
	{
		normalize_key(key, len, normalized);
		for (marker = secret_markers; *marker != NULL; marker++)
			if (strstr(normalized, *marker) != NULL)
				return true;
		for (marker = secret_names; *marker != NULL; marker++)
			if (strcmp(normalized, *marker) == 0)
				return true;
		return false;
	}
	for (marker = secret_markers; *marker != NULL; marker++)
		if (key_contains(key, len, *marker))
			return true;
	for (marker = secret_names; *marker != NULL; marker++)
		if (key_is(key, len, *marker))
			return true;
	return false;
}

bool
ocpb_secret_list_add(OcpbSecretList *list, const char *value, size_t len)
{
	char	   *copy;
	size_t		at;

	len = strnlen(value, len);
	for (at = 0; at < list->n; at++)
		if (strlen(list->values[at]) == len && memcmp(list->values[at], value, len) == 0)
			return true;
	if (len == 0)
		return true;
	if (list->n == list->cap)
	{
		size_t		cap = list->cap > 0 ? list->cap * 2 : 8;
		char	  **values = realloc(list->values, cap * sizeof(char *));

		if (values == NULL)
			return false;
		list->values = values;
		list->cap = cap;
	}
	if ((copy = malloc(len + 1)) == NULL)
		return false;
	memcpy(copy, value, len);
	copy[len] = '\0';
	/* Longest first, so that scanning takes the longest match at a place. */
	for (at = 0; at < list->n && strlen(list->values[at]) >= len; at++)
		;
	memmove(list->values + at + 1, list->values + at, (list->n - at) * sizeof(char *));
	list->values[at] = copy;
	list->n++;
	return true;
}

void
ocpb_secret_list_free(OcpbSecretList *list)
{
	size_t		at;

	for (at = 0; at < list->n; at++)
		free(list->values[at]);
	free(list->values);
	list->values = NULL;
	list->n = list->cap = 0;
}

static int
hex_value(char c)
{
	const char *digit = c != '\0' ? strchr(hex_digits, ascii_lower(c)) : NULL;

	return digit != NULL ? (int) (digit - hex_digits) : -1;
}

static bool add_url_value(OcpbSecretList *found, const char *value, size_t len);

/*
 * Adds the pieces of a value that holds an unescaped '#' or '?': OCP may
 * read the URL as a parser does, and echo the value up to it, or what
 * follows it, alone.
 */
static bool
add_url_value_pieces(OcpbSecretList *found, const char *value, size_t len)
{
	size_t		start = 0;
	size_t		at;
	bool		ok = true;

	if (memchr(value, '#', len) == NULL && memchr(value, '?', len) == NULL)
		return true;
	for (at = 0; at <= len && ok; at++)
		if (at == len || value[at] == '#' || value[at] == '?')
		{
			if (at > start)
				ok = add_url_value(found, value + start, at - start);
			start = at + 1;
		}
	return ok;
}

/*
 * Adds a masked URL value to found, and its %XX-decoded form when that
 * differs: OCP decodes the URL and may echo the value either way.
 */
static bool
add_url_value(OcpbSecretList *found, const char *value, size_t len)
{
	char	   *decoded = malloc(len + 1);
	size_t		n = 0;
	size_t		at;
	bool		ok;

	if (decoded == NULL)
		return false;
	for (at = 0; at < len; at++)
	{
		if (value[at] == '%' && at + 2 < len &&
			hex_value(value[at + 1]) >= 0 && hex_value(value[at + 2]) >= 0)
		{
			decoded[n++] = (char) (hex_value(value[at + 1]) * 16 + hex_value(value[at + 2]));
			at += 2;
		}
		else
			decoded[n++] = value[at];
	}
	ok = ocpb_secret_list_add(found, value, len) &&
		(n == len || ocpb_secret_list_add(found, decoded, n));
	free(decoded);
	return ok && add_url_value_pieces(found, value, len);
}

/* Copies url from *copied up to value, then the mask instead of the value. */
static void
mask_url_value(OcpbStrBuf *out, const char **copied, const char *value, size_t len,
			   OcpbSecretList *found, bool *masked)
{
	if (len == 0)
		return;
	ocpb_strbuf_put(out, *copied, value - *copied);
	ocpb_strbuf_put(out, OCPB_MASK, MASK_LEN);
	*copied = value + len;
	*masked = true;
	if (!add_url_value(found, value, len))
		out->failed = true;
}

/*
 * Whether a URL parameter's key names a credential: a secret key, or one
 * that, normalized, contains "access" (access_id, access_key) or
 * "signature" (X-Amz-Signature), is "sig", or ends in "_sk" or "-sk" as
 * written (s3_sk).
 */
static bool
is_url_secret_param(const char *key, size_t len)
{
	return ocpb_is_secret_key(key, len) ||
		key_contains(key, len, "access") ||
		key_contains(key, len, "signature") ||
		key_is(key, len, "sig") ||
		(len > 3 && (key[len - 3] == '_' || key[len - 3] == '-') &&
		 ascii_lower(key[len - 2]) == 's' && ascii_lower(key[len - 1]) == 'k');
}

char *
ocpb_mask_url_credentials(const char *url, OcpbSecretList *found, bool *masked)
{
	OcpbStrBuf	out = OCPB_STRBUF_INIT;
	const char *copied = url;
	size_t		scheme = strspn(url, "abcdefghijklmnopqrstuvwxyz"
								"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	bool		has_scheme = scheme > 0 && strncmp(url + scheme, "://", 3) == 0;
	const char *host = has_scheme ? url + scheme + 3 : url;
	/*
	 * After a scheme, the userinfo runs to the last '@' before the query or
	 * fragment: an AWS secret holds '/', unescaped as often as not.  Without
	 * one, only up to the first '/' can be told from a path.
	 */
	const char *userinfo_end = host + strcspn(host, has_scheme ? "?#" : "/?#");
	const char *param = host + strcspn(host, "?#");
	const char *at = NULL;
	const char *c;
	const char *colon;

	*masked = false;
	for (c = host; c < userinfo_end && *host != '/'; c++)
		if (*c == '@')
			at = c;
	if (at != NULL && (colon = memchr(host, ':', at - host)) != NULL)
		mask_url_value(&out, &copied, colon + 1, at - colon - 1, found, masked);
	else if (at != NULL)
		/* A userinfo without ':' is a token (s3://TOKEN@bucket). */
		mask_url_value(&out, &copied, host, at - host, found, masked);

	/*
	 * Parameters, in the query and in the fragment alike, separated by '&'
	 * or ';'.  A secret's value runs to the next '&' or ';': a '#' or '?'
	 * in it, unescaped, is still the secret's.
	 */
	while (*param != '\0')
	{
		const char *key = param + 1;
		const char *key_end = key + strcspn(key, "=?&;#");

		if (*key_end == '=' && is_url_secret_param(key, key_end - key))
		{
			const char *value = key_end + 1;
			size_t		len = strcspn(value, "&;");

			mask_url_value(&out, &copied, value, len, found, masked);
			param = value + len;
		}
		else if (*key_end == '=')
			param = key_end + 1 + strcspn(key_end + 1, "?&;#");
		else
			param = key_end;
	}
	ocpb_strbuf_put(&out, copied, strlen(copied));
	return ocpb_strbuf_finish(&out, NULL);
}

/* Writes text as the inside of a JSON string, escaping no more than needed. */
static void
put_json_escaped(OcpbStrBuf *out, const char *text, size_t len, bool escape_slash)
{
	size_t		at;
	size_t		e;

	for (at = 0; at < len; at++)
	{
		unsigned char c = (unsigned char) text[at];

		if (c >= 0x20 && c != '"' && c != '\\' && (c != '/' || !escape_slash))
		{
			ocpb_strbuf_put(out, text + at, 1);
			continue;
		}
		for (e = 0; e < N_SHORT_ESCAPES && short_escapes[e][0] != (char) c; e++)
			;
		if (e < N_SHORT_ESCAPES)
		{
			ocpb_strbuf_put(out, "\\", 1);
			ocpb_strbuf_put(out, &short_escapes[e][1], 1);
		}
		else
		{
			char		unicode[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};

			ocpb_strbuf_put(out, unicode, sizeof(unicode));
		}
	}
}

/* The four hex digits at s as a number, or -1. */
static long
hex4(const char *s)
{
	long		value = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		if (hex_value(s[i]) < 0)
			return -1;
		value = value * 16 + hex_value(s[i]);
	}
	return value;
}

static void
put_utf8(OcpbStrBuf *out, unsigned long cp)
{
	static const unsigned char leads[] = {0, 0, 0xC0, 0xE0, 0xF0};
	unsigned char bytes[4];
	size_t		n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	size_t		i;

	for (i = n - 1; i > 0; i--, cp >>= 6)
		bytes[i] = 0x80 | (cp & 0x3F);
	bytes[0] = leads[n] | cp;
	ocpb_strbuf_put(out, bytes, n);
}

/*
 * Decodes the \u escape at s, a surrogate pair as one character.  Returns
 * the bytes it took, or 0 when it is malformed.
 */
static size_t
decode_unicode(OcpbStrBuf *out, const char *s, size_t len)
{
	long		cp = len >= 6 ? hex4(s + 2) : -1;
	long		low;

	if (cp >= 0xD800 && cp <= 0xDBFF)
	{
		low = len >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8) : -1;
		if (low < 0xDC00 || low > 0xDFFF)
			return 0;
		put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
		return 12;
	}
	if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
		return 0;
	put_utf8(out, cp);
	return 6;
}

/* Decodes the inside of a JSON string; false when an escape is malformed. */
static bool
json_decode(OcpbStrBuf *out, const char *s, size_t len)
{
	size_t		at = 0;
	size_t		n;
	size_t		e;

	while (at < len)
	{
		if (s[at] != '\\')
		{
			ocpb_strbuf_put(out, s + at++, 1);
			continue;
		}
		if (at + 1 < len && s[at + 1] == 'u')
		{
			if ((n = decode_unicode(out, s + at, len - at)) == 0)
				return false;
			at += n;
			continue;
		}
		for (e = 0; e < N_SHORT_ESCAPES && (at + 1 == len || short_escapes[e][1] != s[at + 1]); e++)
			;
		if (e == N_SHORT_ESCAPES)
			return false;
		ocpb_strbuf_put(out, &short_escapes[e][0], 1);
		at += 2;
	}
	return true;
}

/* The length of needle when text begins with it, else 0. */
static size_t
prefix_length(const char *text, size_t len, const char *needle)
{
	size_t		i;

	for (i = 0; needle[i] != '\0'; i++)
		if (i == len || text[i] != needle[i])
			return 0;
	return i;
}

/*
 * Everything a scrub looks for: the secrets in every form an echo may take,
 * longest first, and the bytes one of them starts with, so that most bytes
 * of an answer are passed over at once.
 */
struct OcpbMasker
{
	OcpbSecretList needles;
	bool		starts[256];
};

/* The length of the longest needle text begins with, else 0. */
static size_t
needle_at(const OcpbMasker *masker, const char *text, size_t len)
{
	size_t		i;
	size_t		n;

	if (!masker->starts[(unsigned char) text[0]])
		return 0;
	for (i = 0; i < masker->needles.n; i++)
		if ((n = prefix_length(text, len, masker->needles.values[i])) > 0)
			return n;
	return 0;
}

/* Copies text with every needle masked; returns whether one was found. */
static bool
mask_needles(OcpbStrBuf *out, const char *text, size_t len, const OcpbMasker *masker)
{
	bool		found = false;
	size_t		at = 0;
	size_t		n;

	while (at < len)
	{
		if ((n = needle_at(masker, text + at, len - at)) > 0)
		{
			ocpb_strbuf_put(out, OCPB_MASK, MASK_LEN);
			found = true;
		}
		else
			ocpb_strbuf_put(out, text + at, n = 1);
		at += n;
	}
	return found;
}

/*
 * Scrubs the string token that starts at token; returns the bytes it took.
 * An unterminated token, or one with a malformed escape, is copied as it is
 * and left to the raw pass, or, in a JSON value, masked whole at once.  In a
 * JSON value a key is kept as it is: the answer's structure is OCP's.
 */
static size_t
scrub_string(Scrubber *s, const char *token, size_t len)
{
	size_t		end = 1;
	size_t		next;

	while (end < len && token[end] != '"')
		end += token[end] == '\\' ? 2 : 1;
	if (end >= len)
	{
		ocpb_strbuf_put(&s->out, token, len);
		return len;
	}
	if (s->json)
	{
		for (next = end + 1; next < len && strchr(" \t\r\n", token[next]) != NULL &&
			 token[next] != '\0'; next++)
			;
		if (next < len && token[next] == ':')
		{
			ocpb_strbuf_put(&s->out, token, end + 1);
			return end + 1;
		}
	}
	s->decoded.len = s->masked.len = 0;
	if (json_decode(&s->decoded, token + 1, end - 1))
	{
		if (mask_needles(&s->masked, s->decoded.data, s->decoded.len, s->masker))
		{
			ocpb_strbuf_put(&s->out, "\"", 1);
			put_json_escaped(&s->out, s->masked.data, s->masked.len, false);
			ocpb_strbuf_put(&s->out, "\"", 1);
		}
		else
			ocpb_strbuf_put(&s->out, token, end + 1);
	}
	else if (s->json && mask_needles(&s->masked, token + 1, end - 1, s->masker))
	{
		/*
		 * What cJSON reads and this decoder does not, holding a secret: masked
		 * whole, since a mask inside could cut an escape and break the JSON.
		 */
		ocpb_strbuf_put(&s->out, "\"" OCPB_MASK "\"", MASK_LEN + 2);
	}
	else
		ocpb_strbuf_put(&s->out, token, end + 1);
	if (s->decoded.failed || s->masked.failed)
		s->out.failed = true;
	return end + 1;
}

static bool
is_number_byte(char c)
{
	return c != '\0' && strchr("0123456789+-.eE", c) != NULL;
}

/* Whether c may precede a number within a word, where none starts. */
static bool
is_word_byte(char c)
{
	return is_number_byte(c) || c == '_' || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z');
}

/*
 * Scrubs the number token that starts at token; returns the bytes it took.
 * One equal to a secret, or to its negation, becomes the masked string, so
 * JSON stays JSON.
 */
static size_t
scrub_number(Scrubber *s, const char *token, size_t len)
{
	size_t		n = 1;
	size_t		unsigned_at;
	size_t		i;

	while (n < len && is_number_byte(token[n]))
		n++;
	unsigned_at = n > 1 && token[0] == '-' ? 1 : 0;
	for (i = 0; i < s->masker->needles.n; i++)
		if (prefix_length(token, n, s->masker->needles.values[i]) == n ||
			(unsigned_at > 0 &&
			 prefix_length(token + 1, n - 1, s->masker->needles.values[i]) == n - 1))
		{
			ocpb_strbuf_put(&s->out, "\"" OCPB_MASK "\"", MASK_LEN + 2);
			return n;
		}
	ocpb_strbuf_put(&s->out, token, n);
	return n;
}

static void
scrub_tokens(Scrubber *s, const char *body, size_t len)
{
	size_t		at = 0;

	while (at < len)
	{
		char		c = body[at];

		if (c == '"')
			at += scrub_string(s, body + at, len - at);
		else if (!s->keep_numbers && (c == '-' || (c >= '0' && c <= '9')) &&
				 (at == 0 || !is_word_byte(body[at - 1])))
			at += scrub_number(s, body + at, len - at);
		else
			ocpb_strbuf_put(&s->out, body + at++, 1);
	}
}

static const char base64_digits[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The padded base64 of text; url: the URL-safe alphabet, unpadded. */
static void
put_base64(OcpbStrBuf *out, const char *text, size_t len, bool url)
{
	const unsigned char *in = (const unsigned char *) text;
	size_t		at;

	for (at = 0; at < len; at += 3)
	{
		unsigned long group = (unsigned long) in[at] << 16 |
			(at + 1 < len ? (unsigned long) in[at + 1] << 8 : 0) |
			(at + 2 < len ? in[at + 2] : 0);
		size_t		digits = at + 2 < len ? 4 : at + 1 < len ? 3 : 2;
		size_t		d;

		for (d = 0; d < 4; d++)
		{
			char		c = base64_digits[(group >> (18 - 6 * d)) & 63];

			if (d >= digits)
			{
				if (!url)
					ocpb_strbuf_put(out, "=", 1);
				continue;
			}
			if (url && c == '+')
				c = '-';
			else if (url && c == '/')
				c = '_';
			ocpb_strbuf_put(out, &c, 1);
		}
	}
}

/*
 * The percent-encoding of text: every byte but A-Za-z0-9-._~ as %XX, in
 * upper- or lower-case hex; form: a space as '+'.
 */
static void
put_percent_encoded(OcpbStrBuf *out, const char *text, size_t len, bool lower, bool form)
{
	static const char upper_digits[] = "0123456789ABCDEF";
	const char *digits = lower ? hex_digits : upper_digits;
	size_t		at;

	for (at = 0; at < len; at++)
	{
		unsigned char c = (unsigned char) text[at];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			(c != '\0' && strchr("-._~", c) != NULL))
			ocpb_strbuf_put(out, text + at, 1);
		else if (form && c == ' ')
			ocpb_strbuf_put(out, "+", 1);
		else
		{
			char		escape[3] = {'%', digits[c >> 4], digits[c & 15]};

			ocpb_strbuf_put(out, escape, 3);
		}
	}
}

/* The number of forms of a secret an echo may take, besides its escapes. */
#define N_FORMS 7

/* Form i of a secret, in form (emptied first). */
static void
put_form(OcpbStrBuf *form, const char *secret, size_t len, int i)
{
	size_t		at;

	form->len = 0;
	switch (i)
	{
		case 0:
			ocpb_strbuf_put(form, secret, len);
			break;
		case 1:
			for (at = 0; at < len; at++)
			{
				char		c = ascii_lower(secret[at]);

				ocpb_strbuf_put(form, &c, 1);
			}
			break;
		case 2:
		case 3:
		case 4:
			put_percent_encoded(form, secret, len, i == 3, i == 4);
			break;
		case 5:
		case 6:
			put_base64(form, secret, len, i == 6);
			break;
	}
	/* The unpadded base64 is found wherever the padded one is. */
	while (i == 5 && form->len > 0 && form->data[form->len - 1] == '=')
		form->data[--form->len] = '\0';
}

/*
 * The secrets as an echo may carry them: as they are, lower-cased,
 * percent-encoded (upper- or lower-case hex, or as a form encodes it),
 * base64-encoded (standard or URL-safe), and each of these as JSON
 * escaping writes it.
 */
OcpbMasker *
ocpb_masker_new(const OcpbSecretList *secrets)
{
	OcpbMasker *masker = calloc(1, sizeof(OcpbMasker));
	OcpbStrBuf	form = OCPB_STRBUF_INIT;
	OcpbStrBuf	escaped = OCPB_STRBUF_INIT;
	bool		ok = masker != NULL;
	size_t		i;
	int			f;
	int			slash;

	for (i = 0; ok && secrets != NULL && i < secrets->n; i++)
	{
		const char *secret = secrets->values[i];

		for (f = 0; f < N_FORMS && ok; f++)
		{
			put_form(&form, secret, strlen(secret), f);
			ok = !form.failed && (form.len == 0 ||
								  ocpb_secret_list_add(&masker->needles, form.data, form.len));
			for (slash = 0; slash < 2 && ok && form.len > 0; slash++)
			{
				escaped.len = 0;
				put_json_escaped(&escaped, form.data, form.len, slash);
				ok = !escaped.failed &&
					ocpb_secret_list_add(&masker->needles, escaped.data, escaped.len);
			}
		}
	}
	ocpb_strbuf_free(&form);
	ocpb_strbuf_free(&escaped);
	if (!ok)
	{
		ocpb_masker_free(masker);
		return NULL;
	}
	for (i = 0; i < masker->needles.n; i++)
		masker->starts[(unsigned char) masker->needles.values[i][0]] = true;
	return masker;
}

void
ocpb_masker_free(OcpbMasker *masker)
{
	if (masker == NULL)
		return;
	ocpb_secret_list_free(&masker->needles);
	free(masker);
}

bool
ocpb_masker_is_empty(const OcpbMasker *masker)
{
	return masker == NULL || masker->needles.n == 0;
}

char *
ocpb_mask_text(const OcpbMasker *masker, const char *text, size_t len, size_t *out_len)
{
	OcpbStrBuf	out = OCPB_STRBUF_INIT;

	if (ocpb_masker_is_empty(masker))
		ocpb_strbuf_put(&out, text, len);
	else
		mask_needles(&out, text, len, masker);
	return ocpb_strbuf_finish(&out, out_len);
}

/*
 * Whether text is one JSON value, and whether it is an answer that says it
 * succeeded ("successful": true and no "error" object).  In JSON every
 * string is known for a key or a value, and only values are masked:
 * masking raw bytes, keys or literals could only break it (a secret "data"
 * would mask a key, "true" a literal), and OCP's answer to a backup it
 * started would become unreadable.  The numbers of a successful answer are
 * its task and cluster ids; those of a failed one may be echoes.
 */
static bool
is_json(const char *text, size_t len, bool *successful)
{
	const char *end = NULL;
	cJSON	   *parsed;
	bool		whole;

	*successful = false;
	/* cJSON ends a string at a NUL byte and reads no further into it. */
	if (memchr(text, '\0', len) != NULL)
		return false;
	parsed = cJSON_ParseWithLengthOpts(text, len, &end, false);
	whole = parsed != NULL;
	/* cJSON stops after the first value: only whitespace may follow it. */
	for (; whole && end < text + len; end++)
		whole = *end == ' ' || *end == '\t' || *end == '\n' || *end == '\r';
	*successful = whole && cJSON_IsObject(parsed) &&
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(parsed, "successful")) &&
		!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(parsed, "error"));
	cJSON_Delete(parsed);
	return whole;
}

char *
ocpb_scrub_answer(const char *body, size_t len, const OcpbSecretList *secrets,
				  size_t *out_len)
{
	OcpbMasker *masker = ocpb_masker_new(secrets);
	Scrubber	s = {.masker = masker};
	OcpbStrBuf	out = OCPB_STRBUF_INIT;

	if (masker == NULL)
		out.failed = true;
	else if (ocpb_masker_is_empty(masker))
		ocpb_strbuf_put(&out, body, len);
	else
	{
		s.json = is_json(body, len, &s.keep_numbers);
		scrub_tokens(&s, body, len);
		if (s.json)
			ocpb_strbuf_put(&out, s.out.data, s.out.len);
		else
			mask_needles(&out, s.out.data, s.out.len, masker);
	}
	if (s.out.failed || s.decoded.failed || s.masked.failed)
		out.failed = true;
	ocpb_strbuf_free(&s.out);
	ocpb_strbuf_free(&s.decoded);
	ocpb_strbuf_free(&s.masked);
	ocpb_masker_free(masker);
	return ocpb_strbuf_finish(&out, out_len);
}

/*
 * The length of the valid UTF-8 character, other than NUL, at s; or 0, with
 * *bad set to the length of the maximal subpart of an invalid sequence.
 */
static size_t
utf8_char(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	size_t		need;
	size_t		i;

	*bad = 1;
	if (s[0] < 0x80)
		return s[0] != 0;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 4;
	else
		return 0;
	/* These second bytes would be overlong, a surrogate or beyond U+10FFFF. */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	for (i = 1; i < need; i++, lo = 0x80, hi = 0xBF)
		if (i == len || s[i] < lo || s[i] > hi)
		{
			*bad = i;
			return 0;
		}
	return need;
}

char *
ocpb_utf8_repair(const char *s, size_t len, size_t *out_len, bool *changed)
{
	OcpbStrBuf	out = OCPB_STRBUF_INIT;
	size_t		at = 0;
	size_t		n;
	size_t		bad;

	*changed = false;
	while (at < len)
	{
		/* Most of an answer is ASCII (NUL aside): it goes over a run at a time. */
		for (n = 0; at + n < len && s[at + n] != '\0' && (unsigned char) s[at + n] < 0x80; n++)
			;
		if (n > 0)
			ocpb_strbuf_put(&out, s + at, n);
		else if ((n = utf8_char((const unsigned char *) s + at, len - at, &bad)) > 0)
			ocpb_strbuf_put(&out, s + at, n);
		else
		{
			ocpb_strbuf_put(&out, "\xEF\xBF\xBD", 3);
			*changed = true;
			n = bad;
		}
		at += n;
	}
	return ocpb_strbuf_finish(&out, out_len);
}

/* Whether key, lower-cased and without '_' and '-', ends in suffix. */
static bool
key_ends_with(const char *key, size_t len, const char *suffix)
{
	size_t		n = strlen(suffix);
	size_t		at = len;

	while (n > 0 && at > 0)
	{
		at--;
		if (key[at] == '_' || key[at] == '-')
			continue;
		if (ascii_lower(key[at]) != suffix[n - 1])
			return false;
		n--;
	}
	return n == 0;
}

static bool
find_url_credentials(const cJSON *item, OcpbSecretList *found)
{
	const cJSON *child;

	cJSON_ArrayForEach(child, item)
	{
		if (cJSON_IsString(child) && child->string != NULL &&
			(key_ends_with(child->string, strlen(child->string), "uri") ||
			 key_ends_with(child->string, strlen(child->string), "url")))
		{
			bool		masked;
			char	   *copy = ocpb_mask_url_credentials(child->valuestring, found, &masked);

			if (copy == NULL)
				return false;
			free(copy);
		}
		else if ((cJSON_IsObject(child) || cJSON_IsArray(child)) &&
				 !find_url_credentials(child, found))
			return false;
	}
	return true;
}

bool
ocpb_find_url_credentials(const char *body, size_t len, OcpbSecretList *found)
{
	cJSON	   *root = cJSON_ParseWithLength(body, len);
	bool		ok;

	if (root == NULL)
		return false;
	ok = find_url_credentials(root, found);
	cJSON_Delete(root);
	return ok;
}
