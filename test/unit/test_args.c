/*
 * test_args.c - argument checks and the exact request bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "request.h"
#include "unit.h"

static const char *
storage_problem(const char *json)
{
	static char problem[256];

	if (ocpb_check_storage(json, problem, sizeof(problem)))
		return NULL;
	return problem;
}

UNIT_TEST(modes)
{
	CHECK(ocpb_is_backup_mode("PHYSICAL_BACKUP"));
	CHECK(ocpb_is_backup_mode("LOGICAL_BACKUP"));
	CHECK(!ocpb_is_backup_mode("physical_backup"));
	CHECK(!ocpb_is_backup_mode(""));
	CHECK(ocpb_is_data_mode("FULL_BACKUP"));
	CHECK(ocpb_is_data_mode("INCREMENTAL_BACKUP"));
	CHECK(!ocpb_is_data_mode("PHYSICAL_BACKUP"));
}

UNIT_TEST(valid_storage)
{
	CHECK_STR(storage_problem("{\"configName\": \"c\", \"obBackupStorageBaseInfo\": "
							  "{\"backupStorageType\": \"BACKUP_STORAGE_FILE\", \"storageUrl\": \"/ob/\"}}"),
			  NULL);
	CHECK_STR(storage_problem("{\"configName\": \"c\", \"x\": [1, {\"y\": null}], \"obBackupStorageBaseInfo\": "
							  "{\"backupStorageType\": \"BACKUP_STORAGE_S3\", \"storageUrl\": \"b/p\", "
							  "\"s3\": {\"region\": \"r\"}}}"),
			  NULL);
}

UNIT_TEST(invalid_storage)
{
	CHECK_STR(storage_problem("[]"), "storage must be a JSON object, not an array");
	CHECK_STR(storage_problem("{}"), "storage has no \"configName\" key");
	CHECK_STR(storage_problem("{\"configName\": 1}"), "storage.configName must be a string, not a number");
	CHECK_STR(storage_problem("{\"configName\": \"c\"}"),
			  "storage has no \"obBackupStorageBaseInfo\" key");
	CHECK_STR(storage_problem("{\"configName\": \"c\", \"obBackupStorageBaseInfo\": {}}"),
			  "storage.obBackupStorageBaseInfo has no \"backupStorageType\" key");
	CHECK_STR(storage_problem("{\"configName\": \"c\", \"obBackupStorageBaseInfo\": "
							  "{\"backupStorageType\": \"TAPE\", \"storageUrl\": \"/\"}}"),
			  "storage.obBackupStorageBaseInfo.backupStorageType \"TAPE\" is not one of "
			  OCPB_STORAGE_TYPES);
	CHECK_STR(storage_problem("{\"configName\": \"c\", \"obBackupStorageBaseInfo\": "
							  "{\"backupStorageType\": \"BACKUP_STORAGE_OSS\", \"storageUrl\": true}}"),
			  "storage.obBackupStorageBaseInfo.storageUrl must be a string, not a boolean");
}

UNIT_TEST(backup_now_path)
{
	char		path[OCPB_PATH_SIZE];

	ocpb_backup_now_path(8, 0, path);
	CHECK_STR(path, "/api/v2/ob/clusters/8/backup/backupNow");
	ocpb_backup_now_path(9223372036854775807LL, 0, path);
	CHECK_STR(path, "/api/v2/ob/clusters/9223372036854775807/backup/backupNow");
	ocpb_backup_now_path(8, 1002, path);
	CHECK_STR(path, "/api/v2/ob/clusters/8/tenants/1002/backup/backupNow");
	ocpb_backup_now_path(9223372036854775807LL, 9223372036854775807LL, path);
	CHECK_STR(path, "/api/v2/ob/clusters/9223372036854775807/tenants/"
			  "9223372036854775807/backup/backupNow");
	ocpb_task_path(3000041, path);
	CHECK_STR(path, "/api/v2/tasks/instances/3000041");
}

UNIT_TEST(backup_now_body_keeps_storage_bytes)
{
	OcpbBackupNowRequest request;
	size_t		len = 0;
	char	   *body;
	const char *storage = "{\"configName\": \"c\", \"storageId\": 123456789012345678901234567890, "
		"\"name\": \"\\u5907\\u4efd\"}";

	request.cluster_id = 8;
	request.tenant_id = 0;
	request.backup_mode = "PHYSICAL_BACKUP";
	request.data_mode = "FULL_BACKUP";
	request.storage_json = storage;
	body = ocpb_backup_now_body(&request, &len);
	CHECK_STR(body,
			  "{\"obBackupObject\":{\"clusterId\":8,\"backupDimension\":\"CLUSTER\"},"
			  "\"backupMode\":\"PHYSICAL_BACKUP\",\"dataBackupMode\":\"FULL_BACKUP\","
			  "\"obBackupServiceStorageConfig\":{\"configName\": \"c\", "
			  "\"storageId\": 123456789012345678901234567890, \"name\": \"\\u5907\\u4efd\"}}");
	CHECK_INT(len, strlen(body));
	free(body);
}

UNIT_TEST(backup_now_body_of_a_tenant)
{
	OcpbBackupNowRequest request;
	size_t		len = 0;
	char	   *body;

	request.cluster_id = 9223372036854775807LL;
	request.tenant_id = 9223372036854775807LL;
	request.backup_mode = "LOGICAL_BACKUP";
	request.data_mode = "INCREMENTAL_BACKUP";
	request.storage_json = "{}";
	body = ocpb_backup_now_body(&request, &len);
	CHECK_STR(body,
			  "{\"obBackupObject\":{\"clusterId\":9223372036854775807,"
			  "\"tenantId\":9223372036854775807,\"backupDimension\":\"TENANT\"},"
			  "\"backupMode\":\"LOGICAL_BACKUP\",\"dataBackupMode\":\"INCREMENTAL_BACKUP\","
			  "\"obBackupServiceStorageConfig\":{}}");
	CHECK_INT(len, strlen(body));
	free(body);
}

int
main(void)
{
	UNIT_RUN(modes);
	UNIT_RUN(valid_storage);
	UNIT_RUN(invalid_storage);
	UNIT_RUN(backup_now_path);
	UNIT_RUN(backup_now_body_keeps_storage_bytes);
	UNIT_RUN(backup_now_body_of_a_tenant);
	UNIT_EXIT();
}
