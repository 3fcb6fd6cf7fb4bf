/*
 * journal_row.c - a call's journal row (OcpbInvocation) and its JSON.
 *
 * A call's row is one JSON object keyed by column name, built in C: the
 * row call_log.c logs on disk, and the argument of
 * ocp_backup.record_invocation, the SQL function that writes every journal
 * row (journal.c).
 */
#include "journal_row.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"

#include "catalog.h"
#include "json_accept.h"
#include "mask.h"
#include "request.h"

/*
 * The row is written twice per call (before sending, and with the answer):
 * its pieces are appended without format strings.
 */
static void
append_key(StringInfo row, const char *key)
{
	if (row->len > 1)
		appendBinaryStringInfo(row, ", ", 2);
	appendStringInfoChar(row, '"');
	appendStringInfoString(row, key);
	appendBinaryStringInfo(row, "\": ", 3);
}

static void
append_int64(StringInfo row, int64 value)
{
	char		digits[MAXINT8LEN + 1];

	appendBinaryStringInfo(row, digits, pg_lltoa(value, digits));
}

static void
append_text_field(StringInfo row, const char *key, const char *value)
{
	if (value == NULL)
		return;
	append_key(row, key);
	escape_json(row, value);
}

static void
append_timestamp_field(StringInfo row, const char *key, TimestampTz value)
{
	char		text[MAXDATELEN + 1];

	JsonEncodeDateTime(text, TimestampTzGetDatum(value), TIMESTAMPTZOID, NULL);
	append_key(row, key);
	appendStringInfoChar(row, '"');
	appendStringInfoString(row, text);
	appendStringInfoChar(row, '"');
}

/*
 * JSON that is known to be valid, on one line: the call log holds a row per
 * line.  Outside strings a line break is whitespace; inside one it would
 * be invalid JSON, so every line break is whitespace here.
 */
static void
append_json_field(StringInfo row, const char *key, const char *json)
{
	size_t		span;

	if (json == NULL)
		return;
	append_key(row, key);
	while (*json != '\0')
	{
		span = strcspn(json, "\r\n");
		appendBinaryStringInfo(row, json, (int) span);
		json += span;
		if (*json != '\0')
		{
			appendStringInfoChar(row, ' ');
			json++;
		}
	}
}

/*
 * The whole row as JSON keyed by column name: what the call log keeps, and
 * what jsonb_populate_record reads back on replay.
 */
char *
ocpb_journal_row_json(const OcpbInvocation *invocation)
{
	StringInfoData row;
	int			i;

	initStringInfo(&row);
	appendStringInfoChar(&row, '{');
	append_key(&row, "id");
	append_int64(&row, invocation->id);
	/* Which journal the id is of: the extension may be created again. */
	append_key(&row, "journal");
	append_int64(&row, ocpb_journal_catalog()->journal);
	append_timestamp_field(&row, "started_at", invocation->started_at);
	append_timestamp_field(&row, "finished_at", invocation->finished_at);
	append_text_field(&row, "invoked_by", invocation->invoked_by);
	append_text_field(&row, "server_name", invocation->server_name);
	append_key(&row, "cluster_id");
	append_int64(&row, invocation->cluster_id);
	append_text_field(&row, "backup_mode", invocation->backup_mode);
	append_text_field(&row, "data_mode", invocation->data_mode);
	append_json_field(&row, "request", invocation->request_json);
	if (invocation->http_status != 0)
	{
		append_key(&row, "http_status");
		append_int64(&row, invocation->http_status);
	}
	append_key(&row, "successful");
	appendStringInfoString(&row, invocation->successful ? "true" : "false");
	append_key(&row, "task_ids");
	appendStringInfoChar(&row, '[');
	for (i = 0; i < invocation->n_task_ids; i++)
	{
		if (i > 0)
			appendBinaryStringInfo(&row, ", ", 2);
		append_int64(&row, invocation->task_ids[i]);
	}
	appendStringInfoChar(&row, ']');
	append_text_field(&row, "trace_id", invocation->trace_id);
	append_text_field(&row, "error", invocation->error);
	/* A string: a JSON value would lose its exact text on the way. */
	append_text_field(&row, "response_text", invocation->response_text);
	if (invocation->tenant_id != 0)
	{
		append_key(&row, "tenant_id");
		append_int64(&row, invocation->tenant_id);
	}
	append_key(&row, "outcome_unknown");
	appendStringInfoString(&row, invocation->outcome_unknown ? "true" : "false");
	append_text_field(&row, "ocp_account", invocation->ocp_account);
	append_text_field(&row, "application_name", invocation->application_name);
	if (invocation->backend_pid != 0)
	{
		append_key(&row, "backend_pid");
		append_int64(&row, invocation->backend_pid);
	}
	appendStringInfoChar(&row, '}');
	return row.data;
}

void
ocpb_journal_set_caller(OcpbInvocation *invocation)
{
	if (application_name != NULL && application_name[0] != '\0')
		invocation->application_name = pstrdup(application_name);
	else if (MyBgworkerEntry != NULL && MyBgworkerEntry->bgw_type[0] != '\0')
		invocation->application_name = pstrdup(MyBgworkerEntry->bgw_type);
	else
		invocation->application_name = NULL;
	invocation->backend_pid = MyProcPid;
}

void
ocpb_journal_set_response(OcpbInvocation *invocation, const char *body,
						  size_t body_len, bool is_json)
{
	invocation->response_text = is_json && ocpb_json_takes(body, body_len) ?
		pnstrdup(body, body_len) : NULL;
}

/*
 * The request as the journal keeps it: the body sent, with the secrets of
 * the storage object masked.
 */
void
ocpb_journal_set_request(OcpbInvocation *invocation, Jsonb *storage,
						 const char *body_sent, OcpbSecretList *secrets)
{
	Jsonb	   *masked = ocpb_mask_secrets(storage, secrets);
	OcpbBackupNowRequest request;
	size_t		len;
	char	   *body;

	invocation->request_json = body_sent;
	if (masked == NULL)
		return;
	request.cluster_id = invocation->cluster_id;
	request.tenant_id = invocation->tenant_id;
	request.backup_mode = invocation->backup_mode;
	request.data_mode = invocation->data_mode;
	request.storage_json = JsonbToCString(NULL, &masked->root, VARSIZE(masked));
	body = ocpb_backup_now_body(&request, &len);
	if (body == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	invocation->request_json = pnstrdup(body, len);
	free(body);
}
