/*
 * http.c - sends requests to OCP with libcurl, many at once.
 *
 * A batch of exchanges runs on the connection layer's entries (connection.c):
 * each entry's multi handle owns its kept-alive TCP (and TLS) connections,
 * and lends an easy handle to each transfer in flight, at most max_parallel
 * of them, so that calls after the first, and transfers after the first
 * max_parallel of a batch, reuse connections.
 *
 * Transfers run through the multi interface's socket API: libcurl says
 * which sockets it waits on and for how long, and the backend waits on
 * them, its latch and the postmaster's death in one WaitEventSet.  A query
 * cancel or statement_timeout sets the latch and is raised by PostgreSQL
 * itself at once, the postmaster's death ends the backend, and
 * pg_stat_activity shows the wait (wait event OcpBackupRequest from
 * PostgreSQL 17 on, Extension before).  Nothing here ereports from inside
 * a libcurl callback: callbacks set flags, and errors are reported once
 * libcurl has returned.
 */
#include "http.h"

#include <limits.h>

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "auth.h"
#include "connection.h"
#include "pg_compat.h"
#include "wire_text.h"

#define OCPB_USER_AGENT "ocp_backup/" OCPB_VERSION

/* The longest pause a 429's RateLimit-Reset may ask for. */
#define MAX_RATE_LIMIT_RESET_S (24 * 3600)

/* libcurl sets no timer while a transfer only waits on its sockets. */
#define LONGEST_WAIT_MS 1000


/* What the callbacks collect during one transfer. */
typedef struct Collected
{
	char	   *body;			/* malloc'd: libcurl may not see palloc fail */
	size_t		len;
	size_t		capacity;
	bool		too_large;
	bool		out_of_memory;
	int			rate_limit_reset;
	bool		resend_allowed; /* the request is idempotent */
	int			requests_sent;
	bool		resend_refused;
} Collected;

typedef enum TransferState
{
	TRANSFER_QUEUED,			/* to start, or to try again */
	TRANSFER_RUNNING,
	TRANSFER_DONE				/* its result is final, or it was skipped */
} TransferState;

/* One exchange of a batch, as libcurl runs it. */
typedef struct Transfer
{
	OcpbExchange *exchange;
	OcpbConnection *connection;
	OcpbHttpRequest wire;		/* the request, its body in UTF-8 */
	TransferState state;
	int			attempts;		/* made so far */
	int			backoff_ms;		/* the wait before the next attempt */
	TimestampTz not_before;		/* an attempt again waits until then */
	CURL	   *easy;			/* lent by the connection while running */
	bool		attached;		/* easy is in the connection's multi handle */
	struct curl_slist *headers;
	Collected	collected;
	char		error[CURL_ERROR_SIZE];
} Transfer;

typedef struct Batch
{
	Transfer   *transfers;
	int			n;
	int			first_queued;	/* no transfer before it is queued */
	int			left;			/* transfers not done */
	TimestampTz next_retry;		/* the earliest not_before still ahead; 0 */
	OcpbConnection **connections;	/* distinct, pinned */
	int			n_connections;
	WaitEventSet *set;			/* NULL: to build */
	int			set_size;
	const OcpbExchangeHooks *hooks;
} Batch;

/* libcurl's word on a socket: wait on it for reading, writing, or no more. */
static int
watch_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	OcpbSocketWatch *watch = userp;
	int			i;

	for (i = 0; i < watch->n && watch->fds[i] != fd; i++)
		;
	watch->changed = true;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < watch->n)
		{
			watch->n--;
			watch->fds[i] = watch->fds[watch->n];
			watch->what[i] = watch->what[watch->n];
		}
		return 0;
	}
	if (i == watch->n)
	{
		if (watch->n == OCPB_MAX_WATCHED_SOCKETS)
		{
			watch->overflow = true;
			return -1;
		}
		watch->n++;
	}
	watch->fds[i] = fd;
	watch->what[i] = what;
	return 0;
}

