/*
 * report.c - turns failed exchanges with OCP into errors a DBA can act on.
 *
 * Every failure gets a SQLSTATE that says what kind of thing went wrong
 * (see the table in README.md), a message in our words, the facts in the
 * detail (HTTP status, OCP's error code and message, OCP's trace id, which
 * OCP's own logs are searched by) and, where there is one, the next step in
 * the hint.  Nothing here can see a credential: endpoints' secrets are never
 * passed in.
 */
#include "report.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

/* How much of an unreadable body a detail quotes. */
#define BODY_EXCERPT_BYTES 120

static OcpbFailure *
set_failure(OcpbFailure *failure, int sqlerrcode, char *message, char *detail,
			char *hint)
{
	failure->sqlerrcode = sqlerrcode;
	failure->message = message;
	failure->detail = detail;
	failure->hint = hint;
	return failure;
}

bool
ocpb_transport_failed(const OcpbEndpoint *endpoint, const OcpbHttpResult *http,
					  OcpbFailure *failure)
{
	const char *server = endpoint->server_name;
	OcpbTransportFailure transport = ocpb_transport_failure(http);
	char	   *detail;

	if (transport.kind == OCPB_TRANSPORT_NONE)
		return false;
	if (transport.kind == OCPB_TRANSPORT_RESEND_REFUSED)
	{
		set_failure(failure, ERRCODE_CONNECTION_FAILURE,
					psprintf("the connection to OCP server \"%s\" closed before OCP answered",
							 server),
					pstrdup("The request was sent on a kept-alive connection, so it may have reached OCP; "
							"it was not sent again, since a repeated request could start a second backup."),
					pstrdup("Look in OCP for a task this request may have started before calling again."));
		return true;
	}
	detail = psprintf("libcurl: %s.", http->curl_error);
	switch (transport.kind)
	{
		case OCPB_TRANSPORT_DNS:
			set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						psprintf("could not resolve the host of OCP server \"%s\"", server),
						detail, psprintf("Check the url option of server \"%s\".", server));
			break;
		case OCPB_TRANSPORT_PROXY_DNS:
			set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						psprintf("could not resolve the proxy of OCP server \"%s\"", server),
						detail, psprintf("Check the proxy option of server \"%s\".", server));
			break;
		case OCPB_TRANSPORT_CONNECT:
			if (endpoint->options.proxy != NULL)
				set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							psprintf("could not connect to OCP server \"%s\" at %s through proxy %s",
									 server, endpoint->base_url, endpoint->options.proxy),
							detail, NULL);
			else
				set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							psprintf("could not connect to OCP server \"%s\" at %s",
									 server, endpoint->base_url),
							detail, NULL);
			break;
		case OCPB_TRANSPORT_TLS_UNTRUSTED:
			set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						psprintf("the TLS certificate of OCP server \"%s\" is not trusted", server),
						detail,
						endpoint->options.ca_file ?
						psprintf("Check that ca_file (%s) holds the CA that signed OCP's certificate and that the url names a host the certificate covers.",
								 endpoint->options.ca_file) :
						psprintf("Set the ca_file option of server \"%s\" to the CA bundle that signed OCP's certificate.",
								 server));
			break;
		case OCPB_TRANSPORT_TLS_CA_FILE:
			set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						psprintf("could not read the CA bundle of OCP server \"%s\"", server),
						detail,
						pstrdup("ca_file must name a PEM file that the database server's operating system user can read."));
			break;
		case OCPB_TRANSPORT_TLS_HANDSHAKE:
			set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						psprintf("could not establish a TLS connection to OCP server \"%s\"", server),
						detail, NULL);
			break;
		case OCPB_TRANSPORT_CONNECT_TIMEOUT:
		case OCPB_TRANSPORT_TIMEOUT:
			/* A timeout_ms below connect_timeout_ms is the one that ran out. */
			if (transport.kind == OCPB_TRANSPORT_CONNECT_TIMEOUT &&
				endpoint->options.connect_timeout_ms <= endpoint->options.timeout_ms)
				set_failure(failure, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							psprintf("could not connect to OCP server \"%s\" within connect_timeout_ms (%d ms)",
									 server, endpoint->options.connect_timeout_ms),
							psprintf("Gave up after %ld ms. %s", http->elapsed_ms, detail),
							NULL);
			else
				set_failure(failure, ERRCODE_CONNECTION_FAILURE,
							psprintf("OCP server \"%s\" did not answer within timeout_ms (%d ms)",
									 server, endpoint->options.timeout_ms),
							psprintf("Gave up after %ld ms. %s", http->elapsed_ms, detail),
							psprintf("Raise the timeout_ms option of server \"%s\" if OCP is just slow.",
									 server));
			break;
		case OCPB_TRANSPORT_TOO_LARGE:
			set_failure(failure, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
						psprintf("the answer of OCP server \"%s\" exceeds %d bytes",
								 server, OCPB_MAX_RESPONSE_BYTES),
						http->status > 0 ? psprintf("HTTP status %ld.", http->status) : NULL,
						NULL);
			break;
		case OCPB_TRANSPORT_NONE:
		case OCPB_TRANSPORT_RESEND_REFUSED:
		case OCPB_TRANSPORT_OTHER:
			set_failure(failure, ERRCODE_CONNECTION_FAILURE,
						psprintf("the exchange with OCP server \"%s\" failed", server),
						detail, NULL);
			break;
	}
	if (http->attempts > 1)
		failure->detail = psprintf("%s Made %d attempts (retries %d).",
								   failure->detail, http->attempts, endpoint->options.retries);
	return true;
}

