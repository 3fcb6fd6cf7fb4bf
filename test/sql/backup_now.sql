--
-- backup_now: the call end to end; each scenario checks the rows, the
-- journal row, and what the simulator received on the wire.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
\set storage '{"configName": "ycnfs223_0915", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'

SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600}');

-- A full physical backup of cluster 8.
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM journal();
SELECT request, response -> 'data' AS response_data FROM ocp_backup.invocation ORDER BY id DESC LIMIT 1;
SELECT * FROM sim_wire();
-- The exact bytes of the body: the storage object as given, unknown keys included.
SELECT body FROM sim_wire();
-- The journal's request is that body (no secret in it to mask).
SELECT request = (SELECT body::jsonb FROM sim_wire()) AS journal_request_is_the_body
  FROM ocp_backup.invocation ORDER BY id DESC LIMIT 1;
SELECT r -> 'headers' ->> 'host' = regexp_replace((SELECT url FROM sim), '^http://', '') AS host_as_signed,
       r -> 'headers' ->> 'authorization' AS authorization,
       r -> 'headers' ->> 'accept-language' AS accept_language,
       r -> 'headers' ? 'expect' AS sent_expect
  FROM sim_requests() r;

-- A second backup while the first runs: OCP refuses that object inside an
-- HTTP 200; the call returns a row saying so and warns.
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600}');
SELECT task_id FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'INCREMENTAL_BACKUP', :'storage');
SELECT * FROM journal(2);
SELECT method, path, body::jsonb ->> 'dataBackupMode' AS data_mode FROM sim_wire();

-- OCP may answer for another cluster than asked (the sample of OCP's
-- documentation answers 1000005 for 8): rows report what OCP returned.
SELECT sim_reset();
SELECT sim_fault('{"kind": "raw", "path": "backupNow", "body": "{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":1000005}],\"taskIdList\":[3000041]}],\"obBackupTaskType\":\"DATA_BACKUP_NOW\"},\"duration\":51,\"server\":\"a83ad33525\",\"status\":200,\"successful\":true,\"timestamp\":\"2021-09-07T14:51:41.135+08:00\",\"traceId\":\"5962f337662d4043\"}"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM journal();

-- Task ids beyond 2^53 arrive as strings and keep every digit.
SELECT sim_reset();
SELECT sim_config('{"task_ids_as_strings": true, "task_id_base": 9007199254740993}');
SELECT cluster_id, task_id, successful FROM ocp_backup_now(11, 'LOGICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT task_ids, response #> '{data,backupObjectOpsResultList,0,taskIdList}' AS sent_as
  FROM ocp_backup.invocation ORDER BY id DESC LIMIT 1;

-- Several result objects and tasks: one row per task id per object.
SELECT sim_reset();
SELECT sim_fault('{"kind": "raw", "path": "backupNow", "body": "{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,\"obBackupObjectList\":[{\"backupDimension\":\"TENANT\",\"clusterId\":8,\"tenantId\":1002}],\"taskIdList\":[\"41\",42]},{\"beSuccessful\":false,\"errorCode\":\"OBE11020\",\"hint\":\"The last operation and maintenance task of the cluster is still in progress.\",\"obBackupObjectList\":[{\"backupDimension\":\"TENANT\",\"clusterId\":8,\"tenantId\":1004}]}]},\"status\":200,\"successful\":true,\"traceId\":\"00000000000000aa\"}"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM journal();

-- Object-store secrets go to OCP but never into the journal.
SELECT sim_reset();
SELECT task_id IS NOT NULL AS started FROM ocp_backup_now(12, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "oss1", "storageId": 26, "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_OSS", "storageUrl": "bucket/ob", "ossAccessKey": {"endpoint": "oss.example", "accessKeyId": "AKID", "accessKeySecret": "very-secret-1"}}, "extra": {"Password": "very-secret-2", "securityToken": ["very-secret-3"]}}');
SELECT body::jsonb #>> '{obBackupServiceStorageConfig,obBackupStorageBaseInfo,ossAccessKey,accessKeySecret}' AS sent_secret
  FROM sim_wire();
SELECT request -> 'obBackupServiceStorageConfig' AS journaled_storage
  FROM ocp_backup.invocation ORDER BY id DESC LIMIT 1;
SELECT count(*) AS rows_with_secrets FROM ocp_backup.invocation
 WHERE request::text ~ 'very-secret' OR coalesce(error, '') ~ 'very-secret';

-- Many calls in one session share one kept-alive connection.
SELECT sim_reset();
SELECT count(*) AS tasks FROM generate_series(101, 110) c,
       LATERAL ocp_backup_now(c, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT count(*) AS requests, count(DISTINCT r ->> 'conn') AS connections FROM sim_requests() r;
-- Changing the user mapping drops the cached connection.
ALTER USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (SET password 'admin');
SELECT count(*) AS tasks FROM ocp_backup_now(111, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT count(*) AS requests, count(DISTINCT r ->> 'conn') AS connections FROM sim_requests() r;

-- Rows come back inside a transaction as usual; the journal row is part of it.
BEGIN;
SELECT successful FROM ocp_backup_now(13, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT cluster_id, successful FROM journal();
COMMIT;

-- The largest ids round-trip exactly: the request, OCP's echo (a JSON
-- number beyond 2^53), the rows and the journal.  (Task ids of their own:
-- the journal knows those the simulator gave out above.)
SELECT sim_reset();
SELECT sim_config('{"task_id_base": 7000001}');
SELECT cluster_id, tenant_id, backup_dimension, successful, task_id IS NOT NULL AS has_task
  FROM ocp_backup_now(9223372036854775807, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage',
                      tenant_id => 9223372036854775807);
SELECT path, body::jsonb -> 'obBackupObject' AS sent FROM sim_wire();
SELECT request = (SELECT body::jsonb FROM sim_wire()) AS journal_request_is_the_body
  FROM ocp_backup.invocation ORDER BY id DESC LIMIT 1;
SELECT i.cluster_id, i.tenant_id, cardinality(i.task_ids) AS tasks,
       i.response #> '{data,backupObjectOpsResultList,0,obBackupObjectList,0}' AS answered,
       (SELECT count(*) FROM ocp_backup.task t WHERE t.invocation_id = i.id) AS task_rows
  FROM ocp_backup.invocation i ORDER BY i.id DESC LIMIT 1;

DROP SERVER ocp CASCADE;
