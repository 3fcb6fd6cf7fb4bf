/*
 * check.c - ocp_backup_check: does the endpoint work, step by step?
 *
 * Each step (reach OCP, verify its certificate, authenticate, read its
 * clock) reports into the row instead of raising, so that a DBA sees which
 * step fails, and why, from a single SELECT.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "endpoint.h"
#include "http.h"
#include "report.h"
#include "response.h"
#include "call_log.h"

PG_FUNCTION_INFO_V1(ocp_backup_check);

/* Unauthenticated, and the one place OCP tells its time. */
#define TIME_PATH "/api/v2/time"
/* The cheapest authenticated read: one task of the task list. */
#define AUTH_PATH "/api/v2/tasks/instances?page=1&size=1"

typedef enum CheckColumn
{
	COL_SERVER_NAME,
	COL_URL,
	COL_REACHABLE,
	COL_TLS_VERIFIED,
	COL_AUTHENTICATED,
	COL_ROUND_TRIP_MS,
	COL_OCP_TIME,
	COL_CLOCK_SKEW_MS,
	COL_PROBLEM,
	CHECK_COLUMNS
} CheckColumn;

typedef struct CheckRow
{
	Datum		values[CHECK_COLUMNS];
	bool		nulls[CHECK_COLUMNS];
} CheckRow;

static void
set_column(CheckRow *row, CheckColumn column, Datum value)
{
	row->values[column] = value;
	row->nulls[column] = false;
}

/* Keeps the first problem: later steps fail because of it. */
static void
set_problem(CheckRow *row, char *problem)
{
	if (row->nulls[COL_PROBLEM])
		set_column(row, COL_PROBLEM, CStringGetTextDatum(problem));
}

static void
exchange(const OcpbEndpoint *endpoint, const char *path, bool anonymous,
		 OcpbHttpResult *http)
{
	OcpbHttpRequest request;

	memset(&request, 0, sizeof(request));
	request.method = "GET";
	request.path = path;
	request.anonymous = anonymous;
	/* The check reports how the endpoint answers now, not after waits. */
	request.single_attempt = true;
	ocpb_http_exchange(endpoint, &request, http);
}

static void
read_ocp_time(CheckRow *row, const OcpbHttpResult *http, TimestampTz before,
			  TimestampTz after)
{
	char	   *text;
	long long	unix_us;
	TimestampTz ocp_time;
	TimestampTz local_midpoint = before + (after - before) / 2;

	/* Plain text, possibly with a trailing newline or JSON quotes. */
	text = pstrdup(http->body + strspn(http->body, " \t\r\n\""));
	text[strcspn(text, " \t\r\n\"")] = '\0';
	if (!ocpb_parse_ocp_time(text, &unix_us))
	{
		set_problem(row, psprintf("GET %s did not answer a time: \"%.40s\"", TIME_PATH, text));
		return;
	}
	ocp_time = (TimestampTz) (unix_us -
							  (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	set_column(row, COL_OCP_TIME, TimestampTzGetDatum(ocp_time));
	set_column(row, COL_CLOCK_SKEW_MS,
			   Float8GetDatum((double) (ocp_time - local_midpoint) / 1000.0));
}

/* Reachability, TLS, round trip and clock, from GET /api/v2/time. */
static bool
check_time(const OcpbEndpoint *endpoint, CheckRow *row)
{
	OcpbHttpResult http;
	OcpbFailure failure;
	TimestampTz before = GetCurrentTimestamp();
	TimestampTz after;

	exchange(endpoint, TIME_PATH, true, &http);
	after = GetCurrentTimestamp();
	if (ocpb_transport_failed(endpoint, &http, &failure))
	{
		/* A TLS step failed only after OCP's host was reached. */
		bool		tls = ocpb_transport_failure(&http).tls;

		set_column(row, COL_REACHABLE, BoolGetDatum(tls));
		if (endpoint->https && tls)
			set_column(row, COL_TLS_VERIFIED, BoolGetDatum(false));
		set_problem(row, ocpb_failure_text(&failure));
		return false;
	}
	set_column(row, COL_REACHABLE, BoolGetDatum(true));
	if (endpoint->https)
		set_column(row, COL_TLS_VERIFIED, BoolGetDatum(endpoint->options.verify_tls));
	set_column(row, COL_ROUND_TRIP_MS, Float8GetDatum((double) (after - before) / 1000.0));
	if (http.status != 200)
		set_problem(row, psprintf("GET %s answered HTTP status %ld", TIME_PATH, http.status));
	else
		read_ocp_time(row, &http, before, after);
	return true;
}

/* Authentication, from the cheapest authenticated read OCP has. */
static void
check_credentials(const OcpbEndpoint *endpoint, CheckRow *row)
{
	OcpbHttpResult http;
	OcpbAnswer	answer;
	OcpbFailure failure;
	OcpbCallSubject subject = {"list tasks", "the task list"};
	bool		failed;

	if (!ocpb_endpoint_has_credentials(endpoint))
	{
		set_problem(row, psprintf("no user mapping for role \"%s\" on server \"%s\"",
								  GetUserNameFromId(GetUserId(), false),
								  endpoint->server_name));
		return;
	}
	exchange(endpoint, AUTH_PATH, false, &http);
	if (!ocpb_parse_answer(http.body, http.body_len, &answer))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	failed = ocpb_exchange_failed(endpoint, &subject, &http, &answer.envelope, &failure);
	ocpb_answer_free(&answer);
	if (http.status == 401)
		set_column(row, COL_AUTHENTICATED, BoolGetDatum(false));
	else if (http.status == 403 || (http.status >= 200 && http.status < 300))
		set_column(row, COL_AUTHENTICATED, BoolGetDatum(true));
	if (failed)
		set_problem(row, ocpb_failure_text(&failure));
}

Datum
ocp_backup_check(PG_FUNCTION_ARGS)
{
	const char *server_name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	OcpbEndpoint *endpoint = ocpb_resolve_endpoint(server_name, false);
	TupleDesc	tupdesc;
	CheckRow	row;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ocp_backup_check must return a composite type");
	ocpb_call_log_flush_leftovers();
	memset(row.nulls, true, sizeof(row.nulls));
	set_column(&row, COL_SERVER_NAME, CStringGetTextDatum(endpoint->server_name));
	set_column(&row, COL_URL, CStringGetTextDatum(endpoint->base_url));
	if (check_time(endpoint, &row))
		check_credentials(endpoint, &row);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  row.values, row.nulls)));
}