/* A short printable excerpt of a body that is not what was expected. */
static char *
body_excerpt(const OcpbHttpResult *http)
{
	StringInfoData excerpt;
	size_t		i;

	initStringInfo(&excerpt);
	appendStringInfoString(&excerpt, "it begins: ");
	for (i = 0; i < http->body_len && i < BODY_EXCERPT_BYTES; i++)
	{
		unsigned char c = (unsigned char) http->body[i];

		appendStringInfoChar(&excerpt, c >= 0x20 && c < 0x7f ? (char) c : ' ');
	}
	if (http->body_len > BODY_EXCERPT_BYTES)
		appendStringInfoString(&excerpt, "...");
	return excerpt.data;
}

/* Appends text as one sentence, whether or not it already ends with a period. */
static void
append_sentence(StringInfo buf, const char *text)
{
	size_t		len = strlen(text);

	while (len > 0 && (text[len - 1] == '.' || text[len - 1] == ' '))
		len--;
	appendBinaryStringInfo(buf, text, (int) len);
	appendStringInfoString(buf, ". ");
}

/*
 * "HTTP status 404. OCP error OBE11001: The specified cluster ... does not
 * exist. OCP trace id 5962f337662d4043."
 */
static char *
answer_facts(const OcpbHttpResult *http, const OcpbEnvelope *envelope)
{
	StringInfoData facts;

	initStringInfo(&facts);
	appendStringInfo(&facts, "HTTP status %ld. ", http->status);
	if (envelope->error_code != NULL || envelope->error_message != NULL)
	{
		appendStringInfo(&facts, "OCP error %s: ",
						 envelope->error_code ? envelope->error_code : "(no code)");
		append_sentence(&facts, envelope->error_message ? envelope->error_message : "(no message)");
	}
	if (envelope->debug_message != NULL)
	{
		appendStringInfoString(&facts, "Debug message: ");
		append_sentence(&facts, envelope->debug_message);
	}
	if (envelope->trace_id != NULL && envelope->trace_id[0] != '\0')
		appendStringInfo(&facts, "OCP trace id %s. ", envelope->trace_id);
	if (!envelope->is_envelope && http->body_len > 0)
		appendStringInfo(&facts, "The body is not an OCP answer; %s. ", body_excerpt(http));
	facts.data[--facts.len] = '\0';	/* the last space */
	return facts.data;
}

