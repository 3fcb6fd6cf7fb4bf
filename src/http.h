/*
 * http.h - sends one request to OCP with libcurl.
 */
#ifndef OCPB_HTTP_H
#define OCPB_HTTP_H

#include "postgres.h"

#include <curl/curl.h>

/*
 * CURLOPT_PREREQFUNCTION (7.80) keeps a POST from being sent twice;
 * CURLOPT_PROTOCOLS_STR (7.85) limits libcurl to http and https.
 */
#if LIBCURL_VERSION_NUM < 0x075500
#error "ocp_backup needs libcurl 7.85.0 or later"
#endif

#include "endpoint.h"
#include "scrub.h"

/* Answers larger than this are refused: OCP's are a few kilobytes. */
#define OCPB_MAX_RESPONSE_BYTES (8 * 1024 * 1024)

typedef struct OcpbHttpRequest
{
	const char *method;			/* GET or POST */
	const char *path;			/* path and query, starting with '/' */
	const char *body;			/* NULL for none; in the database encoding */
	size_t		body_len;
	const OcpbSecretList *secrets;	/* to mask in the answer; NULL for none */
	bool		anonymous;		/* send no credentials (GET /api/v2/time) */
	bool		single_attempt; /* no retries, whatever the server says */
} OcpbHttpRequest;

typedef struct OcpbHttpResult
{
	CURLcode	curl_code;		/* CURLE_OK when an HTTP answer came */
	char		curl_error[CURL_ERROR_SIZE];
	bool		timed_out_connecting;	/* the timeout hit before connecting */
	bool		too_large;		/* the answer passed OCPB_MAX_RESPONSE_BYTES */
	bool		resend_refused; /* libcurl wanted to send a POST again */
	bool		request_sent;	/* the request was handed to the network */
	int			attempts;		/* 1, or more after retries */
	long		status;			/* HTTP status; 0 when no answer came */
	char	   *body;			/* palloc'd, NUL-terminated, never NULL; valid
								 * text in the database encoding, secrets
								 * masked */
	size_t		body_len;
	int			rate_limit_reset;	/* RateLimit-Reset seconds; -1 if absent */
	long		elapsed_ms;
} OcpbHttpResult;

/*
 * Sends the request with the endpoint's credentials, its body in UTF-8,
 * and waits for the
 * answer, reacting to query cancel and statement_timeout within about
 * 50 ms.  Transport failures are reported in result, not raised.  When a
 * connection could not be made (DNS, refused, TLS handshake, connect
 * timeout), so that the request provably never left, it tries again up to
 * the endpoint's retries, waiting retry_backoff_ms, then twice as long
 * each time.
 */
extern void ocpb_http_exchange(const OcpbEndpoint *endpoint,
							   const OcpbHttpRequest *request,
							   OcpbHttpResult *result);

/* Registers the invalidation callbacks that drop cached handles. */
extern void ocpb_http_init(void);

#endif
