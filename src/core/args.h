/*
 * args.h - checks the arguments of ocp_backup_now before anything is sent.
 *
 * Pure C over cJSON: no PostgreSQL headers.  A check that fails writes one
 * sentence saying what is wrong into the caller's buffer.
 */
#ifndef OCPB_ARGS_H
#define OCPB_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* The valid values, as one string for error messages. */
#define OCPB_BACKUP_MODES "LOGICAL_BACKUP, PHYSICAL_BACKUP"
#define OCPB_DATA_MODES "FULL_BACKUP, INCREMENTAL_BACKUP"
#define OCPB_STORAGE_TYPES \
	"BACKUP_STORAGE_FILE, BACKUP_STORAGE_OSS, BACKUP_STORAGE_COS, BACKUP_STORAGE_S3"

extern bool ocpb_is_backup_mode(const char *value);
extern bool ocpb_is_data_mode(const char *value);

/*
 * Checks that storage_json is the obBackupServiceStorageConfig object OCP
 * needs: a string configName and an obBackupStorageBaseInfo object with a
 * known backupStorageType and a string storageUrl.  Other keys are OCP's
 * business and pass untouched.  Returns false, with the reason in problem,
 * when it is not; a problem of "" means memory ran out.
 */
extern bool ocpb_check_storage(const char *storage_json,
							   char *problem, size_t problem_size);

#endif
