/*
 * fuzz_response.c - libFuzzer harness for the parsers of OCP's answers.
 *
 * Every parser that reads what OCP (or a proxy in front of it) sends gets the
 * same bytes.  Beyond the sanitizers' own checks, the harness aborts when a
 * result breaks a promise response.h makes to its callers: the shell builds
 * on those promises, so a broken one is a crash or a wrong answer waiting in
 * the backend.
 */
#include "postgres_fe.h"

#include <cjson/cJSON.h>

#include "json_plain.h"
#include "response.h"
#include "../unit/postgres_json.h"

/* Bounds of what any date with a four-digit year and a valid zone can be. */
#define YEAR_0_US (-62167219200LL * 1000000LL)
#define YEAR_10000_US (253402300800LL * 1000000LL)
#define ONE_DAY_US (86400LL * 1000000LL)

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Ids beyond 2^53, which JSON numbers echo rounded. */
static const OcpbBackupObject largest_ids = {
	.has_cluster_id = true, .cluster_id = 9223372036854775807LL,
	.has_tenant_id = true, .tenant_id = 9223372036854775807LL
};

/*
 * Says which promise broke before aborting: the sanitizer report that follows
 * only shows the abort() itself.
 */
#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_response: invariant failed at %s:%d: %s\n", \
					__FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/*
 * strlen rather than a NULL check: an unterminated or freed string then
 * shows up as an ASan report on the very read a caller would make.
 */
static void
check_string(const char *s)
{
	if (s != NULL)
		REQUIRE(strlen(s) < SIZE_MAX);
}

static bool
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_envelope(const OcpbEnvelope *envelope)
{
	/* The problem is printed with %s by the shell: it must end inside its buffer. */
	REQUIRE(memchr(envelope->problem, '\0', OCPB_PROBLEM_SIZE) != NULL);
	check_string(envelope->trace_id);
	check_string(envelope->error_code);
	check_string(envelope->error_message);
	check_string(envelope->debug_message);
	REQUIRE(envelope->is_json || !envelope->is_envelope);
	REQUIRE(envelope->is_envelope || !envelope->successful);
	/* The shell reads an answer without a problem as an OCP envelope. */
	if (envelope->problem[0] == '\0')
		REQUIRE(envelope->is_json && envelope->is_envelope);
	/* Fields of the envelope are only filled from an envelope. */
	if (!envelope->is_envelope)
		REQUIRE(envelope->trace_id == NULL && envelope->error_code == NULL &&
				envelope->error_message == NULL && envelope->debug_message == NULL);
	/* An error object makes an answer a failure, whatever "successful" says. */
	if (envelope->successful)
		REQUIRE(envelope->error_code == NULL && envelope->error_message == NULL &&
				envelope->debug_message == NULL);
}

/*
 * All parsers read the envelope the same way before their own data, so on
 * the same bytes they must agree on it; an envelope problem is the first one
 * recorded, so every parser reports it unchanged.
 */
static void
check_same_envelope(const OcpbEnvelope *answer, const OcpbEnvelope *other)
{
	REQUIRE(answer->is_json == other->is_json);
	REQUIRE(answer->is_envelope == other->is_envelope);
	REQUIRE(answer->successful == other->successful);
	REQUIRE(same_string(answer->trace_id, other->trace_id));
	REQUIRE(same_string(answer->error_code, other->error_code));
	REQUIRE(same_string(answer->error_message, other->error_message));
	REQUIRE(same_string(answer->debug_message, other->debug_message));
	if (answer->problem[0] != '\0')
		REQUIRE(strcmp(answer->problem, other->problem) == 0);
}

