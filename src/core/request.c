/*
 * request.c - the exact bytes of the requests ocp_backup sends.
 *
 * Bodies are put together from pieces rather than with a JSON library:
 * every value but the storage object comes from a fixed set of names or is
 * an integer, so there is nothing to escape, and the storage object must
 * travel unchanged.
 */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ocpb_backup_now_path(long long cluster_id, long long tenant_id, char *path)
{
	if (tenant_id != 0)
		snprintf(path, OCPB_PATH_SIZE,
				 "/api/v2/ob/clusters/%lld/tenants/%lld/backup/backupNow",
				 cluster_id, tenant_id);
	else
		snprintf(path, OCPB_PATH_SIZE,
				 "/api/v2/ob/clusters/%lld/backup/backupNow", cluster_id);
}

void
ocpb_task_path(long long task_id, char *path)
{
	snprintf(path, OCPB_PATH_SIZE, "/api/v2/tasks/instances/%lld", task_id);
}

/* Appends src at *out and moves *out past it. */
static void
put(char **out, const char *src, size_t len)
{
	memcpy(*out, src, len);
	*out += len;
}

char *
ocpb_backup_now_body(const OcpbBackupNowRequest *request, size_t *body_len)
{
	static const char object_head[] =
		"{\"" OCPB_BODY_OBJECT "\":{\"" OCPB_BODY_CLUSTER_ID "\":";
	static const char cluster_object[] =
		",\"" OCPB_BODY_DIMENSION "\":\"" OCPB_BODY_CLUSTER "\"";
	static const char tenant_object[] =
		",\"" OCPB_BODY_DIMENSION "\":\"" OCPB_BODY_TENANT "\"";
	static const char backup_mode[] = "},\"" OCPB_BODY_BACKUP_MODE "\":\"";
	static const char data_mode[] = "\",\"" OCPB_BODY_DATA_MODE "\":\"";
	static const char storage[] = "\",\"" OCPB_BODY_STORAGE "\":";
	char		object[112];
	size_t		object_len = request->tenant_id != 0 ?
		(size_t) snprintf(object, sizeof(object), "%lld,\"" OCPB_BODY_TENANT_ID "\":%lld%s",
						  request->cluster_id, request->tenant_id, tenant_object) :
		(size_t) snprintf(object, sizeof(object), "%lld%s",
						  request->cluster_id, cluster_object);
	size_t		backup_mode_len = strlen(request->backup_mode);
	size_t		data_mode_len = strlen(request->data_mode);
	size_t		storage_len = strlen(request->storage_json);
	size_t		len = sizeof(object_head) - 1 + object_len + sizeof(backup_mode) - 1 +
		backup_mode_len + sizeof(data_mode) - 1 + data_mode_len + sizeof(storage) - 1 +
		storage_len + 1;
	char	   *body = malloc(len + 1);
	char	   *out = body;

	if (body == NULL)
		return NULL;
	put(&out, object_head, sizeof(object_head) - 1);
	put(&out, object, object_len);
	put(&out, backup_mode, sizeof(backup_mode) - 1);
	put(&out, request->backup_mode, backup_mode_len);
	put(&out, data_mode, sizeof(data_mode) - 1);
	put(&out, request->data_mode, data_mode_len);
	put(&out, storage, sizeof(storage) - 1);
	put(&out, request->storage_json, storage_len);
	put(&out, "}", 1);
	*out = '\0';
	*body_len = len;
	return body;
}
