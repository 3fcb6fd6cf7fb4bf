/*
 * auth.c - request authentication for OCP: HTTP Basic and the AK/SK
 * (OCP-ACCESS-KEY-HMACSHA1) signature of ocp-api.md section 2.
 *
 * The server recomputes the signature from the request it receives, so every
 * byte of the string to sign must match what is actually sent; nothing here
 * may depend on the process locale, which a PostgreSQL backend inherits from
 * the postmaster and which strftime, tolower and friends would follow.
 */
#include "auth.h"
#include "strbuf.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define AKSK_SCHEME "OCP-ACCESS-KEY-HMACSHA1 "
#define BASIC_SCHEME "Basic "

#define MD5_HEX_SIZE 33			/* 32 hex digits and the NUL */
#define SHA1_SIZE 20
#define SHA1_BASE64_SIZE 29		/* 28 characters and the NUL */

static const char *const day_names[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static const char hex_upper[] = "0123456789ABCDEF";

/* One decoded query parameter; key and val point into a shared buffer. */
typedef struct QueryPair
{
	const unsigned char *key;
	size_t		key_len;
	const unsigned char *val;
	size_t		val_len;
} QueryPair;

static const char *
or_empty(const char *str)
{
	return str != NULL ? str : "";
}

/* ASCII only: tolower() would follow the locale. */
static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Room for the standard, padded base64 of len bytes and the NUL, or 0 when
 * EVP_EncodeBlock, which counts in int, cannot take that many.
 */
static size_t
base64_size(size_t len)
{
	if (len > (size_t) INT_MAX / 4 * 3 - 3)
		return 0;
	return (len + 2) / 3 * 4 + 1;
}

/*
 * Zero-padded decimal of a value known to fit width digits; done by hand
 * because the fixed layout below is simpler to trust than snprintf's bounds.
 */
static void
put_digits(char *out, int value, int width)
{
	while (width-- > 0)
	{
		out[width] = (char) ('0' + value % 10);
		value /= 10;
	}
}

void
ocpb_format_http_date(time_t t, char *out)
{
	struct tm	tm;

	/*
	 * A year outside 0..9999 would not fit the fixed-width format; leave an
	 * empty string rather than a wrong date, so a caller can tell.  The other
	 * bounds only guard the tables and digit counts against a broken libc.
	 */
	if (gmtime_r(&t, &tm) == NULL ||
		tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 ||
		tm.tm_wday < 0 || tm.tm_wday > 6 ||
		tm.tm_mon < 0 || tm.tm_mon > 11 ||
		tm.tm_mday < 1 || tm.tm_mday > 31 ||
		tm.tm_hour < 0 || tm.tm_hour > 23 ||
		tm.tm_min < 0 || tm.tm_min > 59 ||
		tm.tm_sec < 0 || tm.tm_sec > 60)
	{
		out[0] = '\0';
		return;
	}
	memcpy(out, day_names[tm.tm_wday], 3);
	memcpy(out + 3, ", ", 2);
	put_digits(out + 5, tm.tm_mday, 2);
	out[7] = ' ';
	memcpy(out + 8, month_names[tm.tm_mon], 3);
	out[11] = ' ';
	put_digits(out + 12, tm.tm_year + 1900, 4);
	out[16] = ' ';
	put_digits(out + 17, tm.tm_hour, 2);
	out[19] = ':';
	put_digits(out + 20, tm.tm_min, 2);
	out[22] = ':';
	put_digits(out + 23, tm.tm_sec, 2);
	memcpy(out + 25, " GMT", 5);
}

/*
 * The base64 is written straight after the scheme, so the only other copy of
 * the password is the "user:pass" buffer, wiped before it is freed.
 */
char *
ocpb_basic_authorization(const char *username, const char *password)
{
	size_t		user_len = strlen(username);
	size_t		pass_len = strlen(password);
	size_t		plain_len;
	size_t		encoded_size;
	char	   *plain;
	char	   *result;

	if (user_len > SIZE_MAX / 2 || pass_len > SIZE_MAX / 2 - 1)
		return NULL;
	plain_len = user_len + 1 + pass_len;
	encoded_size = base64_size(plain_len);
	if (encoded_size == 0)
		return NULL;
	plain = malloc(plain_len);
	if (plain == NULL)
		return NULL;
	result = malloc(strlen(BASIC_SCHEME) + encoded_size);
	if (result != NULL)
	{
		memcpy(plain, username, user_len);
		plain[user_len] = ':';
		memcpy(plain + user_len + 1, password, pass_len);
		strcpy(result, BASIC_SCHEME);
		EVP_EncodeBlock((unsigned char *) result + strlen(BASIC_SCHEME),
						(const unsigned char *) plain, (int) plain_len);
	}
	OPENSSL_cleanse(plain, plain_len);
	free(plain);
	return result;
}

/* Md5Payload: upper-case hex, as OCP compares it as a string. */
static bool
md5_upper_hex(const unsigned char *body, size_t len, char *out)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	unsigned int i;

	if (!EVP_Digest(body, len, digest, &digest_len, EVP_md5(), NULL) ||
		digest_len * 2 + 1 > MD5_HEX_SIZE)
		return false;
	for (i = 0; i < digest_len; i++)
	{
		out[2 * i] = hex_upper[digest[i] >> 4];
		out[2 * i + 1] = hex_upper[digest[i] & 0x0F];
	}
	out[2 * digest_len] = '\0';
	return true;
}