static void
http_error(const OcpbEndpoint *endpoint, const OcpbCallSubject *subject,
		   const OcpbHttpResult *http, const OcpbEnvelope *envelope,
		   OcpbFailure *failure)
{
	const char *server = endpoint->server_name;
	char	   *facts = answer_facts(http, envelope);

	switch (http->status)
	{
		case 401:
			set_failure(failure, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
						psprintf("OCP server \"%s\" rejected the credentials", server),
						facts,
						endpoint->credentials.access_key_id ?
						psprintf("Check the access key pair of your user mapping for server \"%s\", and that this machine's clock is within 15 minutes of OCP's: SELECT * FROM ocp_backup_check(%s) shows the skew.",
								 server, quote_literal_cstr(server)) :
						psprintf("Check the username and password of your user mapping for server \"%s\".",
								 server));
			break;
		case 403:
			set_failure(failure, ERRCODE_INSUFFICIENT_PRIVILEGE,
						psprintf("OCP server \"%s\" does not permit this user to %s",
								 server, subject->action),
						facts,
						pstrdup("Grant the OCP user the \"Create\" permission on cluster backup and recovery."));
			break;
		case 404:
			set_failure(failure, ERRCODE_UNDEFINED_OBJECT,
						psprintf("%s does not exist on OCP server \"%s\"", subject->object, server),
						facts, NULL);
			break;
		case 429:
			set_failure(failure, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
						psprintf("OCP server \"%s\" is throttling requests", server),
						facts,
						http->rate_limit_reset >= 0 ?
						psprintf("Retry after %d seconds (RateLimit-Reset).", http->rate_limit_reset) :
						pstrdup("Retry later."));
			break;
		default:
			set_failure(failure, ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
						psprintf("OCP server \"%s\" failed to %s", server, subject->action),
						facts, NULL);
			break;
	}
}

static void
unreadable_answer(const OcpbEndpoint *endpoint, const OcpbHttpResult *http,
				  const OcpbEnvelope *envelope, OcpbFailure *failure)
{
	const char *server = endpoint->server_name;
	char	   *detail;

	if (http->body_len == 0)
		detail = psprintf("HTTP status %ld. The body is empty.", http->status);
	else if (!envelope->is_json || !envelope->is_envelope)
		detail = psprintf("HTTP status %ld. The answer is unusable: %s; %s.", http->status,
						  envelope->problem, body_excerpt(http));
	else
		detail = psprintf("HTTP status %ld. The answer is unusable: %s.%s%s%s", http->status,
						  envelope->problem,
						  envelope->trace_id ? " OCP trace id " : "",
						  envelope->trace_id ? envelope->trace_id : "",
						  envelope->trace_id ? "." : "");
	set_failure(failure, ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
				psprintf("OCP server \"%s\" sent an answer ocp_backup cannot read", server),
				detail,
				http->status >= 500 || http->status < 200 ?
				pstrdup("A proxy in front of OCP may have answered; check that OCP is up.") : NULL);
}

bool
ocpb_exchange_failed(const OcpbEndpoint *endpoint, const OcpbCallSubject *subject,
					 const OcpbHttpResult *http, const OcpbEnvelope *envelope,
					 OcpbFailure *failure)
{
	bool		http_ok = http->status >= 200 && http->status < 300;

	if (ocpb_transport_failed(endpoint, http, failure))
		return true;
	if (envelope->is_envelope && (!envelope->successful || !http_ok))
		http_error(endpoint, subject, http, envelope, failure);
	else if (!http_ok && http->status != 0 && !envelope->is_envelope &&
			 (http->status == 401 || http->status == 403 ||
			  http->status == 404 || http->status == 429))
		http_error(endpoint, subject, http, envelope, failure);
	else if (envelope->problem[0] != '\0' || !http_ok)
		unreadable_answer(endpoint, http, envelope, failure);
	else
		return false;
	return true;
}

char *
ocpb_failure_text(const OcpbFailure *failure)
{
	if (failure->detail == NULL)
		return pstrdup(failure->message);
	return psprintf("%s: %s", failure->message, failure->detail);
}

static void
report_failure(int elevel, const OcpbFailure *failure)
{
	ereport(elevel,
			(errcode(failure->sqlerrcode),
			 errmsg_internal("%s", failure->message),
			 failure->detail ? errdetail_internal("%s", failure->detail) : 0,
			 failure->hint ? errhint("%s", failure->hint) : 0));
}

void
ocpb_raise_failure(const OcpbFailure *failure)
{
	report_failure(ERROR, failure);
	pg_unreachable();
}

void
ocpb_warn_refused_objects(const OcpbBackupNowResponse *response)
{
	size_t		i;

	for (i = 0; i < response->n_results; i++)
	{
		const OcpbBackupResult *result = &response->results[i];
		const OcpbBackupObject *object = result->n_objects > 0 ? &result->objects[0] : NULL;

		if (result->successful)
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 object && object->has_cluster_id ?
				 errmsg("OCP did not start the backup of cluster %lld", object->cluster_id) :
				 errmsg("OCP did not start the backup of one backup object"),
				 errdetail("OCP error %s: %s",
						   result->error_code ? result->error_code : "(no code)",
						   result->hint ? result->hint : "(no hint)")));
	}
}
