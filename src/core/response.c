/*
 * response.c - turns OCP's answers into plain C structs.
 *
 * OCP's JSON is read leniently (ids as numbers or digit strings, error codes
 * as numbers or strings, unknown fields ignored) but never trusted: a body
 * of the wrong shape yields a problem sentence instead of a crash, so that
 * the caller can report it with the HTTP status it came with.
 */
#include "response.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "scrub.h"

/* Integers a double holds exactly; OCP sends larger ids as strings. */
#define MAX_EXACT_JSON_INTEGER 9007199254740991.0

#define ARENA_CHUNK_SIZE 4096

/* Every allocation starts on this boundary, enough for any scalar. */
#define ARENA_ALIGN 16

typedef struct ArenaChunk
{
	struct ArenaChunk *next;
	size_t		used;
	size_t		size;
} ArenaChunk;

#define CHUNK_HEADER_SIZE \
	((sizeof(ArenaChunk) + ARENA_ALIGN - 1) & ~((size_t) ARENA_ALIGN - 1))
#define CHUNK_DATA(chunk) ((char *) (chunk) + CHUNK_HEADER_SIZE)

struct OcpbArena
{
	ArenaChunk *chunks;
};

static void *
arena_alloc(OcpbArena *arena, size_t size)
{
	ArenaChunk *chunk = arena->chunks;
	size_t		aligned = (size + ARENA_ALIGN - 1) & ~((size_t) ARENA_ALIGN - 1);

	if (chunk == NULL || chunk->size - chunk->used < aligned)
	{
		size_t		chunk_size = aligned > ARENA_CHUNK_SIZE ? aligned : ARENA_CHUNK_SIZE;

		chunk = malloc(CHUNK_HEADER_SIZE + chunk_size);
		if (chunk == NULL)
			return NULL;
		chunk->next = arena->chunks;
		chunk->used = 0;
		chunk->size = chunk_size;
		arena->chunks = chunk;
	}
	chunk->used += aligned;
	return CHUNK_DATA(chunk) + chunk->used - aligned;
}

static void
arena_free(OcpbArena *arena)
{
	ArenaChunk *chunk;

	if (arena == NULL)
		return;
	chunk = arena->chunks;
	while (chunk != NULL)
	{
		ArenaChunk *next = chunk->next;

		free(chunk);
		chunk = next;
	}
	free(arena);
}

static const char *
arena_strdup(OcpbArena *arena, const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy = arena_alloc(arena, len);

	if (copy != NULL)
		memcpy(copy, s, len);
	return copy;
}

/*
 * The parse state.  Running out of memory is recorded once, here, instead of
 * being checked after every copy: the result is discarded anyway.
 */
typedef struct Parse
{
	OcpbArena  *arena;
	bool		out_of_memory;
	char	   *problem;
	const OcpbMasker *masker;	/* secrets to mask in the strings read */
} Parse;

/*
 * A string read from the answer, with the caller's secrets masked: the
 * answer was parsed as OCP sent it, so a secret equal to one of its keys or
 * numbers cannot change how it reads; only the text kept is masked.
 */
static const char *
copy_string(Parse *parse, const char *s)
{
	const char *copy;
	char	   *masked;

	if (ocpb_masker_is_empty(parse->masker))
		copy = arena_strdup(parse->arena, s);
	else if ((masked = ocpb_mask_text(parse->masker, s, strlen(s), NULL)) == NULL)
		copy = NULL;
	else
	{
		copy = arena_strdup(parse->arena, masked);
		free(masked);
	}
	if (copy == NULL)
		parse->out_of_memory = true;
	return copy;
}

static void *
alloc_array(Parse *parse, size_t count, size_t size)
{
	void	   *array;

	if (count == 0)
		return NULL;
	array = arena_alloc(parse->arena, count * size);
	if (array == NULL)
		parse->out_of_memory = true;
	return array;
}

static bool set_problem(Parse *parse, const char *format,...)
			__attribute__((format(printf, 2, 3)));

/* Records the first problem only: it is the one that explains the others. */
static bool
set_problem(Parse *parse, const char *format,...)
{
	va_list		args;

	if (parse->problem[0] == '\0')
	{
		va_start(args, format);
		vsnprintf(parse->problem, OCPB_PROBLEM_SIZE, format, args);
		va_end(args);
	}
	return false;
}

