/*
 * args.c - checks the arguments of ocp_backup_now before anything is sent.
 *
 * OCP answers a malformed request with a validation error only after the
 * round trip, and some OCP versions start work before they notice; catching
 * what we can here gives the user a precise message at no cost.
 */
#include "args.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const backup_modes[] = {"LOGICAL_BACKUP", "PHYSICAL_BACKUP", NULL};
static const char *const data_modes[] = {"FULL_BACKUP", "INCREMENTAL_BACKUP", NULL};
static const char *const storage_types[] = {
	"BACKUP_STORAGE_FILE", "BACKUP_STORAGE_OSS",
	"BACKUP_STORAGE_COS", "BACKUP_STORAGE_S3", NULL
};

static bool
is_one_of(const char *value, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
	{
		if (strcmp(value, *allowed) == 0)
			return true;
	}
	return false;
}

bool
ocpb_is_backup_mode(const char *value)
{
	return is_one_of(value, backup_modes);
}

bool
ocpb_is_data_mode(const char *value)
{
	return is_one_of(value, data_modes);
}

static const char *
json_type_name(const cJSON *item)
{
	if (cJSON_IsObject(item))
		return "an object";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
	return "null";
}

/*
 * Finds key in object, which must have the wanted type; otherwise describes
 * the mismatch under the dotted name of the key.
 */
static const cJSON *
member_of_type(const cJSON *object, const char *where, const char *key,
			   cJSON_bool (*is_type) (const cJSON *), const char *type_name,
			   char *problem, size_t problem_size)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	if (item == NULL)
		snprintf(problem, problem_size, "%s has no \"%s\" key", where, key);
	else if (!is_type(item))
		snprintf(problem, problem_size, "%s.%s must be %s, not %s",
				 where, key, type_name, json_type_name(item));
	else
		return item;
	return NULL;
}

static bool
check_base_info(const cJSON *base_info, char *problem, size_t problem_size)
{
	const char *where = "storage.obBackupStorageBaseInfo";
	const cJSON *type;

	type = member_of_type(base_info, where, "backupStorageType",
						  cJSON_IsString, "a string", problem, problem_size);
	if (type == NULL)
		return false;
	if (!is_one_of(type->valuestring, storage_types))
	{
		snprintf(problem, problem_size,
				 "%s.backupStorageType \"%.64s\" is not one of " OCPB_STORAGE_TYPES,
				 where, type->valuestring);
		return false;
	}
	return member_of_type(base_info, where, "storageUrl",
						  cJSON_IsString, "a string",
						  problem, problem_size) != NULL;
}

static bool
check_storage_object(const cJSON *storage, char *problem, size_t problem_size)
{
	const cJSON *base_info;

	if (!cJSON_IsObject(storage))
	{
		snprintf(problem, problem_size, "storage must be a JSON object, not %s",
				 json_type_name(storage));
		return false;
	}
	if (member_of_type(storage, "storage", "configName", cJSON_IsString,
					   "a string", problem, problem_size) == NULL)
		return false;
	base_info = member_of_type(storage, "storage", "obBackupStorageBaseInfo",
							   cJSON_IsObject, "an object",
							   problem, problem_size);
	if (base_info == NULL)
		return false;
	return check_base_info(base_info, problem, problem_size);
}

bool
ocpb_check_storage(const char *storage_json, char *problem, size_t problem_size)
{
	cJSON	   *storage;
	bool		ok;

	problem[0] = '\0';
	storage = cJSON_Parse(storage_json);
	if (storage == NULL)
	{
		/* The caller hands us jsonb's output, so only memory can fail here. */
		return false;
	}
	ok = check_storage_object(storage, problem, problem_size);
	cJSON_Delete(storage);
	return ok;
}