static void
check_backup_now(const OcpbBackupNowResponse *r)
{
	size_t		i;
	size_t		j;

	check_envelope(&r->envelope);
	check_string(r->task_type);
	/* A half-read answer must never reach the caller's loops. */
	if (r->envelope.problem[0] != '\0' || !r->envelope.successful)
		REQUIRE(r->results == NULL && r->n_results == 0);
	/* The shell returns one row per result: a usable success has some. */
	if (r->envelope.problem[0] == '\0' && r->envelope.successful)
		REQUIRE(r->results != NULL && r->n_results > 0);
	REQUIRE((r->results == NULL) == (r->n_results == 0));
	for (i = 0; i < r->n_results; i++)
	{
		const OcpbBackupResult *result = &r->results[i];

		check_string(result->error_code);
		check_string(result->hint);
		REQUIRE((result->objects == NULL) == (result->n_objects == 0));
		REQUIRE((result->task_ids == NULL) == (result->n_task_ids == 0));
		for (j = 0; j < result->n_objects; j++)
		{
			const OcpbBackupObject *object = &result->objects[j];

			check_string(object->dimension);
			/* Ids are read as non-negative; a negative one was misread. */
			REQUIRE(!object->has_cluster_id || object->cluster_id >= 0);
			REQUIRE(!object->has_tenant_id || object->tenant_id >= 0);
		}
		for (j = 0; j < result->n_task_ids; j++)
			REQUIRE(result->task_ids[j] >= 0);
	}
}

static void
check_task(const OcpbTaskInfo *t)
{
	check_envelope(&t->envelope);
	check_string(t->name);
	check_string(t->status);
	check_string(t->type);
	check_string(t->cluster_name);
	check_string(t->creator);
	check_string(t->failed_subtask);
	/* Nothing of a failed call may look like a task. */
	if (!t->envelope.successful)
		REQUIRE(t->status == NULL && t->name == NULL && t->subtasks_total == 0);
	/* A usable task is journaled with its status: it must have one. */
	if (t->envelope.problem[0] == '\0' && t->envelope.successful)
		REQUIRE(t->status != NULL && t->task_id >= 0);
	REQUIRE(!t->has_cluster_id || t->cluster_id >= 0);
	REQUIRE(!t->has_tenant_id || t->tenant_id >= 0);
	/* A progress figure like "3/2 subtasks" would be nonsense. */
	REQUIRE(t->subtasks_done >= 0 && t->subtasks_done <= t->subtasks_total);
	REQUIRE(t->failed_subtask == NULL || t->subtasks_total > t->subtasks_done);
}

/* Round trip: an accepted id prints back as its digits, without leading zeros. */
static void
check_id_text(const char *text)
{
	long long	id = -1;
	char		printed[32];
	const char *digits = text;

	if (!ocpb_parse_id_text(text, &id))
		return;
	REQUIRE(id >= 0);
	while (digits[0] == '0' && digits[1] != '\0')
		digits++;
	snprintf(printed, sizeof(printed), "%lld", id);
	REQUIRE(strcmp(printed, digits) == 0);
}

static void
check_ocp_time(const char *text)
{
	long long	us = 0;

	if (!ocpb_parse_ocp_time(text, &us))
		return;
	/* A four-digit year and a zone under a day keep every date in this range. */
	REQUIRE(us >= YEAR_0_US - ONE_DAY_US && us < YEAR_10000_US + ONE_DAY_US);
	/* The shortest accepted form is "YYYY-MM-DDTHH:MM:SSZ". */
	REQUIRE(strlen(text) >= 20);
}

/* text parsed when it is one JSON value, with only white space after it. */
static cJSON *
parse_whole(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON	   *parsed;

	/* cJSON ends a string at a NUL byte, unread: the scrubber reads on. */
	if (memchr(text, '\0', len) != NULL)
		return NULL;
	parsed = cJSON_ParseWithLengthOpts(text, len, &end, false);
	while (parsed != NULL && end < text + len)
		if (strchr(" \t\r\n", *end++) == NULL || end[-1] == '\0')
		{
			cJSON_Delete(parsed);
			parsed = NULL;
		}
	return parsed;
}