bool
ocpb_parse_id_text(const char *text, long long *id)
{
	const char *p;
	char	   *end;
	long long	value;

	if (text[0] == '\0')
		return false;
	for (p = text; *p != '\0'; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
	}
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*id = value;
	return true;
}

/* Reads exactly count digits at *p, advancing it. */
static bool
read_digits(const char **p, int count, int *value)
{
	*value = 0;
	for (; count > 0; count--, (*p)++)
	{
		if (**p < '0' || **p > '9')
			return false;
		*value = *value * 10 + (**p - '0');
	}
	return true;
}

static bool
expect_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Days from 1970-01-01 to a proleptic Gregorian date. */
static long long
days_from_civil(int year, int month, int day)
{
	int			era;
	int			year_of_era;
	int			day_of_year;
	int			day_of_era;

	year -= month <= 2;
	era = (year >= 0 ? year : year - 399) / 400;
	year_of_era = year - era * 400;
	day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	return (long long) era * 146097 + day_of_era - 719468;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[month - 1] + (month == 2 && leap);
}

/* The zone offset in seconds: Z, +HH, +HHMM or +HH:MM. */
static bool
read_zone(const char **p, int *offset_seconds)
{
	int			sign;
	int			hours;
	int			minutes = 0;

	if (expect_char(p, 'Z'))
	{
		*offset_seconds = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!read_digits(p, 2, &hours))
		return false;
	if (**p != '\0')
	{
		(void) expect_char(p, ':');
		if (!read_digits(p, 2, &minutes))
			return false;
	}
	if (hours > 23 || minutes > 59)
		return false;
	*offset_seconds = sign * (hours * 3600 + minutes * 60);
	return true;
}

bool
ocpb_parse_ocp_time(const char *text, long long *unix_us)
{
	const char *p = text;
	int			year, month, day, hour, minute, second;
	int			offset;
	long long	fraction_us = 0;
	long long	scale = 100000;

	if (!read_digits(&p, 4, &year) || !expect_char(&p, '-') ||
		!read_digits(&p, 2, &month) || !expect_char(&p, '-') ||
		!read_digits(&p, 2, &day) || !expect_char(&p, 'T') ||
		!read_digits(&p, 2, &hour) || !expect_char(&p, ':') ||
		!read_digits(&p, 2, &minute) || !expect_char(&p, ':') ||
		!read_digits(&p, 2, &second))
		return false;
	/* Second 60 is a leap second, which OCP's Java clock never writes. */
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
		hour > 23 || minute > 59 || second > 59)
		return false;
	if (expect_char(&p, '.'))
	{
		const char *start = p;

		for (; *p >= '0' && *p <= '9'; p++)
		{
			fraction_us += (*p - '0') * scale;
			scale /= 10;
		}
		if (p == start || p - start > 9)
			return false;
	}
	if (!read_zone(&p, &offset) || *p != '\0')
		return false;
	*unix_us = ((days_from_civil(year, month, day) * 86400 +
				 hour * 3600 + minute * 60 + second - offset) * 1000000LL) +
		fraction_us;
	return true;
}

/* An id as a JSON number within the exact range, or as a digit string. */
static bool
read_id(const cJSON *item, long long *id)
{
	if (cJSON_IsString(item))
		return ocpb_parse_id_text(item->valuestring, id);
	if (cJSON_IsNumber(item))
	{
		double		value = item->valuedouble;

		if (value < 0 || value > MAX_EXACT_JSON_INTEGER || value != floor(value))
			return false;
		*id = (long long) value;
		return true;
	}
	return false;
}

/* A code OCP sends as a number or a string, kept as text. */
static const char *
read_code(Parse *parse, const cJSON *item)
{
	char		number[32];

	if (cJSON_IsString(item))
		return copy_string(parse, item->valuestring);
	if (cJSON_IsNumber(item) && item->valuedouble == floor(item->valuedouble) &&
		fabs(item->valuedouble) <= MAX_EXACT_JSON_INTEGER)
	{
		snprintf(number, sizeof(number), "%lld", (long long) item->valuedouble);
		return copy_string(parse, number);
	}
	return NULL;
}

/* A string member, or NULL when absent or of another type. */
static const char *
optional_string(Parse *parse, const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	if (!cJSON_IsString(item))
		return NULL;
	return copy_string(parse, item->valuestring);
}

