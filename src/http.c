/*
 * http.c - sends one request to OCP with libcurl.
 *
 * Each backend keeps one curl handle per (server, user mapping), so that
 * every call after the first reuses a kept-alive TCP (and TLS) connection.
 * The handle lives in its own multi handle, which owns the connection pool:
 * dropping both when the server or mapping changes drops the connection.
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
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "auth.h"
#include "pg_compat.h"
#include "wire_text.h"

#define OCPB_USER_AGENT "ocp_backup/" OCPB_VERSION

/* A transfer waits on a socket or two (a connection, a proxy's). */
#define MAX_WATCHED_SOCKETS 8

/* libcurl sets no timer while a transfer only waits on its sockets. */
#define LONGEST_WAIT_MS 1000

typedef struct HandleKey
{
	Oid			server_id;
	Oid			user_mapping_id;
} HandleKey;

/* The sockets libcurl waits on and its timer, as its callbacks tell them. */
typedef struct SocketWatch
{
	curl_socket_t fds[MAX_WATCHED_SOCKETS];
	int			what[MAX_WATCHED_SOCKETS];	/* CURL_POLL_IN, _OUT, _INOUT */
	int			n;
	bool		overflow;
	bool		changed;		/* the wait set must be built again */
	bool		has_deadline;
	TimestampTz deadline;		/* when libcurl's timer runs out */
	WaitEventSet *set;			/* lives until freed; NULL: to build */
} SocketWatch;

typedef struct CachedHandle
{
	HandleKey	key;
	CURLM	   *multi;
	CURL	   *easy;
	bool		stale;			/* the server or a mapping changed */
	char		error[CURL_ERROR_SIZE];
	SocketWatch watch;
} CachedHandle;

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

static HTAB *handles = NULL;

static void
forget_wait_set(SocketWatch *watch)
{
	if (watch->set != NULL)
		FreeWaitEventSet(watch->set);
	watch->set = NULL;
}

static void
release_handle(CachedHandle *entry)
{
	if (entry->easy != NULL)
		curl_easy_cleanup(entry->easy);
	if (entry->multi != NULL)
		curl_multi_cleanup(entry->multi);
	entry->easy = NULL;
	entry->multi = NULL;
	forget_wait_set(&entry->watch);
	memset(&entry->watch, 0, sizeof(entry->watch));
}

/* libcurl's word on a socket: wait on it for reading, writing, or no more. */
static int
watch_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	SocketWatch *watch = userp;
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
		if (watch->n == MAX_WATCHED_SOCKETS)
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
	SocketWatch *watch = userp;

	watch->has_deadline = timeout_ms >= 0;
	if (watch->has_deadline)
		watch->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

/*
 * Any change to a server or user mapping makes every cached handle stale:
 * they are few, and rebuilding one costs a single handshake.
 */
static void
invalidate_handles(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	CachedHandle *entry;

	if (handles == NULL)
		return;
	hash_seq_init(&scan, handles);
	while ((entry = hash_seq_search(&scan)) != NULL)
		entry->stale = true;
}

