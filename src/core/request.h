/*
 * request.h - the exact bytes of the requests ocp_backup sends.
 *
 * Pure C: no PostgreSQL headers.  Strings returned are malloc'd; NULL means
 * memory ran out.
 */
#ifndef OCPB_REQUEST_H
#define OCPB_REQUEST_H

#include <stddef.h>

/* Large enough for any path built here, with a 20-digit id. */
#define OCPB_PATH_SIZE 96

/*
 * The backupNow body's keys and dimensions: the body is built here, and as
 * jsonb for the journal (journal.c).
 */
#define OCPB_BODY_OBJECT "obBackupObject"
#define OCPB_BODY_CLUSTER_ID "clusterId"
#define OCPB_BODY_TENANT_ID "tenantId"
#define OCPB_BODY_DIMENSION "backupDimension"
#define OCPB_BODY_CLUSTER "CLUSTER"
#define OCPB_BODY_TENANT "TENANT"
#define OCPB_BODY_BACKUP_MODE "backupMode"
#define OCPB_BODY_DATA_MODE "dataBackupMode"
#define OCPB_BODY_STORAGE "obBackupServiceStorageConfig"

typedef struct OcpbBackupNowRequest
{
	long long	cluster_id;
	long long	tenant_id;		/* 0: back up the whole cluster */
	const char *backup_mode;	/* checked by ocpb_is_backup_mode */
	const char *data_mode;		/* checked by ocpb_is_data_mode */
	const char *storage_json;	/* a JSON object, checked by ocpb_check_storage */
} OcpbBackupNowRequest;

/* The cluster's backupNow path, or its tenant's when tenant_id is not 0. */
extern void ocpb_backup_now_path(long long cluster_id, long long tenant_id, char *path);
extern void ocpb_task_path(long long task_id, char *path);

/*
 * The backupNow body.  The storage object is copied byte for byte: OCP
 * versions differ in the fields they take, and re-encoding would round
 * numbers beyond 2^53.
 */
extern char *ocpb_backup_now_body(const OcpbBackupNowRequest *request,
								  size_t *body_len);

#endif