static void
read_error_object(Parse *parse, const cJSON *error, OcpbEnvelope *envelope)
{
	if (!cJSON_IsObject(error))
		return;
	envelope->error_code =
		read_code(parse, cJSON_GetObjectItemCaseSensitive(error, "code"));
	envelope->error_message = optional_string(parse, error, "message");
	envelope->debug_message = optional_string(parse, error, "debugMessage");
}

/*
 * Reads the envelope fields of root.  Returns its data member when the
 * envelope says the call succeeded, NULL otherwise.
 */
static const cJSON *
read_envelope(Parse *parse, const cJSON *root, OcpbEnvelope *envelope)
{
	const cJSON *successful;
	const cJSON *error;

	envelope->is_json = true;
	if (!cJSON_IsObject(root))
	{
		set_problem(parse, "the body is JSON but not an object");
		return NULL;
	}
	successful = cJSON_GetObjectItemCaseSensitive(root, "successful");
	error = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (!cJSON_IsBool(successful) && !cJSON_IsObject(error))
	{
		set_problem(parse, "the body is JSON but not an OCP envelope (no \"successful\" field)");
		return NULL;
	}
	envelope->is_envelope = true;
	envelope->successful = cJSON_IsTrue(successful) && !cJSON_IsObject(error);
	envelope->trace_id = optional_string(parse, root, "traceId");
	read_error_object(parse, error, envelope);
	if (!envelope->successful)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(root, "data");
}

/*
 * An id OCP echoes from the request: beyond 2^53 a JSON number is rounded
 * (9223372036854775807 reads as 2^63), so one that is the id asked for,
 * rounded the same way, is taken to be that id; any other is refused.
 */
static bool
read_echoed_id(const cJSON *item, bool asked, long long asked_id, long long *id)
{
	if (read_id(item, id))
		return true;
	if (!asked || !cJSON_IsNumber(item) || item->valuedouble != (double) asked_id)
		return false;
	*id = asked_id;
	return true;
}

static bool
read_backup_object(Parse *parse, const cJSON *item, const OcpbBackupObject *asked,
				   OcpbBackupObject *object)
{
	const cJSON *cluster_id;
	const cJSON *tenant_id;

	if (!cJSON_IsObject(item))
		return set_problem(parse, "an obBackupObjectList entry is not an object");
	cluster_id = cJSON_GetObjectItemCaseSensitive(item, "clusterId");
	tenant_id = cJSON_GetObjectItemCaseSensitive(item, "tenantId");
	if (cluster_id != NULL && !cJSON_IsNull(cluster_id))
	{
		if (!read_echoed_id(cluster_id, asked && asked->has_cluster_id,
							asked ? asked->cluster_id : 0, &object->cluster_id))
			return set_problem(parse, "an obBackupObjectList entry has an invalid clusterId");
		object->has_cluster_id = true;
	}
	if (tenant_id != NULL && !cJSON_IsNull(tenant_id))
	{
		if (!read_echoed_id(tenant_id, asked && asked->has_tenant_id,
							asked ? asked->tenant_id : 0, &object->tenant_id))
			return set_problem(parse, "an obBackupObjectList entry has an invalid tenantId");
		object->has_tenant_id = true;
	}
	object->dimension = optional_string(parse, item, "backupDimension");
	return true;
}

/* An optional array member: absent and null read as empty. */
static bool
optional_array(Parse *parse, const cJSON *object, const char *key,
			   const cJSON **array)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	*array = NULL;
	if (item == NULL || cJSON_IsNull(item))
		return true;
	if (!cJSON_IsArray(item))
		return set_problem(parse, "%s is not an array", key);
	*array = item;
	return true;
}

static bool
read_backup_objects(Parse *parse, const cJSON *entry, const OcpbBackupObject *asked,
					OcpbBackupResult *result)
{
	const cJSON *list;
	const cJSON *item;
	OcpbBackupObject *objects;
	size_t		i = 0;

	if (!optional_array(parse, entry, "obBackupObjectList", &list) || list == NULL)
		return parse->problem[0] == '\0';
	result->n_objects = (size_t) cJSON_GetArraySize(list);
	objects = alloc_array(parse, result->n_objects, sizeof(OcpbBackupObject));
	if (objects == NULL)
		return result->n_objects == 0;
	memset(objects, 0, result->n_objects * sizeof(OcpbBackupObject));
	cJSON_ArrayForEach(item, list)
	{
		if (!read_backup_object(parse, item, asked, &objects[i++]))
			return false;
	}
	result->objects = objects;
	return true;
}