/* Byte order of the lower-cased names; strcasecmp would follow the locale. */
static int
compare_header_names(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *) a;
	const unsigned char *pb = (const unsigned char *) b;

	while (*pa != '\0' && ascii_lower(*pa) == ascii_lower(*pb))
	{
		pa++;
		pb++;
	}
	return (int) ascii_lower(*pa) - (int) ascii_lower(*pb);
}

static void
append_lower(OcpbStrBuf *buf, const char *str)
{
	for (; *str != '\0'; str++)
		ocpb_strbuf_putc(buf, (char) ascii_lower((unsigned char) *str));
}

/*
 * OcpHeaders part.  An insertion sort over indexes keeps headers of the same
 * name in the order given (the sort is stable) and leaves the caller's array
 * alone; there are only ever a handful.
 */
static void
append_ocp_headers(OcpbStrBuf *buf, const OcpbHeader *headers, size_t n)
{
	size_t	   *order;
	size_t		i;

	if (headers == NULL || n == 0)
		return;
	if (n > SIZE_MAX / sizeof(size_t))
	{
		buf->failed = true;
		return;
	}
	order = malloc(n * sizeof(size_t));
	if (order == NULL)
	{
		buf->failed = true;
		return;
	}
	for (i = 0; i < n; i++)
	{
		size_t		j = i;

		while (j > 0 &&
			   compare_header_names(or_empty(headers[order[j - 1]].name),
									or_empty(headers[i].name)) > 0)
		{
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			ocpb_strbuf_putc(buf, '\n');
		append_lower(buf, or_empty(headers[order[i]].name));
		ocpb_strbuf_putc(buf, ':');
		ocpb_strbuf_puts(buf, or_empty(headers[order[i]].value));
	}
	free(order);
}

/*
 * Decodes src[0..len) into dst, returning the decoded length.  '+' is kept:
 * OCP's canonical form treats it as a literal plus, not a space.  A '%' not
 * followed by two hex digits is kept as is, to be encoded later as %25.
 */
static size_t
percent_decode(const char *src, size_t len, unsigned char *dst)
{
	size_t		i = 0;
	size_t		out = 0;

	while (i < len)
	{
		if (src[i] == '%' && i + 2 < len &&
			hex_value((unsigned char) src[i + 1]) >= 0 &&
			hex_value((unsigned char) src[i + 2]) >= 0)
		{
			dst[out++] = (unsigned char) (hex_value((unsigned char) src[i + 1]) * 16 +
										  hex_value((unsigned char) src[i + 2]));
			i += 3;
		}
		else
			dst[out++] = (unsigned char) src[i++];
	}
	return out;
}

static void
percent_encode(OcpbStrBuf *buf, const unsigned char *bytes, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = bytes[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~')
			ocpb_strbuf_putc(buf, (char) c);
		else
		{
			char		escape[3];

			escape[0] = '%';
			escape[1] = hex_upper[c >> 4];
			escape[2] = hex_upper[c & 0x0F];
			ocpb_strbuf_put(buf, escape, 3);
		}
	}
}

static int
compare_bytes(const unsigned char *a, size_t a_len,
			  const unsigned char *b, size_t b_len)
{
	int			cmp = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (cmp != 0)
		return cmp;
	return a_len < b_len ? -1 : (a_len > b_len ? 1 : 0);
}

/* By key, then by value, so that the result never depends on qsort. */
static int
compare_pairs(const void *a, const void *b)
{
	const QueryPair *pa = a;
	const QueryPair *pb = b;
	int			cmp = compare_bytes(pa->key, pa->key_len, pb->key, pb->key_len);

	if (cmp != 0)
		return cmp;
	return compare_bytes(pa->val, pa->val_len, pb->val, pb->val_len);
}

/*
 * Splits query into decoded pairs.  Decoding never lengthens, so all keys and
 * values fit in one buffer the size of the raw query.  Returns the number of
 * pairs, or (size_t) -1 when memory ran out; *pairs and *bytes are then NULL.
 */
static size_t
parse_query(const char *query, QueryPair **pairs, unsigned char **bytes)
{
	size_t		query_len = strlen(query);
	size_t		max_pairs = 1;
	size_t		n = 0;
	size_t		used = 0;
	const char *piece = query;
	const char *p;

	for (p = query; *p != '\0'; p++)
	{
		if (*p == '&')
			max_pairs++;
	}
	*pairs = NULL;
	*bytes = NULL;
	if (max_pairs <= SIZE_MAX / sizeof(QueryPair))
	{
		*pairs = malloc(max_pairs * sizeof(QueryPair));
		*bytes = malloc(query_len > 0 ? query_len : 1);
	}
	if (*pairs == NULL || *bytes == NULL)
	{
		free(*pairs);
		free(*bytes);
		*pairs = NULL;
		*bytes = NULL;
		return (size_t) -1;
	}

	while (*piece != '\0')
	{
		size_t		piece_len = strcspn(piece, "&");
		const char *eq = memchr(piece, '=', piece_len);
		size_t		key_len = eq != NULL ? (size_t) (eq - piece) : piece_len;

		if (piece_len > 0)
		{
			QueryPair  *pair = &(*pairs)[n++];

			pair->key = *bytes + used;
			pair->key_len = percent_decode(piece, key_len, *bytes + used);
			used += pair->key_len;
			pair->val = *bytes + used;
			pair->val_len = eq != NULL ?
				percent_decode(eq + 1, piece_len - key_len - 1, *bytes + used) : 0;
			used += pair->val_len;
		}
		piece += piece_len;
		if (*piece == '&')
			piece++;
	}
	return n;
}

/*
 * "?" and the canonical query, or nothing when the query holds no parameter
 * (only empty pieces), since then there is nothing the server could sort.
 */
static void
append_canonical_query(OcpbStrBuf *buf, const char *query)
{
	QueryPair  *pairs;
	unsigned char *bytes;
	size_t		n = parse_query(query, &pairs, &bytes);
	size_t		i;

	if (n == (size_t) -1)
	{
		buf->failed = true;
		return;
	}
	qsort(pairs, n, sizeof(QueryPair), compare_pairs);
	for (i = 0; i < n; i++)
	{
		ocpb_strbuf_putc(buf, i == 0 ? '?' : '&');
		percent_encode(buf, pairs[i].key, pairs[i].key_len);
		ocpb_strbuf_putc(buf, '=');
		percent_encode(buf, pairs[i].val, pairs[i].val_len);
	}
	free(pairs);
	free(bytes);
}

/*
 * Returns NULL also when MD5 is unavailable (a FIPS-only provider), since no
 * valid signature can be made then either.
 */
char *
ocpb_string_to_sign(const OcpbSignInput *in)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;

	ocpb_strbuf_puts(&buf, or_empty(in->method));
	ocpb_strbuf_putc(&buf, '\n');
	if (in->body != NULL && in->body_len > 0)
	{
		char		md5[MD5_HEX_SIZE];

		if (!md5_upper_hex(in->body, in->body_len, md5))
			buf.failed = true;
		else
			ocpb_strbuf_puts(&buf, md5);
	}
	ocpb_strbuf_putc(&buf, '\n');
	ocpb_strbuf_puts(&buf, or_empty(in->content_type));
	ocpb_strbuf_putc(&buf, '\n');
	ocpb_strbuf_puts(&buf, or_empty(in->date));
	ocpb_strbuf_putc(&buf, '\n');
	ocpb_strbuf_puts(&buf, or_empty(in->host));
	ocpb_strbuf_putc(&buf, '\n');
	append_ocp_headers(&buf, in->ocp_headers, in->n_ocp_headers);
	ocpb_strbuf_putc(&buf, '\n');
	ocpb_strbuf_puts(&buf, or_empty(in->path));
	if (in->query != NULL)
		append_canonical_query(&buf, in->query);
	return ocpb_strbuf_finish(&buf, NULL);
}

/*
 * The secret is handed to OpenSSL in place, never copied here; OpenSSL
 * cleanses its own HMAC key schedule when the context is freed.
 */
char *
ocpb_aksk_authorization(const char *access_key_id,
						const char *access_key_secret,
						const OcpbSignInput *in)
{
	char	   *to_sign;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		mac_len = 0;
	char		signature[SHA1_BASE64_SIZE];
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;

	to_sign = ocpb_string_to_sign(in);
	if (to_sign == NULL)
		return NULL;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL,
				  access_key_secret, strlen(access_key_secret),
				  (const unsigned char *) to_sign, strlen(to_sign),
				  mac, sizeof(mac), &mac_len) == NULL ||
		mac_len != SHA1_SIZE)
	{
		free(to_sign);
		return NULL;
	}
	free(to_sign);
	EVP_EncodeBlock((unsigned char *) signature, mac, (int) mac_len);

	ocpb_strbuf_puts(&buf, AKSK_SCHEME);
	ocpb_strbuf_puts(&buf, access_key_id);
	ocpb_strbuf_putc(&buf, ':');
	ocpb_strbuf_puts(&buf, signature);
	return ocpb_strbuf_finish(&buf, NULL);
}
