/*
 * http.h - sends requests to OCP with libcurl, many at once.
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

/* A 429 without RateLimit-Reset pauses its server this long. */
#define OCPB_DEFAULT_RATE_LIMIT_PAUSE_S 60

/* Answers larger than this are refused: OCP's are a few kilobytes. */
#define OCPB_MAX_RESPONSE_BYTES (8 * 1024 * 1024)

typedef struct OcpbHttpRequest
{
	const char *method;			/* GET or POST */
	const char *path;			/* path and query, starting with '/' */
	const char *body;			/* NULL for none; in the database encoding */
	size_t		body_len;
	const OcpbSecretList *secrets;	/* to mask in the answer, with the
									 * endpoint's credentials; NULL for none */
	bool		raw_answer;		/* keep raw_body too (see OcpbHttpResult) */
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
	/*
	 * Only when the request asked for raw_answer: the same text with nothing
	 * masked, for a parser that masks every string it reads after parsing
	 * (ocpb_parse_backup_now_response); never to be shown or stored as it
	 * is.  NULL otherwise.
	 */
	char	   *raw_body;
	size_t		raw_body_len;
	int			rate_limit_reset;	/* RateLimit-Reset seconds; -1 if absent */
	long		elapsed_ms;
} OcpbHttpResult;

/*
 * What kind of transport failure a result is: the one classification of
 * libcurl's outcome, which the retry test, the error wording (report.c)
 * and ocp_backup_check all read.
 */
typedef enum OcpbTransportKind
{
	OCPB_TRANSPORT_NONE,		/* an HTTP answer came */
	OCPB_TRANSPORT_RESEND_REFUSED,	/* the connection closed after a POST
									 * may have left; not sent again */
	OCPB_TRANSPORT_DNS,			/* OCP's host could not be resolved */
	OCPB_TRANSPORT_PROXY_DNS,	/* the proxy's host could not be resolved */
	OCPB_TRANSPORT_CONNECT,		/* no TCP connection (refused, unreachable) */
	OCPB_TRANSPORT_CONNECT_TIMEOUT, /* the timeout hit before connecting */
	OCPB_TRANSPORT_TLS_UNTRUSTED,	/* OCP's certificate failed verification */
	OCPB_TRANSPORT_TLS_CA_FILE, /* the ca_file could not be read */
	OCPB_TRANSPORT_TLS_HANDSHAKE,	/* the TLS handshake failed */
	OCPB_TRANSPORT_TIMEOUT,		/* no answer within timeout_ms */
	OCPB_TRANSPORT_TOO_LARGE,	/* the answer passed OCPB_MAX_RESPONSE_BYTES */
	OCPB_TRANSPORT_OTHER		/* any other failure of the exchange */
} OcpbTransportKind;

typedef struct OcpbTransportFailure
{
	OcpbTransportKind kind;
	bool		tls;			/* a TLS step failed: OCP's host was reached */
	/*
	 * Another attempt is safe and may help: the request never left (libcurl
	 * never came to send it), and the failure was one of reaching OCP,
	 * which can pass, rather than one that would repeat (an untrusted
	 * certificate, an unreadable CA file).
	 */
	bool		retryable;
} OcpbTransportFailure;

extern OcpbTransportFailure ocpb_transport_failure(const OcpbHttpResult *result);

/*
 * One request of a batch, with its answer.  The caller fills endpoint and
 * request (and arg, its own); http.c fills result, or sets skipped.
 */
typedef struct OcpbExchange
{
	const OcpbEndpoint *endpoint;
	OcpbHttpRequest request;
	OcpbHttpResult result;
	bool		skipped;		/* never sent: its server asked for a pause */
	void	   *arg;
} OcpbExchange;

typedef struct OcpbExchangeHooks
{
	/* Just before the exchange's request may first leave; may raise. */
	void		(*leaving) (OcpbExchange *exchange, void *arg);
	/* As soon as the exchange's result is final; may raise. */
	void		(*answered) (OcpbExchange *exchange, void *arg);
	void	   *arg;
	/*
	 * A 429 pauses its server until RateLimit-Reset: the exchanges of that
	 * server not yet tried are skipped, now and in the batches that follow
	 * in this backend until then (one waiting to be tried again, which
	 * never left, still is).
	 */
	bool		pause_on_rate_limit;
} OcpbExchangeHooks;

/*
 * Runs every exchange, concurrently: at most each server's max_parallel
 * requests in flight per server, in the order given.  Each request is sent
 * with its endpoint's credentials and its body in UTF-8.  The wait, on
 * libcurl's sockets, the latch and the postmaster in one WaitEventSet,
 * ends at once for a query cancel or statement_timeout (raised from
 * here), or the postmaster's death.  Transport failures are reported in
 * the results, not raised.  When a connection could not be made (DNS,
 * refused, TLS handshake, connect timeout), so that the request provably
 * never left, an exchange is tried again up to the endpoint's retries,
 * waiting retry_backoff_ms, then twice as long each time, while the others
 * go on.
 */
extern void ocpb_http_exchange_all(OcpbExchange *exchanges, int n,
								   const OcpbExchangeHooks *hooks);

/* One exchange alone. */
extern void ocpb_http_exchange(const OcpbEndpoint *endpoint,
							   const OcpbHttpRequest *request,
							   OcpbHttpResult *result);

#endif
