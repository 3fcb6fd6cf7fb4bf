/*
 * journal.h - records every call that tried to reach OCP in
 * ocp_backup.invocation.
 */
#ifndef OCPB_JOURNAL_H
#define OCPB_JOURNAL_H

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
 * Raises 25006 when the journal cannot be written (read-only transaction,
 * hot standby): a backup must not be triggered without its record.
 */
extern void ocpb_journal_check_writable(const char *function_name);

/*
 * Sets request_json from the storage argument and the body sent, with
 * secrets masked, and adds each masked value to secrets; cluster_id and the
 * modes must be set already.
 */
extern void ocpb_journal_set_request(OcpbInvocation *invocation, Jsonb *storage,
									 const char *body_sent, OcpbSecretList *secrets);

/*
 * Draws the row's id, durably, and logs the row the journal gets if the
 * call never comes back from OCP (a cancel, statement_timeout, the
 * backend's exit, a crash).  Called just before sending.
 */
extern void ocpb_journal_call_in_flight(OcpbInvocation *invocation);

/*
 * Sets response_text from OCP's answer, its exact bytes: NULL unless it is
 * JSON that json takes (valid in the database's encoding, no NUL).
 */
extern void ocpb_journal_set_response(OcpbInvocation *invocation, const char *body,
									  size_t body_len, bool is_json);

/*
 * Whether jsonb takes a JSON text that cJSON read, checked without raising:
 * numeric refuses some numbers, and PostgreSQL some texts cJSON accepts
 * ("01", "1.", \u0000).
 */
extern bool ocpb_jsonb_takes(const char *body, size_t body_len);

/*
 * Logs the call's complete row, which supersedes the one logged before
 * sending, and, when insert is set, writes it and its task rows.  A call
 * that is about to raise is not inserted: its abort hands the log to the
 * journal writer.
 */
extern void ocpb_journal_record_call(const OcpbInvocation *invocation, bool insert);

/*
 * Writes a row given as the JSON that spool.c logs, and its task rows, as
 * the journal's owner; false when a row of its id is there already.
 */
extern bool ocpb_journal_record_jsonb(Jsonb *row);

/*
 * Writes a row logged for a journal since dropped, if its id is beyond
 * what the journal's sequence has handed out, and moves the sequence past
 * it; raises otherwise.
 */
extern void ocpb_journal_adopt_row(Jsonb *row, int64 id);

/* ocp_backup.invocation: what each logged row names as its journal. */
extern Oid	ocpb_journal_oid(void);

/*
 * A function of the ocp_backup schema, by its exact argument types: no
 * search_path takes part, and the caller needs no USAGE on the schema.  The
 * privileged writers, granted to nobody, are called with it through fmgr.
 */
extern Oid	ocpb_extension_function(const char *name, int nargs, const Oid *arg_types);
extern Oid	ocpb_function_in_schema(const char *name, Oid namespace_id, int nargs,
									const Oid *arg_types);

/* The role that owns the journal, which the journal writer runs as. */
extern Oid	ocpb_journal_owner(void);

/*
 * Stores what OCP said of a task in its ocp_backup.task row, if it has one
 * (tasks not started by ocp_backup_now have none).  Times are microseconds
 * since the Unix epoch; absent ones are NULL.
 */
typedef struct OcpbTaskStatus
{
	const char *server_name;	/* the server the task was read through */
	int64		task_id;		/* as asked for, not as OCP's answer says */
	const char *status;
	int			subtasks_total;
	int			subtasks_done;
	const char *failed_subtask;
	bool		has_finish_time;
	TimestampTz finish_time;
} OcpbTaskStatus;

extern void ocpb_journal_task_status(const OcpbTaskStatus *task);

/*
 * The storage object with the values of secret-looking keys and the
 * credentials of URLs replaced by a marker, or NULL when it holds none;
 * each value masked is added to secrets.
 */
extern Jsonb *ocpb_mask_secrets(Jsonb *storage, OcpbSecretList *secrets);

#endif