void
ocpb_http_init(void)
{
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidate_handles, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidate_handles, (Datum) 0);
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

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		collected->rate_limit_reset = -1;	/* a new answer begins */
	else if (len > sizeof(name) - 1 && pg_strncasecmp(data, name, sizeof(name) - 1) == 0)
	{
		value_len = Min(len - (sizeof(name) - 1), sizeof(value) - 1);
		memcpy(value, data + sizeof(name) - 1, value_len);
		value[value_len] = '\0';
		collected->rate_limit_reset = atoi(value);
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
configure_handle(CachedHandle *entry, const OcpbEndpoint *endpoint)
{
	CURL	   *easy = entry->easy;

	SET_OPTION(easy, CURLOPT_NOSIGNAL, 1L);
	SET_OPTION(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SET_OPTION(easy, CURLOPT_FOLLOWLOCATION, 0L);
	SET_OPTION(easy, CURLOPT_USERAGENT, OCPB_USER_AGENT);
	SET_OPTION(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) endpoint->connect_timeout_ms);
	SET_OPTION(easy, CURLOPT_TIMEOUT_MS, (long) endpoint->timeout_ms);
	SET_OPTION(easy, CURLOPT_ERRORBUFFER, entry->error);
	SET_OPTION(easy, CURLOPT_WRITEFUNCTION, collect_body);
	SET_OPTION(easy, CURLOPT_HEADERFUNCTION, collect_header);
	SET_OPTION(easy, CURLOPT_PREREQFUNCTION, allow_sending);
	SET_OPTION(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Refuses at once an answer whose Content-Length is over the cap. */
	SET_OPTION(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) OCPB_MAX_RESPONSE_BYTES);
	SET_OPTION(easy, CURLOPT_SSL_VERIFYPEER, endpoint->verify_tls ? 1L : 0L);
	SET_OPTION(easy, CURLOPT_SSL_VERIFYHOST, endpoint->verify_tls ? 2L : 0L);
	if (endpoint->ca_file != NULL)
		SET_OPTION(easy, CURLOPT_CAINFO, endpoint->ca_file);

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
	SET_OPTION(easy, CURLOPT_PROXY, endpoint->proxy != NULL ? endpoint->proxy : "");
	SET_OPTION(easy, CURLOPT_NOPROXY, endpoint->no_proxy != NULL ? endpoint->no_proxy : "");
	SET_OPTION(easy, CURLOPT_HEADEROPT, (long) CURLHEADER_SEPARATE);
	SET_OPTION(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SET_OPTION(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
}

static CachedHandle *
handle_for(const OcpbEndpoint *endpoint)
{
	HandleKey	key;
	CachedHandle *entry;
	bool		found;

	if (handles == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(HandleKey);
		ctl.entrysize = sizeof(CachedHandle);
		handles = hash_create("ocp_backup curl handles", 8, &ctl,
							  HASH_ELEM | HASH_BLOBS);
	}
	memset(&key, 0, sizeof(key));
	key.server_id = endpoint->server_id;
	key.user_mapping_id = endpoint->user_mapping_id;
	entry = hash_search(handles, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->multi = NULL;
		entry->easy = NULL;
		entry->stale = false;
		memset(&entry->watch, 0, sizeof(entry->watch));
	}
	if (entry->stale)
		release_handle(entry);
	entry->stale = false;
	if (entry->easy == NULL)
	{
		entry->multi = curl_multi_init();
		entry->easy = curl_easy_init();
		if (entry->multi == NULL || entry->easy == NULL)
		{
			release_handle(entry);
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
							errmsg("could not create a libcurl handle")));
		}
		curl_multi_setopt(entry->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
		curl_multi_setopt(entry->multi, CURLMOPT_SOCKETDATA, &entry->watch);
		curl_multi_setopt(entry->multi, CURLMOPT_TIMERFUNCTION, watch_timer);
		curl_multi_setopt(entry->multi, CURLMOPT_TIMERDATA, &entry->watch);
		PG_TRY();
		{
			configure_handle(entry, endpoint);
		}
		PG_CATCH();
		{
			release_handle(entry);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return entry;
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
	authorization = ocpb_aksk_authorization(endpoint->access_key_id,
											endpoint->access_key_secret, &input);
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

	if (endpoint->access_key_id != NULL)
	{
		ocpb_format_http_date(time(NULL), date);
		snprintf(date_header, sizeof(date_header), "Date: %s", date);
		headers = add_header(headers, failed, date_header);
		authorization = header_line("Authorization",
									signed_authorization(endpoint, request, date));
	}
	else
		authorization = header_line("Authorization",
									ocpb_basic_authorization(endpoint->username,
															 endpoint->password));
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
prepare_request(CURL *easy, const OcpbEndpoint *endpoint,
				const OcpbHttpRequest *request, struct curl_slist *headers,
				Collected *collected)
{
	char	   *url = psprintf("%s%s", endpoint->base_url, request->path);

	SET_OPTION(easy, CURLOPT_URL, url);
	pfree(url);
	SET_OPTION(easy, CURLOPT_HTTPHEADER, headers);
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

/* The latch, the postmaster's death, and the sockets libcurl waits on. */
static WaitEventSet *
wait_set(SocketWatch *watch)
{
	int			i;
	uint32		events;

	if (watch->set != NULL && !watch->changed)
		return watch->set;
	forget_wait_set(watch);
	watch->set = ocpb_create_wait_event_set(2 + watch->n);
	AddWaitEventToSet(watch->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	/* A single-user backend has no postmaster to watch. */
	if (IsUnderPostmaster)
		AddWaitEventToSet(watch->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < watch->n; i++)
	{
		events = 0;
		if (watch->what[i] & CURL_POLL_IN)
			events |= WL_SOCKET_READABLE;
		if (watch->what[i] & CURL_POLL_OUT)
			events |= WL_SOCKET_WRITEABLE;
		if (events != 0)
			AddWaitEventToSet(watch->set, events, watch->fds[i], NULL, NULL);
	}
	watch->changed = false;
	return watch->set;
}

static long
until_timer(const SocketWatch *watch)
{
	if (!watch->has_deadline)
		return LONGEST_WAIT_MS;
	return Min(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), watch->deadline),
			   LONGEST_WAIT_MS);
}

static void
check_multi(CURLMcode status, const SocketWatch *watch)
{
	if (watch->overflow)
		elog(ERROR, "libcurl waits on more than %d sockets", MAX_WATCHED_SOCKETS);
	if (status != CURLM_OK)
		elog(ERROR, "libcurl multi interface failed: %s", curl_multi_strerror(status));
}

/*
 * Runs the transfer to its end, waiting on its sockets, the latch and the
 * postmaster.  An interrupt raises from here; the caller's cleanup detaches
 * the handle, which closes the half-used connection.
 */
static CURLcode
run_transfer(CachedHandle *entry)
{
	SocketWatch *watch = &entry->watch;
	WaitEvent	occurred[MAX_WATCHED_SOCKETS + 2];
	int			running = 1;
	int			n;
	int			i;
	int			mask;
	CURLMsg    *message;
	int			queued;

	check_multi(curl_multi_socket_action(entry->multi, CURL_SOCKET_TIMEOUT, 0, &running), watch);
	while (running > 0)
	{
		n = WaitEventSetWait(wait_set(watch), until_timer(watch), occurred,
							 lengthof(occurred), request_wait_event());
		if (n == 0)
			check_multi(curl_multi_socket_action(entry->multi, CURL_SOCKET_TIMEOUT, 0, &running),
						watch);
		for (i = 0; i < n && running > 0; i++)
		{
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
			check_multi(curl_multi_socket_action(entry->multi, occurred[i].fd, mask, &running),
						watch);
		}
		/* A timer that ran out while sockets were served. */
		if (running > 0 && watch->has_deadline && until_timer(watch) <= 0)
			check_multi(curl_multi_socket_action(entry->multi, CURL_SOCKET_TIMEOUT, 0, &running),
						watch);
		CHECK_FOR_INTERRUPTS();
	}
	while ((message = curl_multi_info_read(entry->multi, &queued)) != NULL)
	{
		if (message->msg == CURLMSG_DONE && message->easy_handle == entry->easy)
			return message->data.result;
	}
	return CURLE_GOT_NOTHING;
}

static void
collect_result(CachedHandle *entry, CURLcode code, const Collected *collected,
			   OcpbHttpResult *result)
{
	curl_off_t	connect_us = 0;
	curl_off_t	total_us = 0;

	result->curl_code = code;
	strlcpy(result->curl_error, entry->error, sizeof(result->curl_error));
	if (result->curl_error[0] == '\0' && code != CURLE_OK)
		strlcpy(result->curl_error, curl_easy_strerror(code), sizeof(result->curl_error));
	result->too_large = collected->too_large || code == CURLE_FILESIZE_EXCEEDED;
	result->resend_refused = collected->resend_refused;
	result->request_sent = collected->requests_sent > 0;
	result->rate_limit_reset = collected->rate_limit_reset;
	curl_easy_getinfo(entry->easy, CURLINFO_RESPONSE_CODE, &result->status);
	curl_easy_getinfo(entry->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(entry->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	result->timed_out_connecting = code == CURLE_OPERATION_TIMEDOUT && connect_us == 0;
	result->elapsed_ms = (long) (total_us / 1000);
	result->body = palloc(collected->len + 1);
	if (collected->len > 0)
		memcpy(result->body, collected->body, collected->len);
	result->body[collected->len] = '\0';
	result->body_len = collected->len;
}

static void
exchange_once(const OcpbEndpoint *endpoint, const OcpbHttpRequest *request,
			  OcpbHttpResult *result)
{
	CachedHandle *entry = handle_for(endpoint);
	struct curl_slist *volatile headers = NULL;
	Collected	collected;
	volatile bool attached = false;
	CURLcode	code;

	memset(result, 0, sizeof(*result));
	memset(&collected, 0, sizeof(collected));
	collected.rate_limit_reset = -1;
	collected.resend_allowed = request->body == NULL;
	entry->error[0] = '\0';
	PG_TRY();
	{
		headers = request_headers(endpoint, request);
		prepare_request(entry->easy, endpoint, request, headers, &collected);
		if (curl_multi_add_handle(entry->multi, entry->easy) != CURLM_OK)
			elog(ERROR, "could not add a libcurl handle to its multi handle");
		attached = true;
		code = run_transfer(entry);
		if (collected.out_of_memory)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
							errmsg("out of memory while reading the answer of OCP")));
		collect_result(entry, code, &collected, result);
	}
	PG_FINALLY();
	{
		if (attached)
			curl_multi_remove_handle(entry->multi, entry->easy);
		/* Neither may point at memory that is about to go away. */
		curl_easy_setopt(entry->easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(entry->easy, CURLOPT_POSTFIELDS, NULL);
		free_headers(headers);
		free(collected.body);
	}
	PG_END_TRY();
}

/*
 * Whether another attempt is safe and may help: the request never left
 * (libcurl never came to send it), and the failure was one of reaching OCP,
 * which can pass, rather than one that would repeat (an untrusted
 * certificate, an unreadable CA file).
 */
static bool
worth_retrying(const OcpbHttpResult *result)
{
	if (result->request_sent)
		return false;
	switch (result->curl_code)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
			return true;
		case CURLE_OPERATION_TIMEDOUT:
			return result->timed_out_connecting;
		default:
			return false;
	}
}

/* Sleeps, waking for interrupts, so that a cancel ends the wait at once. */
static void
wait_before_retry(int ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
	long		left;

	while ((left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline)) > 0)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

void
ocpb_http_exchange(const OcpbEndpoint *endpoint, const OcpbHttpRequest *request,
				   OcpbHttpResult *result)
{
	int			retries = request->single_attempt ? 0 : endpoint->retries;
	int			backoff_ms = endpoint->retry_backoff_ms;
	OcpbHttpRequest wire = *request;
	char	   *answer;
	int			attempt;

	if (request->body != NULL)
		wire.body = ocpb_body_to_wire(request->body, request->body_len, &wire.body_len);
	for (attempt = 1;; attempt++)
	{
		exchange_once(endpoint, &wire, result);
		result->attempts = attempt;
		if (attempt > retries || !worth_retrying(result))
			break;
		ereport(DEBUG1,
				(errmsg_internal("ocp_backup: attempt %d of %d to reach OCP server \"%s\" failed (%s); next in %d ms",
								 attempt, retries + 1, endpoint->server_name,
								 result->curl_error, backoff_ms)));
		pfree(result->body);
		wait_before_retry(backoff_ms);
		backoff_ms = (int) Min((int64) backoff_ms * 2, (int64) INT_MAX);
	}
	answer = ocpb_answer_from_wire(result->body, result->body_len, request->secrets,
								   &result->body_len);
	pfree(result->body);
	result->body = answer;
}