static bool
read_task_ids(Parse *parse, const cJSON *entry, OcpbBackupResult *result)
{
	const cJSON *list;
	const cJSON *item;
	long long  *task_ids;
	size_t		i = 0;

	if (!optional_array(parse, entry, "taskIdList", &list) || list == NULL)
		return parse->problem[0] == '\0';
	result->n_task_ids = (size_t) cJSON_GetArraySize(list);
	task_ids = alloc_array(parse, result->n_task_ids, sizeof(long long));
	if (task_ids == NULL)
		return result->n_task_ids == 0;
	cJSON_ArrayForEach(item, list)
	{
		if (!read_id(item, &task_ids[i++]))
			return set_problem(parse, "taskIdList holds a value that is not a task id");
	}
	result->task_ids = task_ids;
	return true;
}

static bool
read_backup_result(Parse *parse, const cJSON *entry, const OcpbBackupObject *asked,
				   OcpbBackupResult *result)
{
	const cJSON *successful;

	if (!cJSON_IsObject(entry))
		return set_problem(parse, "a backupObjectOpsResultList entry is not an object");
	successful = cJSON_GetObjectItemCaseSensitive(entry, "beSuccessful");
	if (!cJSON_IsBool(successful))
		return set_problem(parse, "a backupObjectOpsResultList entry has no boolean beSuccessful");
	result->successful = cJSON_IsTrue(successful);
	result->error_code =
		read_code(parse, cJSON_GetObjectItemCaseSensitive(entry, "errorCode"));
	result->hint = optional_string(parse, entry, "hint");
	return read_backup_objects(parse, entry, asked, result) &&
		read_task_ids(parse, entry, result);
}

static void
read_backup_now_data(Parse *parse, const cJSON *data,
					 OcpbBackupNowResponse *response)
{
	const cJSON *list;
	const cJSON *entry;
	OcpbBackupResult *results;
	size_t		i = 0;

	if (!cJSON_IsObject(data))
	{
		set_problem(parse, "the envelope has no data object");
		return;
	}
	list = cJSON_GetObjectItemCaseSensitive(data, "backupObjectOpsResultList");
	if (!cJSON_IsArray(list))
	{
		set_problem(parse, "data has no backupObjectOpsResultList array");
		return;
	}
	response->task_type = optional_string(parse, data, "obBackupTaskType");
	response->n_results = (size_t) cJSON_GetArraySize(list);
	if (response->n_results == 0)
	{
		set_problem(parse, "backupObjectOpsResultList is empty");
		return;
	}
	results = alloc_array(parse, response->n_results, sizeof(OcpbBackupResult));
	if (results == NULL)
		return;
	memset(results, 0, response->n_results * sizeof(OcpbBackupResult));
	cJSON_ArrayForEach(entry, list)
	{
		if (!read_backup_result(parse, entry, response->asked, &results[i++]))
			return;
	}
	response->results = results;
}

/*
 * Whether a string of the body holds the escape \u0000.  cJSON decodes it
 * into a NUL byte, which would silently cut the string short there: the
 * task id "123\u0000x" would read as 123.  An escape is one preceded by an
 * odd number of backslashes.
 */
static bool
has_escaped_nul(const char *body, size_t body_len)
{
	static const char escape[] = "u0000";
	size_t		i;
	size_t		backslashes = 0;

	for (i = 0; i < body_len; i++)
	{
		if (body[i] == '\\')
		{
			backslashes++;
			continue;
		}
		if (backslashes % 2 == 1 && body_len - i >= sizeof(escape) - 1 &&
			memcmp(body + i, escape, sizeof(escape) - 1) == 0)
			return true;
		backslashes = 0;
	}
	return false;
}

