/*
 * response.h - turns OCP's answers into plain C structs.
 *
 * Pure C over cJSON: no PostgreSQL headers, no logging.  Everything a parse
 * returns lives in one arena owned by the result and released by its free
 * function, so a caller has exactly one thing to release on every path.
 * The parser trusts nothing: any body, of any bytes, gives a result whose
 * problem field says what was wrong with it.
 */
#ifndef OCPB_RESPONSE_H
#define OCPB_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "scrub.h"

typedef struct OcpbArena OcpbArena;

#define OCPB_PROBLEM_SIZE 200

/* The envelope every OCP JSON answer carries. */
typedef struct OcpbEnvelope
{
	bool		is_json;		/* the body is one JSON value */
	bool		is_envelope;	/* ... and an OCP envelope */
	bool		successful;		/* the envelope's "successful" */
	const char *trace_id;		/* NULL when absent */
	const char *error_code;		/* number or string, as text; NULL if none */
	const char *error_message;
	const char *debug_message;
	/* Why the body cannot be used as an answer; "" when it can. */
	char		problem[OCPB_PROBLEM_SIZE];
} OcpbEnvelope;

/* Any answer, read as far as its envelope. */
typedef struct OcpbAnswer
{
	OcpbEnvelope envelope;
	OcpbArena  *arena;
} OcpbAnswer;

/* Returns false only when memory ran out; else call ocpb_answer_free. */
extern bool ocpb_parse_answer(const char *body, size_t body_len, OcpbAnswer *answer);
extern void ocpb_answer_free(OcpbAnswer *answer);

/* One entry of a result's obBackupObjectList. */
typedef struct OcpbBackupObject
{
	bool		has_cluster_id;
	long long	cluster_id;
	bool		has_tenant_id;
	long long	tenant_id;
	const char *dimension;		/* CLUSTER or TENANT; NULL when absent */
} OcpbBackupObject;

/* One entry of backupObjectOpsResultList. */
typedef struct OcpbBackupResult
{
	bool		successful;		/* beSuccessful */
	const OcpbBackupObject *objects;
	size_t		n_objects;
	const long long *task_ids;
	size_t		n_task_ids;
	const char *error_code;		/* NULL when absent */
	const char *hint;			/* NULL when absent */
} OcpbBackupResult;

typedef struct OcpbBackupNowResponse
{
	OcpbEnvelope envelope;
	/*
	 * The backup object asked for: an echoed id that a JSON number cannot
	 * hold exactly (beyond 2^53) reads as the id asked for when it is that
	 * id, rounded.  NULL: none.
	 */
	const OcpbBackupObject *asked;
	const char *task_type;		/* obBackupTaskType; NULL when absent */
	const OcpbBackupResult *results;
	size_t		n_results;
	OcpbArena  *arena;
} OcpbBackupNowResponse;

/*
 * Parses a backupNow answer, as OCP sent it: every string the result holds
 * has the secrets of masker (NULL: none) masked, after the parse, so that a
 * secret equal to a key, a number or a literal of the answer changes
 * nothing.  Returns false only when memory ran out; then nothing needs
 * freeing.  Otherwise the caller must call ocpb_backup_now_response_free.
 */
extern bool ocpb_parse_backup_now_response(const char *body, size_t body_len,
										   const OcpbBackupObject *asked,
										   const OcpbMasker *masker,
										   OcpbBackupNowResponse *response);
extern void ocpb_backup_now_response_free(OcpbBackupNowResponse *response);

/* GET /api/v2/tasks/instances/{id}: the task and a summary of its subtasks. */
typedef struct OcpbTaskInfo
{
	OcpbEnvelope envelope;
	long long	task_id;
	const char *name;
	const char *status;			/* RUNNING, FAILED, SUCCESSFUL, ... */
	const char *type;
	bool		has_cluster_id;
	long long	cluster_id;
	const char *cluster_name;
	bool		has_tenant_id;
	long long	tenant_id;
	const char *creator;		/* creator.name */
	/* Times in microseconds since the Unix epoch, when present. */
	bool		has_create_time;
	long long	create_time_us;
	bool		has_start_time;
	long long	start_time_us;
	bool		has_finish_time;
	long long	finish_time_us;
	int			subtasks_total;
	int			subtasks_done;	/* subtasks in status SUCCESSFUL */
	const char *failed_subtask; /* name of the first FAILED subtask */
	OcpbArena  *arena;
} OcpbTaskInfo;

/* Returns false only when memory ran out; else call ocpb_task_info_free. */
extern bool ocpb_parse_task_response(const char *body, size_t body_len,
									 OcpbTaskInfo *task);
extern void ocpb_task_info_free(OcpbTaskInfo *task);

/*
 * One page of an OCP list (clusters, tenants, backup jobs, tasks):
 * data.contents[] and data.page.  What the rows hold is read by the SQL that
 * stores them; this is what the client needs to go on paging.
 */
typedef struct OcpbListPage
{
	OcpbEnvelope envelope;
	int			n_contents;		/* rows on this page */
	long long	total_pages;	/* data.page.totalPages; 1 when absent */
	OcpbArena  *arena;
} OcpbListPage;

/* Returns false only when memory ran out; else call ocpb_list_page_free. */
extern bool ocpb_parse_list_page(const char *body, size_t body_len, OcpbListPage *page);
extern void ocpb_list_page_free(OcpbListPage *page);

/*
 * Reads an id that OCP may send as a JSON number or, beyond 2^53, as a
 * string of digits.  Exposed for the unit tests and the fuzzer.
 */
extern bool ocpb_parse_id_text(const char *text, long long *id);

/*
 * Reads an OCP date-time, in either of the forms OCP writes
 * (2021-08-25T15:09:31.74+08:00 and 2021-09-16T17:25:02.993+0800, with 0 to 9
 * fraction digits, or a Z zone), as microseconds since the Unix epoch.
 */
extern bool ocpb_parse_ocp_time(const char *text, long long *unix_us);

#endif
