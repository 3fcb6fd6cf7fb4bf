/*
 * journal_row.h - a call's journal row (OcpbInvocation) and its JSON, the
 * row the call log keeps and the journal's SQL writer reads.
 */
#ifndef OCPB_JOURNAL_ROW_H
#define OCPB_JOURNAL_ROW_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "scrub.h"

typedef struct OcpbInvocation
{
	int64		id;				/* drawn by ocpb_journal_call_in_flight */
	TimestampTz started_at;
	TimestampTz finished_at;
	const char *invoked_by;		/* the calling role, not the journal's owner */
	const char *server_name;
	int64		cluster_id;
	int64		tenant_id;		/* 0: the whole cluster */
	const char *backup_mode;
	const char *data_mode;
	const char *request_json;	/* the body sent, secrets masked */
	int			http_status;	/* 0: no answer came */
	bool		successful;
	const long long *task_ids;
	int			n_task_ids;
	const char *trace_id;		/* NULL when none */
	const char *error;			/* NULL on success */
	const char *response_text;	/* OCP's answer as received, NULL unless
									 * json takes it */
	bool		outcome_unknown;	/* the request may have reached OCP, but
									 * no answer of OCP's was read */
	const char *ocp_account;	/* the username or access key id sent */
	const char *application_name;	/* the caller's, or a background
									 * worker's type; NULL when neither */
	int			backend_pid;	/* the calling backend's */
} OcpbInvocation;

/*
 * What links a call to the session or pg_cron job that made it: the
 * session's application_name, or a background worker's type when it set
 * none (pg_cron's jobs run as "pg_cron"), and the backend's pid.
 */
extern void ocpb_journal_set_caller(OcpbInvocation *invocation);

/*
 * Sets request_json from the storage argument and the body sent, with
 * secrets masked, and adds each masked value to secrets; cluster_id and the
 * modes must be set already.
 */
extern void ocpb_journal_set_request(OcpbInvocation *invocation, Jsonb *storage,
									 const char *body_sent, OcpbSecretList *secrets);

/*
 * Sets response_text from OCP's answer, its exact bytes: NULL unless it is
 * JSON that json takes (valid in the database's encoding, no NUL).
 */
extern void ocpb_journal_set_response(OcpbInvocation *invocation, const char *body,
									  size_t body_len, bool is_json);

/*
 * The whole row as JSON keyed by column name, on one line: what the call
 * log keeps, and what the journal's SQL writer reads.
 */
extern char *ocpb_journal_row_json(const OcpbInvocation *invocation);

#endif