/* Parses body into a cJSON tree; NULL with the problem set when it is not JSON. */
static cJSON *
parse_json(Parse *parse, const char *body, size_t body_len)
{
	cJSON	   *root;
	const char *end = NULL;

	if (body == NULL || body_len == 0)
	{
		set_problem(parse, "the body is empty");
		return NULL;
	}
	if (has_escaped_nul(body, body_len))
	{
		set_problem(parse, "the body holds a NUL character (\\u0000) in a string");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(body, body_len, &end, 0);
	if (root != NULL)
	{
		/* One JSON value and nothing after it but white space. */
		while (end < body + body_len && strchr(" \t\r\n", *end) != NULL && *end != '\0')
			end++;
		if (end != body + body_len)
		{
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (root == NULL)
		set_problem(parse, "the body is not JSON");
	return root;
}

/* Reads what follows the envelope of a successful answer into target. */
typedef void (*DataReader) (Parse *parse, const cJSON *data, void *target);

/*
 * The steps every answer shares: parse the JSON, read the envelope, and,
 * when it says the call succeeded, hand its data to read_data.  Returns the
 * arena holding everything read, or NULL when memory ran out (then nothing
 * is left to free).
 */
static OcpbArena *
parse_answer(const char *body, size_t body_len, const OcpbMasker *masker,
			 OcpbEnvelope *envelope, DataReader read_data, void *target)
{
	Parse		parse;
	cJSON	   *root;
	const cJSON *data;

	memset(envelope, 0, sizeof(*envelope));
	parse.arena = calloc(1, sizeof(OcpbArena));
	if (parse.arena == NULL)
		return NULL;
	parse.out_of_memory = false;
	parse.problem = envelope->problem;
	parse.masker = masker;
	root = parse_json(&parse, body, body_len);
	if (root != NULL)
	{
		data = read_envelope(&parse, root, envelope);
		if (envelope->successful && read_data != NULL)
			read_data(&parse, data, target);
		cJSON_Delete(root);
	}
	if (parse.out_of_memory)
	{
		arena_free(parse.arena);
		return NULL;
	}
	return parse.arena;
}

bool
ocpb_parse_answer(const char *body, size_t body_len, OcpbAnswer *answer)
{
	answer->arena = parse_answer(body, body_len, NULL, &answer->envelope, NULL, NULL);
	return answer->arena != NULL;
}

void
ocpb_answer_free(OcpbAnswer *answer)
{
	arena_free(answer->arena);
	memset(answer, 0, sizeof(*answer));
}

static void
read_backup_now_answer(Parse *parse, const cJSON *data, void *target)
{
	read_backup_now_data(parse, data, target);
}

bool
ocpb_parse_backup_now_response(const char *body, size_t body_len,
							   const OcpbBackupObject *asked, const OcpbMasker *masker,
							   OcpbBackupNowResponse *response)
{
	memset(response, 0, sizeof(*response));
	response->asked = asked;
	response->arena = parse_answer(body, body_len, masker, &response->envelope,
								   read_backup_now_answer, response);
	if (response->arena == NULL)
		return false;
	if (response->envelope.problem[0] != '\0')
	{
		/* A half-read answer must not be mistaken for a usable one. */
		response->results = NULL;
		response->n_results = 0;
	}
	return true;
}

void
ocpb_backup_now_response_free(OcpbBackupNowResponse *response)
{
	arena_free(response->arena);
	memset(response, 0, sizeof(*response));
}

/* An optional time member; a present but unreadable one is a problem. */
static bool
read_time(Parse *parse, const cJSON *object, const char *key, bool *has, long long *us)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	*has = false;
	if (item == NULL || cJSON_IsNull(item))
		return true;
	if (!cJSON_IsString(item) || !ocpb_parse_ocp_time(item->valuestring, us))
		return set_problem(parse, "task field %s is not an OCP date-time", key);
	*has = true;
	return true;
}

static bool
read_optional_id(Parse *parse, const cJSON *object, const char *key,
				 bool *has, long long *id)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	*has = false;
	if (item == NULL || cJSON_IsNull(item))
		return true;
	if (!read_id(item, id))
		return set_problem(parse, "%s is not an id", key);
	*has = true;
	return true;
}

static void
read_subtasks(Parse *parse, const cJSON *data, OcpbTaskInfo *task)
{
	const cJSON *subtasks = cJSON_GetObjectItemCaseSensitive(data, "subtasks");
	const cJSON *subtask;

	if (subtasks == NULL || cJSON_IsNull(subtasks))
		return;
	if (!cJSON_IsArray(subtasks))
	{
		set_problem(parse, "subtasks is not an array");
		return;
	}
	cJSON_ArrayForEach(subtask, subtasks)
	{
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(subtask, "status");

		task->subtasks_total++;
		if (!cJSON_IsString(status))
			continue;
		if (strcmp(status->valuestring, "SUCCESSFUL") == 0)
			task->subtasks_done++;
		else if (strcmp(status->valuestring, "FAILED") == 0 && task->failed_subtask == NULL)
			task->failed_subtask = optional_string(parse, subtask, "name");
	}
}

static void
read_task(Parse *parse, const cJSON *data, OcpbTaskInfo *task)
{
	const cJSON *cluster;
	const cJSON *tenant;
	const cJSON *creator;
	bool		has_id;

	if (!cJSON_IsObject(data))
	{
		set_problem(parse, "the envelope has no data object");
		return;
	}
	if (!read_optional_id(parse, data, "id", &has_id, &task->task_id))
		return;
	task->status = optional_string(parse, data, "status");
	if (!has_id || task->status == NULL)
	{
		set_problem(parse, "the task has no id or no status");
		return;
	}
	task->name = optional_string(parse, data, "name");
	task->type = optional_string(parse, data, "type");
	cluster = cJSON_GetObjectItemCaseSensitive(data, "cluster");
	if (cJSON_IsObject(cluster))
	{
		if (!read_optional_id(parse, cluster, "id", &task->has_cluster_id, &task->cluster_id))
			return;
		task->cluster_name = optional_string(parse, cluster, "name");
	}
	tenant = cJSON_GetObjectItemCaseSensitive(data, "tenant");
	if (cJSON_IsObject(tenant) &&
		!read_optional_id(parse, tenant, "id", &task->has_tenant_id, &task->tenant_id))
		return;
	creator = cJSON_GetObjectItemCaseSensitive(data, "creator");
	if (cJSON_IsObject(creator))
		task->creator = optional_string(parse, creator, "name");
	if (read_time(parse, data, "createTime", &task->has_create_time, &task->create_time_us) &&
		read_time(parse, data, "startTime", &task->has_start_time, &task->start_time_us) &&
		read_time(parse, data, "finishTime", &task->has_finish_time, &task->finish_time_us))
		read_subtasks(parse, data, task);
}

static void
read_task_answer(Parse *parse, const cJSON *data, void *target)
{
	read_task(parse, data, target);
}

bool
ocpb_parse_task_response(const char *body, size_t body_len, OcpbTaskInfo *task)
{
	memset(task, 0, sizeof(*task));
	task->arena = parse_answer(body, body_len, NULL, &task->envelope, read_task_answer, task);
	return task->arena != NULL;
}

void
ocpb_task_info_free(OcpbTaskInfo *task)
{
	arena_free(task->arena);
	memset(task, 0, sizeof(*task));
}

static void
read_list_page(Parse *parse, const cJSON *data, void *target)
{
	OcpbListPage *page = target;
	const cJSON *contents = cJSON_GetObjectItemCaseSensitive(data, "contents");
	const cJSON *paging = cJSON_GetObjectItemCaseSensitive(data, "page");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(paging, "totalPages");

	if (!cJSON_IsObject(data) || !cJSON_IsArray(contents))
	{
		set_problem(parse, "the answer has no list (data.contents)");
		return;
	}
	page->n_contents = cJSON_GetArraySize(contents);
	page->total_pages = 1;
	if (paging == NULL || cJSON_IsNull(paging) || total == NULL || cJSON_IsNull(total))
		return;
	if (!cJSON_IsNumber(total) || total->valuedouble < 0 || total->valuedouble > 1e9 ||
		total->valuedouble != (double) (long long) total->valuedouble)
	{
		set_problem(parse, "data.page.totalPages is not a page count");
		return;
	}
	page->total_pages = (long long) total->valuedouble;
}

bool
ocpb_parse_list_page(const char *body, size_t body_len, OcpbListPage *page)
{
	memset(page, 0, sizeof(*page));
	page->arena = parse_answer(body, body_len, NULL, &page->envelope, read_list_page, page);
	return page->arena != NULL;
}

void
ocpb_list_page_free(OcpbListPage *page)
{
	arena_free(page->arena);
	memset(page, 0, sizeof(*page));
}
