/*
 * auth.h - request authentication for OCP: HTTP Basic and the AK/SK
 * (OCP-ACCESS-KEY-HMACSHA1) signature.
 *
 * Pure C over libcrypto: no PostgreSQL headers, so unit tests can run it
 * outside a backend.  Functions that return strings return malloc'd memory
 * the caller frees, or NULL when memory ran out.  Nothing here logs, and no
 * string returned contains the secret itself.
 */
#ifndef OCPB_AUTH_H
#define OCPB_AUTH_H

#include <stddef.h>
#include <time.h>

/* "Tue, 17 Jan 2023 09:13:57 GMT": 29 characters and the NUL. */
#define OCPB_HTTP_DATE_SIZE 30

/* A header whose name starts with x-ocp and so takes part in the signature. */
typedef struct OcpbHeader
{
	const char *name;
	const char *value;
} OcpbHeader;

/* Everything the AK/SK string to sign is made of, exactly as sent. */
typedef struct OcpbSignInput
{
	const char *method;			/* upper case: GET, POST, ... */
	const unsigned char *body;	/* exact body bytes; NULL or body_len 0: none */
	size_t		body_len;
	const char *content_type;	/* as sent; NULL or "": no Content-Type sent */
	const char *date;			/* the Date header value as sent */
	const char *host;			/* the Host header value as sent (host[:port]) */
	const OcpbHeader *ocp_headers;	/* headers named x-ocp*; may be NULL */
	size_t		n_ocp_headers;
	const char *path;			/* raw path, starting with '/' */
	const char *query;			/* raw query without '?'; NULL or "": none */
} OcpbSignInput;

/*
 * Formats t as an RFC 1123 date in GMT with English day and month names,
 * whatever the process locale.  out must hold OCPB_HTTP_DATE_SIZE bytes.
 */
void		ocpb_format_http_date(time_t t, char *out);

/* "Basic " + base64(username ":" password). */
char	   *ocpb_basic_authorization(const char *username, const char *password);

/* The seven-part string to sign of ocp-api.md section 2b. */
char	   *ocpb_string_to_sign(const OcpbSignInput *in);

/* "OCP-ACCESS-KEY-HMACSHA1 " + access_key_id + ":" + base64(HMAC-SHA1). */
char	   *ocpb_aksk_authorization(const char *access_key_id,
									const char *access_key_secret,
									const OcpbSignInput *in);

#endif