/* Whether the len bytes at hay hold needle. */
static bool
holds(const char *hay, size_t len, const char *needle)
{
	size_t		n = strlen(needle);
	size_t		i;

	for (i = 0; n > 0 && i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

/* No string value (keys are OCP's, and kept), at any depth, holds secret. */
static void
check_values_masked(const cJSON *item, const char *secret)
{
	const cJSON *child;

	if (cJSON_IsString(item))
		REQUIRE(!holds(item->valuestring, strlen(item->valuestring), secret));
	cJSON_ArrayForEach(child, item)
		check_values_masked(child, secret);
}

/* Masked or not, the same answer read: only its strings may differ. */
static void
check_same_reading(const OcpbBackupNowResponse *plain, const OcpbBackupNowResponse *masked)
{
	size_t		i;

	REQUIRE(plain->envelope.is_json == masked->envelope.is_json);
	REQUIRE(plain->envelope.is_envelope == masked->envelope.is_envelope);
	REQUIRE(plain->envelope.successful == masked->envelope.successful);
	REQUIRE((plain->envelope.problem[0] == '\0') == (masked->envelope.problem[0] == '\0'));
	REQUIRE(plain->n_results == masked->n_results);
	for (i = 0; i < plain->n_results; i++)
	{
		const OcpbBackupResult *a = &plain->results[i];
		const OcpbBackupResult *b = &masked->results[i];

		REQUIRE(a->successful == b->successful);
		REQUIRE(a->n_task_ids == b->n_task_ids && a->n_objects == b->n_objects);
		REQUIRE(a->n_task_ids == 0 ||
				memcmp(a->task_ids, b->task_ids, a->n_task_ids * sizeof(long long)) == 0);
		REQUIRE((a->error_code == NULL) == (b->error_code == NULL));
		REQUIRE((a->hint == NULL) == (b->hint == NULL));
	}
}

/*
 * The masker, with secrets taken from the body itself (so that they occur
 * in it) and tokens an OCP answer is made of: the strings it leaves hold no
 * secret, JSON stays JSON, and an answer parsed with the masker reads as it
 * does without.
 */
static void
check_masker(const uint8_t *data, size_t size)
{
	static const char *const tokens[] = {
		"data", "taskId", "true", "1", "\"", "\\", "successful", "/", ":", "e"
	};
	OcpbSecretList secrets = {0};
	OcpbMasker *masker;
	OcpbBackupNowResponse plain;
	OcpbBackupNowResponse masked;
	char		slice[16];
	size_t		slice_len = 0;
	size_t		out_len;
	char	   *out;
	cJSON	   *before;
	cJSON	   *after;
	size_t		i;

	if (size >= 3)
	{
		size_t		from = data[0] % size;

		for (; slice_len < 1 + data[1] % 12 && from + slice_len < size; slice_len++)
			slice[slice_len] = (char) data[from + slice_len];
		slice[slice_len] = '\0';
		/* A secret holding '*' could be rebuilt out of a mask and its neighbours. */
		if (strchr(slice, '*') == NULL)
			REQUIRE(ocpb_secret_list_add(&secrets, slice, strlen(slice)));
		REQUIRE(ocpb_secret_list_add(&secrets, tokens[data[2] % (sizeof(tokens) / sizeof(tokens[0]))],
									 SIZE_MAX));
	}

	out = ocpb_scrub_answer((const char *) data, size, &secrets, &out_len);
	REQUIRE(out != NULL && out[out_len] == '\0');
	before = parse_whole((const char *) data, size);
	after = parse_whole(out, out_len);
	if (before != NULL)
	{
		/* JSON stays JSON, and its values hold no secret. */
		REQUIRE(after != NULL);
		REQUIRE(cJSON_IsObject(before) == cJSON_IsObject(after) &&
				cJSON_IsArray(before) == cJSON_IsArray(after));
		for (i = 0; i < secrets.n; i++)
			check_values_masked(after, secrets.values[i]);
	}
	else
		/* Not JSON: no secret is left anywhere. */
		for (i = 0; i < secrets.n; i++)
			REQUIRE(!holds(out, out_len, secrets.values[i]));
	cJSON_Delete(before);
	cJSON_Delete(after);
	free(out);

	masker = ocpb_masker_new(&secrets);
	REQUIRE(masker != NULL);
	out = ocpb_mask_text(masker, (const char *) data, size, &out_len);
	REQUIRE(out != NULL && out[out_len] == '\0');
	for (i = 0; i < secrets.n; i++)
		REQUIRE(!holds(out, out_len, secrets.values[i]));
	free(out);

	/* Parsed as OCP sent it, masked after: the same task ids, outcome and shape. */
	REQUIRE(ocpb_parse_backup_now_response((const char *) data, size, &largest_ids, NULL, &plain));
	REQUIRE(ocpb_parse_backup_now_response((const char *) data, size, &largest_ids, masker, &masked));
	check_same_reading(&plain, &masked);
	for (i = 0; i < secrets.n; i++)
	{
		const char *s = secrets.values[i];

		REQUIRE(masked.envelope.error_message == NULL ||
				!holds(masked.envelope.error_message, strlen(masked.envelope.error_message), s));
		REQUIRE(masked.envelope.debug_message == NULL ||
				!holds(masked.envelope.debug_message, strlen(masked.envelope.debug_message), s));
		REQUIRE(masked.envelope.trace_id == NULL ||
				!holds(masked.envelope.trace_id, strlen(masked.envelope.trace_id), s));
	}
	ocpb_backup_now_response_free(&plain);
	ocpb_backup_now_response_free(&masked);
	ocpb_masker_free(masker);
	ocpb_secret_list_free(&secrets);
}

/*
 * URL masking, of the body read as a URL: masking what it masked changes
 * nothing more, and every value it found is gone from the copy's query.
 */
static void
check_url_masking(const char *text)
{
	OcpbSecretList found = {0};
	OcpbSecretList again = {0};
	bool		masked;
	bool		masked_again;
	char	   *once = ocpb_mask_url_credentials(text, &found, &masked);
	char	   *twice;
	size_t		i;

	REQUIRE(once != NULL);
	/* A value already masked is masked again, into the same text. */
	REQUIRE(masked || strcmp(once, text) == 0);
	twice = ocpb_mask_url_credentials(once, &again, &masked_again);
	REQUIRE(twice != NULL && strcmp(once, twice) == 0);
	for (i = 0; i < again.n; i++)
		REQUIRE(strcmp(again.values[i], "********") == 0);
	free(once);
	free(twice);
	ocpb_secret_list_free(&found);
	ocpb_secret_list_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *) data;
	char	   *text;
	OcpbAnswer	answer;
	OcpbBackupNowResponse backup_now;
	OcpbTaskInfo task;
	OcpbListPage list;

	/*
	 * The body parsers take an explicit length and promise to read any bytes:
	 * they get libFuzzer's buffer as is, which ends exactly at size, so a read
	 * past the body is an ASan report.  A false return means memory ran out,
	 * which cannot happen here: ASan aborts instead of returning NULL.
	 */
	REQUIRE(ocpb_parse_answer(body, size, &answer));
	check_envelope(&answer.envelope);

	REQUIRE(ocpb_parse_backup_now_response(body, size, NULL, NULL, &backup_now));
	check_backup_now(&backup_now);
	check_same_envelope(&answer.envelope, &backup_now.envelope);
	ocpb_backup_now_response_free(&backup_now);
	/* As the shell parses it: with the largest ids asked for. */
	REQUIRE(ocpb_parse_backup_now_response(body, size, &largest_ids, NULL, &backup_now));
	check_backup_now(&backup_now);
	check_same_envelope(&answer.envelope, &backup_now.envelope);
	ocpb_backup_now_response_free(&backup_now);

	REQUIRE(ocpb_parse_task_response(body, size, &task));
	check_task(&task);
	check_same_envelope(&answer.envelope, &task.envelope);
	ocpb_task_info_free(&task);

	REQUIRE(ocpb_parse_list_page(body, size, &list));
	check_envelope(&list.envelope);
	check_same_envelope(&answer.envelope, &list.envelope);
	REQUIRE(list.n_contents >= 0 && list.total_pages >= 0);
	/* A list the shell pages through is one OCP said succeeded. */
	if (list.envelope.problem[0] == '\0' && list.n_contents > 0)
		REQUIRE(list.envelope.successful);
	ocpb_list_page_free(&list);

	ocpb_answer_free(&answer);

	/*
	 * What the journal keeps as JSON without asking PostgreSQL, PostgreSQL
	 * takes (plain JSON nests 64 deep at most: its parser can recurse).
	 */
	if (ocpb_json_is_plain(body, size))
		REQUIRE(postgres_takes(body, size));

	/* The text readers take C strings: give them one, cut at the first NUL. */
	text = malloc(size + 1);
	REQUIRE(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	check_id_text(text);
	check_ocp_time(text);
	check_url_masking(text);
	free(text);
	check_masker(data, size);
	return 0;
}
