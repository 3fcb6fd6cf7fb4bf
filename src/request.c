/*
 * request.c - the exact bytes of the requests ocp_backup sends.
 *
 * Bodies are written with snprintf rather than a JSON library: every value
 * but the storage object comes from a fixed set of names or is an integer,
 * so there is nothing to escape, and the storage object must travel
 * unchanged.
 */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>

#define BACKUP_NOW_BODY_FORMAT \
	"{\"obBackupObject\":{\"clusterId\":%lld,\"backupDimension\":\"CLUSTER\"}," \
	"\"backupMode\":\"%s\",\"dataBackupMode\":\"%s\"," \
	"\"obBackupServiceStorageConfig\":%s}"

void
ocpb_backup_now_path(long long cluster_id, char *path)
{
	snprintf(path, OCPB_PATH_SIZE,
			 "/api/v2/ob/clusters/%lld/backup/backupNow", cluster_id);
}

void
ocpb_task_path(long long task_id, char *path)
{
	snprintf(path, OCPB_PATH_SIZE, "/api/v2/tasks/instances/%lld", task_id);
}

char *
ocpb_backup_now_body(const OcpbBackupNowRequest *request, size_t *body_len)
{
	int			len;
	char	   *body;

	len = snprintf(NULL, 0, BACKUP_NOW_BODY_FORMAT, request->cluster_id,
				   request->backup_mode, request->data_mode,
				   request->storage_json);
	if (len < 0)
		return NULL;
	body = malloc((size_t) len + 1);
	if (body == NULL)
		return NULL;
	snprintf(body, (size_t) len + 1, BACKUP_NOW_BODY_FORMAT,
			 request->cluster_id, request->backup_mode, request->data_mode,
			 request->storage_json);
	*body_len = (size_t) len;
	return body;
}