/* libcurl's timer: call it back in timeout_ms, or (-1) not at all. */
static int
watch_timer(CURLM *multi, long timeout_ms, void *userp)
{
	OcpbSocketWatch *watch = userp;

	watch->has_deadline = timeout_ms >= 0;
	if (watch->has_deadline)
		watch->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

static size_t
collect_body(char *data, size_t size, size_t count, void *userdata)
{
	Collected  *collected = userdata;
	size_t		len = size * count;

	if (len > OCPB_MAX_RESPONSE_BYTES - collected->len)
	{
		collected->too_large = true;
		return 0;
	}
	if (collected->len + len > collected->capacity)
	{
		size_t		capacity = Max(collected->capacity * 2, 4096);
		char	   *grown;

		while (capacity < collected->len + len)
			capacity *= 2;
		grown = realloc(collected->body, capacity);
		if (grown == NULL)
		{
			collected->out_of_memory = true;
			return 0;
		}
		collected->body = grown;
		collected->capacity = capacity;
	}
	memcpy(collected->body + collected->len, data, len);
	collected->len += len;
	return len;
}

static size_t
collect_header(char *data, size_t size, size_t count, void *userdata)
{
	Collected  *collected = userdata;
	size_t		len = size * count;
	static const char name[] = "ratelimit-reset:";
	char		value[16];
	size_t		value_len;
	long		reset;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		collected->rate_limit_reset = -1;	/* a new answer begins */
	else if (len > sizeof(name) - 1 && pg_strncasecmp(data, name, sizeof(name) - 1) == 0)
	{
		value_len = Min(len - (sizeof(name) - 1), sizeof(value) - 1);
		memcpy(value, data + sizeof(name) - 1, value_len);
		value[value_len] = '\0';
		/* Seconds, at most a day: a server's word is no reason to stop for ever. */
		reset = strtol(value, NULL, 10);
		collected->rate_limit_reset = (int) Max(0, Min(reset, MAX_RATE_LIMIT_RESET_S));
	}
	return len;
}

/*
 * libcurl sends a request again, unasked, on a fresh connection when a
 * reused one dies before any byte of the answer arrives.  That request may
 * have reached OCP, and backupNow is not idempotent: a second one could
 * start a second backup.  So a POST goes out at most once, and the call
 * fails instead.  Called just before each sending of the request.
 */
static int
allow_sending(void *userdata, char *primary_ip, char *local_ip,
			  int primary_port, int local_port)
{
	Collected  *collected = userdata;

	if (collected->requests_sent++ > 0 && !collected->resend_allowed)
	{
		collected->resend_refused = true;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

#define SET_OPTION(easy, option, value) \
	do { \
		if (curl_easy_setopt((easy), (option), (value)) != CURLE_OK) \
			elog(ERROR, "could not set libcurl option %s", #option); \
	} while (0)

/* Options that hold for every request of the endpoint. */
static void
configure_handle(CURL *easy, const OcpbEndpoint *endpoint)
{
	SET_OPTION(easy, CURLOPT_NOSIGNAL, 1L);
	SET_OPTION(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SET_OPTION(easy, CURLOPT_FOLLOWLOCATION, 0L);
	SET_OPTION(easy, CURLOPT_USERAGENT, OCPB_USER_AGENT);
	SET_OPTION(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) endpoint->options.connect_timeout_ms);
	SET_OPTION(easy, CURLOPT_TIMEOUT_MS, (long) endpoint->options.timeout_ms);
	SET_OPTION(easy, CURLOPT_WRITEFUNCTION, collect_body);
	SET_OPTION(easy, CURLOPT_HEADERFUNCTION, collect_header);
	SET_OPTION(easy, CURLOPT_PREREQFUNCTION, allow_sending);
	SET_OPTION(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Refuses at once an answer whose Content-Length is over the cap. */
	SET_OPTION(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) OCPB_MAX_RESPONSE_BYTES);
	SET_OPTION(easy, CURLOPT_SSL_VERIFYPEER, endpoint->options.verify_tls ? 1L : 0L);
	SET_OPTION(easy, CURLOPT_SSL_VERIFYHOST, endpoint->options.verify_tls ? 2L : 0L);
	if (endpoint->options.ca_file != NULL)
		SET_OPTION(easy, CURLOPT_CAINFO, endpoint->options.ca_file);

	/*
	 * The proxy is the server's proxy option alone: libcurl would otherwise
	 * follow http_proxy, https_proxy, all_proxy and no_proxy from the
	 * environment the postmaster happened to start with.  An empty
	 * CURLOPT_PROXY means no proxy at all, and an empty CURLOPT_NOPROXY the
	 * proxy for every host.  For https:// OCP, libcurl tunnels through the
	 * proxy (CONNECT) and the headers set above go to OCP only
	 * (CURLHEADER_SEPARATE, the default); an https:// proxy's own
	 * certificate is always verified, against the system's CA bundle.  Set
	 * here, like every server option, because handles are rebuilt when a
	 * server changes.
	 */
	SET_OPTION(easy, CURLOPT_PROXY, endpoint->options.proxy != NULL ? endpoint->options.proxy : "");
	SET_OPTION(easy, CURLOPT_NOPROXY, endpoint->options.no_proxy != NULL ? endpoint->options.no_proxy : "");
	SET_OPTION(easy, CURLOPT_HEADEROPT, (long) CURLHEADER_SEPARATE);
	SET_OPTION(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SET_OPTION(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
}

/* Appends one header; a NULL list afterwards means memory ran out. */
static struct curl_slist *
add_header(struct curl_slist *headers, bool *failed, const char *header)
{
	struct curl_slist *longer;

	if (*failed)
		return headers;
	longer = curl_slist_append(headers, header);
	if (longer == NULL)
	{
		*failed = true;
		return headers;
	}
	return longer;
}

/* Credentials are wiped, not just freed, once libcurl is done with them. */
static void
free_headers(struct curl_slist *headers)
{
	struct curl_slist *header;

	for (header = headers; header != NULL; header = header->next)
		explicit_bzero(header->data, strlen(header->data));
	curl_slist_free_all(headers);
}

/* "Name: value" in malloc'd memory, wiping and freeing value. */
static char *
header_line(const char *name, char *value)
{
	char	   *line = NULL;
	size_t		size;

	if (value == NULL)
		return NULL;
	size = strlen(name) + 2 + strlen(value) + 1;
	line = malloc(size);
	if (line != NULL)
		snprintf(line, size, "%s: %s", name, value);
	explicit_bzero(value, strlen(value));
	free(value);
	return line;
}

/*
 * The AK/SK signature covers the exact bytes and headers sent: method,
 * body, Content-Type, Date, Host, and the path with its query.  The path
 * sent is the url's path prefix and the request's own path (see
 * prepare_request), so both are signed.
 */
static char *
signed_authorization(const OcpbEndpoint *endpoint, const OcpbHttpRequest *request,
					 const char *date)
{
	OcpbSignInput input;
	const char *question = strchr(request->path, '?');
	char	   *path = psprintf("%s%.*s", endpoint->path_prefix,
								question ? (int) (question - request->path) :
								(int) strlen(request->path),
								request->path);
	char	   *authorization;

	memset(&input, 0, sizeof(input));
	input.method = request->body != NULL ? "POST" : "GET";
	input.body = (const unsigned char *) request->body;
	input.body_len = request->body != NULL ? request->body_len : 0;
	input.content_type = request->body != NULL ? "application/json" : NULL;
	input.date = date;
	input.host = endpoint->host_header;
	input.path = path;
	input.query = question ? question + 1 : NULL;
	authorization = ocpb_aksk_authorization(endpoint->credentials.access_key_id,
											endpoint->credentials.access_key_secret, &input);
	pfree(path);
	return authorization;
}

/* Appends Authorization (and Date, which AK/SK signs) to headers. */
static struct curl_slist *
add_credentials(struct curl_slist *headers, bool *failed,
				const OcpbEndpoint *endpoint, const OcpbHttpRequest *request)
{
	char		date[OCPB_HTTP_DATE_SIZE];
	char		date_header[OCPB_HTTP_DATE_SIZE + 8];
	char	   *authorization;

	if (endpoint->credentials.access_key_id != NULL)
	{
		ocpb_format_http_date(time(NULL), date);
		snprintf(date_header, sizeof(date_header), "Date: %s", date);
		headers = add_header(headers, failed, date_header);
		authorization = header_line("Authorization",
									signed_authorization(endpoint, request, date));
	}
	else
		authorization = header_line("Authorization",
									ocpb_basic_authorization(endpoint->credentials.username,
															 endpoint->credentials.password));
	if (authorization == NULL)
	{
		*failed = true;
		return headers;
	}
	headers = add_header(headers, failed, authorization);
	explicit_bzero(authorization, strlen(authorization));
	free(authorization);
	return headers;
}

/*
 * The request headers.  Host is set explicitly because it is part of the
 * AK/SK signature, which must cover exactly what is sent; Expect is
 * emptied so that larger bodies are not held back for a 100-continue.
 */
static struct curl_slist *
request_headers(const OcpbEndpoint *endpoint, const OcpbHttpRequest *request)
{
	struct curl_slist *headers = NULL;
	bool		failed = false;
	char		host[600];

	snprintf(host, sizeof(host), "Host: %s", endpoint->host_header);
	headers = add_header(headers, &failed, host);
	headers = add_header(headers, &failed, "Accept: application/json");
	headers = add_header(headers, &failed, "Accept-Language: en-US");
	headers = add_header(headers, &failed, "Expect:");
	if (request->body != NULL)
		headers = add_header(headers, &failed, "Content-Type: application/json");
	if (!request->anonymous)
		headers = add_credentials(headers, &failed, endpoint, request);
	if (failed)
	{
		free_headers(headers);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	return headers;
}

/*
 * Options that change from one request to the next.  base_url ends with
 * the url's path prefix, so the path sent is that prefix and then the
 * request's path, as signed_authorization signs it.
 */
static void
prepare_request(Transfer *transfer)
{
	CURL	   *easy = transfer->easy;
	const OcpbEndpoint *endpoint = transfer->exchange->endpoint;
	const OcpbHttpRequest *request = &transfer->wire;
	Collected  *collected = &transfer->collected;
	char	   *url = psprintf("%s%s", endpoint->base_url, request->path);

	SET_OPTION(easy, CURLOPT_URL, url);
	pfree(url);
	SET_OPTION(easy, CURLOPT_PRIVATE, transfer);
	SET_OPTION(easy, CURLOPT_ERRORBUFFER, transfer->error);
	SET_OPTION(easy, CURLOPT_HTTPHEADER, transfer->headers);
	SET_OPTION(easy, CURLOPT_WRITEDATA, collected);
	SET_OPTION(easy, CURLOPT_HEADERDATA, collected);
	SET_OPTION(easy, CURLOPT_PREREQDATA, collected);
	if (request->body != NULL)
	{
		SET_OPTION(easy, CURLOPT_POST, 1L);
		SET_OPTION(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) request->body_len);
		SET_OPTION(easy, CURLOPT_POSTFIELDS, request->body);
	}
	else
		SET_OPTION(easy, CURLOPT_HTTPGET, 1L);
}

OcpbTransportFailure
ocpb_transport_failure(const OcpbHttpResult *result)
{
	OcpbTransportFailure failure = {OCPB_TRANSPORT_OTHER, false, false};

	if (result->curl_code == CURLE_OK)
		failure.kind = OCPB_TRANSPORT_NONE;
	else if (result->resend_refused)
		failure.kind = OCPB_TRANSPORT_RESEND_REFUSED;
	else
	{
		switch (result->curl_code)
		{
			case CURLE_COULDNT_RESOLVE_HOST:
				failure.kind = OCPB_TRANSPORT_DNS;
				break;
			case CURLE_COULDNT_RESOLVE_PROXY:
				failure.kind = OCPB_TRANSPORT_PROXY_DNS;
				break;
			case CURLE_COULDNT_CONNECT:
				failure.kind = OCPB_TRANSPORT_CONNECT;
				break;
			case CURLE_PEER_FAILED_VERIFICATION:
				failure.kind = OCPB_TRANSPORT_TLS_UNTRUSTED;
				break;
			case CURLE_SSL_CACERT_BADFILE:
				failure.kind = OCPB_TRANSPORT_TLS_CA_FILE;
				break;
			case CURLE_SSL_CONNECT_ERROR:
				failure.kind = OCPB_TRANSPORT_TLS_HANDSHAKE;
				break;
			case CURLE_OPERATION_TIMEDOUT:
				failure.kind = result->timed_out_connecting ?
					OCPB_TRANSPORT_CONNECT_TIMEOUT : OCPB_TRANSPORT_TIMEOUT;
				break;
			case CURLE_FILESIZE_EXCEEDED:
			case CURLE_WRITE_ERROR:
				if (result->too_large)
					failure.kind = OCPB_TRANSPORT_TOO_LARGE;
				break;
			default:
				break;
		}
	}
	switch (failure.kind)
	{
		case OCPB_TRANSPORT_TLS_UNTRUSTED:
		case OCPB_TRANSPORT_TLS_CA_FILE:
			failure.tls = true;
			break;
		case OCPB_TRANSPORT_TLS_HANDSHAKE:
			failure.tls = true;
			failure.retryable = !result->request_sent;
			break;
		case OCPB_TRANSPORT_DNS:
		case OCPB_TRANSPORT_PROXY_DNS:
		case OCPB_TRANSPORT_CONNECT:
		case OCPB_TRANSPORT_CONNECT_TIMEOUT:
			failure.retryable = !result->request_sent;
			break;
		case OCPB_TRANSPORT_NONE:
		case OCPB_TRANSPORT_RESEND_REFUSED:
		case OCPB_TRANSPORT_TIMEOUT:
		case OCPB_TRANSPORT_TOO_LARGE:
		case OCPB_TRANSPORT_OTHER:
			break;
	}
	return failure;
}

/* The connection's multi handle, made at its first transfer. */
static void
ensure_multi(OcpbConnection *connection, const OcpbEndpoint *endpoint)
{
	CURLM	   *multi;

	if (connection->multi != NULL)
		return;
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not create a libcurl handle")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
	curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &connection->watch);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, watch_timer);
	curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &connection->watch);
	/* Every connection of a full batch stays for the next one. */
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) OCPB_MAX_PARALLEL);
	connection->multi = multi;
}

/* An idle easy handle of the connection, or a new one configured for it. */
static CURL *
lend_easy(OcpbConnection *connection, const OcpbEndpoint *endpoint)
{
	CURL	   *easy;

	if (connection->n_idle > 0)
		return connection->idle[--connection->n_idle];
	easy = curl_easy_init();
	if (easy == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not create a libcurl handle")));
	PG_TRY();
	{
		configure_handle(easy, endpoint);
	}
	PG_CATCH();
	{
		curl_easy_cleanup(easy);
		PG_RE_THROW();
	}
	PG_END_TRY();
	connection->n_easy++;
	return easy;
}

/*
 * Ends the transfer's use of libcurl: detached from the multi handle
 * (which closes its connection if the transfer did not finish), its easy
 * handle back in the idle ones, pointing at nothing that is about to go.
 */
static void
release_transfer(Transfer *transfer)
{
	OcpbConnection *connection = transfer->connection;

	if (transfer->attached)
	{
		curl_multi_remove_handle(connection->multi, transfer->easy);
		connection->in_flight--;
	}
	transfer->attached = false;
	if (transfer->easy != NULL)
	{
		curl_easy_setopt(transfer->easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(transfer->easy, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(transfer->easy, CURLOPT_ERRORBUFFER, NULL);
		connection->idle[connection->n_idle++] = transfer->easy;
	}
	transfer->easy = NULL;
	free_headers(transfer->headers);
	transfer->headers = NULL;
	free(transfer->collected.body);
	memset(&transfer->collected, 0, sizeof(transfer->collected));
}

/*
 * A multi handle that failed, or was refused a socket (which makes libcurl
 * fail it for good), is closed when its batch ends, and made again.
 */
static void
check_multi(CURLMcode status, OcpbConnection *connection)
{
	if (connection->watch.overflow || status != CURLM_OK)
		connection->closing = true;
	if (connection->watch.overflow)
		elog(ERROR, "libcurl waits on more than %d sockets", OCPB_MAX_WATCHED_SOCKETS);
	if (status != CURLM_OK)
		elog(ERROR, "libcurl multi interface failed: %s", curl_multi_strerror(status));
}

static void
start_transfer(Batch *batch, Transfer *transfer)
{
	OcpbExchange *exchange = transfer->exchange;
	OcpbConnection *connection = transfer->connection;
	CURLMcode	status;

	ensure_multi(connection, exchange->endpoint);
	/* The caller's record of the request, before anything can leave. */
	if (transfer->attempts == 0 && batch->hooks != NULL && batch->hooks->leaving != NULL)
		batch->hooks->leaving(exchange, batch->hooks->arg);
	transfer->easy = lend_easy(connection, exchange->endpoint);
	memset(&transfer->collected, 0, sizeof(transfer->collected));
	transfer->collected.rate_limit_reset = -1;
	transfer->collected.resend_allowed = transfer->wire.body == NULL;
	transfer->error[0] = '\0';
	transfer->headers = request_headers(exchange->endpoint, &transfer->wire);
	prepare_request(transfer);
	status = curl_multi_add_handle(connection->multi, transfer->easy);
	if (status == CURLM_OK)
	{
		transfer->attached = true;
		connection->in_flight++;
	}
	check_multi(status, connection);
	transfer->attempts++;
	transfer->state = TRANSFER_RUNNING;
}

static void
collect_result(Transfer *transfer, CURLcode code, OcpbHttpResult *result)
{
	const Collected *collected = &transfer->collected;
	curl_off_t	connect_us = 0;
	curl_off_t	total_us = 0;

	memset(result, 0, sizeof(*result));
	if (collected->out_of_memory)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory while reading the answer of OCP")));
	result->curl_code = code;
	strlcpy(result->curl_error, transfer->error, sizeof(result->curl_error));
	if (result->curl_error[0] == '\0' && code != CURLE_OK)
		strlcpy(result->curl_error, curl_easy_strerror(code), sizeof(result->curl_error));
	result->too_large = collected->too_large || code == CURLE_FILESIZE_EXCEEDED;
	result->resend_refused = collected->resend_refused;
	result->request_sent = collected->requests_sent > 0;
	result->rate_limit_reset = collected->rate_limit_reset;
	result->attempts = transfer->attempts;
	curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &result->status);
	curl_easy_getinfo(transfer->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(transfer->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	result->timed_out_connecting = code == CURLE_OPERATION_TIMEDOUT && connect_us == 0;
	result->elapsed_ms = (long) (total_us / 1000);
	result->body = palloc(collected->len + 1);
	if (collected->len > 0)
		memcpy(result->body, collected->body, collected->len);
	result->body[collected->len] = '\0';
	result->body_len = collected->len;
}

static void
queue_again(Batch *batch, int index)
{
	Transfer   *transfer = &batch->transfers[index];
	const OcpbEndpoint *endpoint = transfer->exchange->endpoint;

	ereport(DEBUG1,
			(errmsg_internal("ocp_backup: attempt %d of %d to reach OCP server \"%s\" failed (%s); next in %d ms",
							 transfer->attempts, endpoint->options.retries + 1, endpoint->server_name,
							 transfer->exchange->result.curl_error, transfer->backoff_ms)));
	pfree(transfer->exchange->result.body);
	transfer->exchange->result.body = NULL;
	transfer->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   transfer->backoff_ms);
	transfer->backoff_ms = (int) Min((int64) transfer->backoff_ms * 2, (int64) INT_MAX);
	transfer->state = TRANSFER_QUEUED;
	batch->first_queued = Min(batch->first_queued, index);
}

/* A transfer libcurl is done with: tried again, or its result final. */
static void
finish_transfer(Batch *batch, Transfer *transfer, CURLcode code)
{
	OcpbExchange *exchange = transfer->exchange;
	OcpbHttpResult *result = &exchange->result;
	int			retries = exchange->request.single_attempt ? 0 : exchange->endpoint->options.retries;
	OcpbSecretList secrets;
	char	   *volatile answer = NULL;
	int			reset_s;

	collect_result(transfer, code, result);
	release_transfer(transfer);
	if (transfer->attempts <= retries && ocpb_transport_failure(result).retryable)
	{
		queue_again(batch, (int) (transfer - batch->transfers));
		return;
	}
	/*
	 * Masked with the endpoint's credentials too, unless OCP says the call
	 * succeeded: an error, or a gateway, may echo them.
	 */
	if (exchange->request.raw_answer)
	{
		result->raw_body = ocpb_answer_from_wire(result->body, result->body_len, NULL,
												 &result->raw_body_len);
		ocpb_exchange_secrets(exchange->endpoint, exchange->request.secrets,
							  result->raw_body, result->raw_body_len, &secrets);
	}
	else
		ocpb_exchange_secrets(exchange->endpoint, exchange->request.secrets,
							  result->body, result->body_len, &secrets);
	PG_TRY();
	{
		answer = ocpb_answer_from_wire(result->body, result->body_len, &secrets,
									   &result->body_len);
	}
	PG_FINALLY();
	{
		ocpb_secret_list_free(&secrets);
	}
	PG_END_TRY();
	pfree(result->body);
	result->body = answer;
	transfer->state = TRANSFER_DONE;
	batch->left--;
	if (batch->hooks != NULL && batch->hooks->pause_on_rate_limit && result->status == 429)
	{
		reset_s = result->rate_limit_reset >= 0 ? result->rate_limit_reset :
			OCPB_DEFAULT_RATE_LIMIT_PAUSE_S;
		transfer->connection->paused_until =
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) reset_s * 1000);
	}
	if (batch->hooks != NULL && batch->hooks->answered != NULL)
		batch->hooks->answered(exchange, batch->hooks->arg);
}

/*
 * Starts what may start, in order: each queued transfer whose server has a
 * slot free and whose wait before another attempt is over.  A server
 * paused by a 429 skips its transfers not yet sent.
 */
static void
start_ready(Batch *batch)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	batch->next_retry = 0;
	while (batch->first_queued < batch->n &&
		   batch->transfers[batch->first_queued].state != TRANSFER_QUEUED)
		batch->first_queued++;
	for (i = batch->first_queued; i < batch->n; i++)
	{
		Transfer   *transfer = &batch->transfers[i];
		OcpbConnection *connection = transfer->connection;

		if (transfer->state != TRANSFER_QUEUED)
			continue;
		if (batch->hooks != NULL && batch->hooks->pause_on_rate_limit &&
			connection->paused_until > now && transfer->attempts == 0)
		{
			transfer->exchange->skipped = true;
			transfer->state = TRANSFER_DONE;
			batch->left--;
			continue;
		}
		if (transfer->not_before > now)
		{
			if (batch->next_retry == 0 || transfer->not_before < batch->next_retry)
				batch->next_retry = transfer->not_before;
			continue;
		}
		if (connection->in_flight < transfer->exchange->endpoint->options.max_parallel)
			start_transfer(batch, transfer);
	}
}

/* The wait event a call waiting on OCP shows in pg_stat_activity. */
static uint32
request_wait_event(void)
{
#if PG_VERSION_NUM >= 170000
	static uint32 event = 0;

	if (event == 0)
		event = WaitEventExtensionNew("OcpBackupRequest");
	return event;
#else
	return PG_WAIT_EXTENSION;
#endif
}

static void
forget_wait_set(Batch *batch)
{
	if (batch->set != NULL)
		FreeWaitEventSet(batch->set);
	batch->set = NULL;
}

/* The latch, the postmaster's death, and the sockets libcurl waits on. */
static WaitEventSet *
wait_set(Batch *batch)
{
	bool		changed = batch->set == NULL;
	int			c;
	int			i;
	uint32		events;

	for (c = 0; c < batch->n_connections; c++)
		changed |= batch->connections[c]->watch.changed;
	if (!changed)
		return batch->set;
	forget_wait_set(batch);
	batch->set_size = 2;
	for (c = 0; c < batch->n_connections; c++)
		batch->set_size += batch->connections[c]->watch.n;
	batch->set = ocpb_create_wait_event_set(batch->set_size);
	AddWaitEventToSet(batch->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	/* A single-user backend has no postmaster to watch. */
	if (IsUnderPostmaster)
		AddWaitEventToSet(batch->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (c = 0; c < batch->n_connections; c++)
	{
		OcpbSocketWatch *watch = &batch->connections[c]->watch;

		for (i = 0; i < watch->n; i++)
		{
			events = 0;
			if (watch->what[i] & CURL_POLL_IN)
				events |= WL_SOCKET_READABLE;
			if (watch->what[i] & CURL_POLL_OUT)
				events |= WL_SOCKET_WRITEABLE;
			if (events != 0)
				AddWaitEventToSet(batch->set, events, watch->fds[i], NULL,
								  batch->connections[c]);
		}
		watch->changed = false;
	}
	return batch->set;
}

/* How long the wait may last: until the first timer or retry is due. */
static long
wait_timeout(const Batch *batch)
{
	TimestampTz now = GetCurrentTimestamp();
	long		timeout = LONGEST_WAIT_MS;
	int			c;

	for (c = 0; c < batch->n_connections; c++)
	{
		const OcpbSocketWatch *watch = &batch->connections[c]->watch;

		if (watch->has_deadline)
			timeout = Min(timeout, TimestampDifferenceMilliseconds(now, watch->deadline));
	}
	if (batch->next_retry != 0)
		timeout = Min(timeout, TimestampDifferenceMilliseconds(now, batch->next_retry));
	return timeout;
}

/* Tells libcurl of a socket ready, or of timers that ran out. */
static void
serve_sockets(Batch *batch, WaitEvent *occurred, int n)
{
	TimestampTz now;
	int			running;
	int			mask;
	int			i;
	int			c;

	for (i = 0; i < n; i++)
	{
		OcpbConnection *connection = occurred[i].user_data;

		if (occurred[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		mask = 0;
		if (occurred[i].events & WL_SOCKET_READABLE)
			mask |= CURL_CSELECT_IN;
		if (occurred[i].events & WL_SOCKET_WRITEABLE)
			mask |= CURL_CSELECT_OUT;
		check_multi(curl_multi_socket_action(connection->multi, occurred[i].fd, mask, &running),
					connection);
	}
	now = GetCurrentTimestamp();
	for (c = 0; c < batch->n_connections; c++)
	{
		OcpbConnection *connection = batch->connections[c];

		if (connection->multi != NULL && connection->watch.has_deadline &&
			connection->watch.deadline <= now)
			check_multi(curl_multi_socket_action(connection->multi, CURL_SOCKET_TIMEOUT, 0,
												 &running),
						connection);
	}
}

/* Finishes each transfer libcurl says is done. */
static void
finish_done(Batch *batch)
{
	CURLMsg    *message;
	Transfer   *transfer;
	int			queued;
	int			c;

	for (c = 0; c < batch->n_connections; c++)
	{
		OcpbConnection *connection = batch->connections[c];

		while (connection->multi != NULL &&
			   (message = curl_multi_info_read(connection->multi, &queued)) != NULL)
		{
			if (message->msg != CURLMSG_DONE)
				continue;
			if (curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer) != CURLE_OK)
				elog(ERROR, "libcurl lost track of a transfer");
			finish_transfer(batch, transfer, message->data.result);
		}
	}
}

/*
 * Runs the transfers until every result is final.  Not inlined, like
 * pin_connections: what they store in the batch must be in memory, not in
 * registers, when an error's longjmp reaches end_batch.
 */
static pg_noinline void
run_batch(Batch *batch)
{
	WaitEvent  *occurred = NULL;
	int			capacity = 0;
	int			n;

	while (true)
	{
		start_ready(batch);
		if (batch->left == 0)
			break;
		(void) wait_set(batch);
		if (capacity < batch->set_size)
		{
			capacity = batch->set_size;
			occurred = occurred == NULL ? palloc(sizeof(WaitEvent) * capacity) :
				repalloc(occurred, sizeof(WaitEvent) * capacity);
		}
		n = WaitEventSetWait(batch->set, wait_timeout(batch), occurred, capacity,
							 request_wait_event());
		serve_sockets(batch, occurred, n);
		finish_done(batch);
		CHECK_FOR_INTERRUPTS();
	}
	if (occurred != NULL)
		pfree(occurred);
}
/* The distinct connections of the batch, pinned. */
static pg_noinline void
pin_connections(Batch *batch)
{
	int			i;
	int			c;

	for (i = 0; i < batch->n; i++)
	{
		Transfer   *transfer = &batch->transfers[i];
		const OcpbEndpoint *endpoint = transfer->exchange->endpoint;

		transfer->connection = ocpb_connection(endpoint->server_id, endpoint->user_mapping_id);
		for (c = 0; c < batch->n_connections && batch->connections[c] != transfer->connection; c++)
			;
		if (c == batch->n_connections)
		{
			/*
			 * A batch runs alone on its connections: a hook's SQL (a trigger
			 * on the journal, say) may not start another on them.
			 */
			if (transfer->connection->pins > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("ocp_backup cannot call OCP server \"%s\" from within a call to it",
								endpoint->server_name),
						 errhint("Look for a trigger on ocp_backup's tables that calls ocp_backup.")));
			ocpb_connection_pin(transfer->connection);
			batch->connections[batch->n_connections++] = transfer->connection;
		}
		/*
		 * Handles made from options older than the entry's last change are
		 * closed at the end, not kept for calls with the new options.
		 */
		if (endpoint->resolved_at < transfer->connection->dropped_at)
			transfer->connection->closing = true;
	}
}

static void
end_batch(Batch *batch)
{
	int			i;

	for (i = 0; i < batch->n; i++)
		release_transfer(&batch->transfers[i]);
	forget_wait_set(batch);
	for (i = 0; i < batch->n_connections; i++)
		ocpb_connection_unpin(batch->connections[i]);
}

/*
 * The batch lives in palloc'd memory, not on the stack: the compiler may
 * keep a local struct's fields in registers, which the longjmp of an error
 * would leave stale for end_batch (gcc 14 did, on a cancel).
 */
void
ocpb_http_exchange_all(OcpbExchange *exchanges, int n, const OcpbExchangeHooks *hooks)
{
	Batch	   *batch;
	int			i;

	if (n == 0)
		return;
	batch = palloc0(sizeof(Batch));
	batch->hooks = hooks;
	batch->n = n;
	batch->left = n;
	batch->transfers = palloc0(sizeof(Transfer) * n);
	batch->connections = palloc0(sizeof(OcpbConnection *) * n);
	for (i = 0; i < n; i++)
	{
		Transfer   *transfer = &batch->transfers[i];
		OcpbExchange *exchange = &exchanges[i];

		exchange->skipped = false;
		memset(&exchange->result, 0, sizeof(exchange->result));
		transfer->exchange = exchange;
		transfer->wire = exchange->request;
		if (exchange->request.body != NULL)
			transfer->wire.body = ocpb_body_to_wire(exchange->request.body,
													exchange->request.body_len,
													&transfer->wire.body_len);
		transfer->backoff_ms = exchange->endpoint->options.retry_backoff_ms;
		transfer->state = TRANSFER_QUEUED;
	}
	PG_TRY();
	{
		pin_connections(batch);
		run_batch(batch);
	}
	PG_FINALLY();
	{
		end_batch(batch);
	}
	PG_END_TRY();
	pfree(batch->transfers);
	pfree(batch->connections);
	pfree(batch);
}

void
ocpb_http_exchange(const OcpbEndpoint *endpoint, const OcpbHttpRequest *request,
				   OcpbHttpResult *result)
{
	OcpbExchange exchange;

	memset(&exchange, 0, sizeof(exchange));
	exchange.endpoint = endpoint;
	exchange.request = *request;
	ocpb_http_exchange_all(&exchange, 1, NULL);
	*result = exchange.result;
}
