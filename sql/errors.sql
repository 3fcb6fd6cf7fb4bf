--
-- errors: every way OCP or the network can fail gives a classified
-- SQLSTATE with the facts in the detail.
--
\getenv sim_url OCP_SIM_URL
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', timeout_ms '2000');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
\set call 'SELECT * FROM ocp_backup_now(8, ''PHYSICAL_BACKUP'', ''FULL_BACKUP'', ''{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'')'
SELECT sim_reset();

-- OCP's error envelopes.
SELECT * FROM ocp_backup_now(99, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "envelope", "status": 403, "code": 10002, "message": "Access denied."}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error: OceanBase is busy."}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "envelope", "status": 409, "code": "BAK31001", "message": "Failed to start data backup. Error message: disk full."}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "rate_limit", "reset": 17}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
-- An error envelope inside HTTP 200 is still an error.
SELECT sim_fault('{"kind": "raw", "body": "{\"error\":{\"code\":\"OBE11020\",\"message\":\"The last operation and maintenance task of the cluster is still in progress.\"},\"status\":200,\"successful\":false,\"traceId\":\"00000000000000bb\"}"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- Bodies that are not OCP envelopes: a proxy's HTML, nothing, garbage.
SELECT sim_fault('{"kind": "raw", "status": 502, "content_type": "text/html", "body": "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 503, "body": ""}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "content_type": "text/plain", "body": "OK"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "{\"data\":{\"backupObjectOpsResultList\":[{\"beSucc"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "{\"successful\":true,\"status\":200,\"traceId\":\"00000000000000cc\"}"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,\"taskIdList\":[\"soon\"]}]}}"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "{\"successful\":\"yes\",\"data\":[]}"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "[1,2,3]"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
-- A 404 from something that is not OCP is still 42704, with the body quoted.
SELECT sim_fault('{"kind": "raw", "status": 404, "content_type": "text/html", "body": "<h1>Not Found</h1>"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- An answer over the size cap is cut off, not buffered.
SELECT sim_fault('{"kind": "huge", "bytes": 20000000}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- No answer at all: a hang past timeout_ms, a connection reset.
SELECT sim_fault('{"kind": "hang"}');
SELECT try(:'call');
SELECT sim_fault('{"kind": "close", "bytes": 10}');
SELECT try(:'call');
SELECT sim_fault('{"kind": "reset"}');
SELECT try(:'call');

-- After all that, the same backend's next call works.
SELECT successful, error_code FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- The kept-alive connection of that call is reset once the next request
-- arrives.  libcurl would resend the POST on a fresh connection; the call
-- refuses, since the first one may have started a backup.
SELECT sim_fault('{"kind": "reset"}');
SELECT try(:'call');
SELECT successful, error_code FROM ocp_backup_now(9, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- Every request above reached the simulator once: nothing was resent.
SELECT count(*) AS requests, count(*) FILTER (WHERE r ->> 'method' = 'POST') AS posts
  FROM sim_requests() r;

-- Wrong credentials.
ALTER USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (SET password 'wrong');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
DROP SERVER ocp CASCADE;

-- Nothing listens: connection refused.
CREATE SERVER nowhere FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1');
CREATE USER MAPPING FOR PUBLIC SERVER nowhere OPTIONS (username 'admin', password 'admin');
SELECT try(:'call');
DROP SERVER nowhere CASCADE;
