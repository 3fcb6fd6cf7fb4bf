--
-- errors: every way OCP or the network can fail gives a classified
-- SQLSTATE with the facts in the detail.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
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
SELECT sim_fault('{"kind": "raw", "status": 504, "content_type": "text/html", "body": "<html><body><h1>504 Gateway Time-out</h1></body></html>"}');
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

-- An answer over the size cap is refused on its Content-Length; without
-- one, it is cut off at the cap, not buffered.
SELECT sim_fault('{"kind": "huge", "bytes": 20000000}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "huge", "bytes": 20000000, "length": false}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- A slow answer within timeout_ms is just slow.
SELECT sim_fault('{"kind": "delay", "ms": 300}');
SELECT successful, error_code FROM ocp_backup_now(7, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

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

-- Retries never repeat a request that left: with retries set, a request
-- that was sent and failed (a reset with no answer, a 500) is sent once.
ALTER SERVER ocp OPTIONS (ADD retries '3', ADD retry_backoff_ms '10');
SELECT count(*) AS requests_before FROM sim_requests() \gset
SELECT sim_fault('{"kind": "reset"}');
SELECT try(:'call');
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error."}');
SELECT try(:'call');
SELECT count(*) - :requests_before AS requests_sent FROM sim_requests();
ALTER SERVER ocp OPTIONS (DROP retries, DROP retry_backoff_ms);

-- Wrong credentials.
ALTER USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (SET password 'wrong');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
DROP SERVER ocp CASCADE;

-- Nothing listens: connection refused.
CREATE SERVER nowhere FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1');
CREATE USER MAPPING FOR PUBLIC SERVER nowhere OPTIONS (username 'admin', password 'admin');
SELECT try(:'call');

-- Retries, with backoff, when the request provably never left: 3 attempts
-- wait 50 + 100 ms between them.
ALTER SERVER nowhere OPTIONS (ADD retries '2', ADD retry_backoff_ms '50');
SELECT clock_timestamp() AS t0 \gset
SELECT try(:'call');
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '150 ms' AS backed_off;
-- A cancel ends the wait between attempts.
ALTER SERVER nowhere OPTIONS (SET retries '10', SET retry_backoff_ms '60000');
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '300ms';
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '10 s' AS wait_cancelled;
DROP SERVER nowhere CASCADE;

-- A TLS handshake that fails (https to a plain http port) never sent the
-- request either: each attempt is one more connection, and nothing arrives.
SELECT replace(:'sim_url', 'http://', 'https://') AS sim_url_as_https \gset
CREATE SERVER plain FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url_as_https', retries '2', retry_backoff_ms '10');
CREATE USER MAPPING FOR PUBLIC SERVER plain OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT (c::jsonb ->> 'accepted')::int AS accepted_before FROM sim_call('GET', '/__sim/connections') c \gset
SELECT split_part(t, E'\n', 1) AS error, t LIKE '%Made 3 attempts (retries 2).' AS three_attempts
  FROM try(format('SELECT * FROM ocp_backup_now(8, %L, %L, %L, %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'plain')) t;
-- The control call that reads the count is one more connection.
SELECT (c::jsonb ->> 'accepted')::int - :accepted_before - 1 AS connections,
       (SELECT count(*) FROM sim_requests()) AS requests
  FROM sim_call('GET', '/__sim/connections') c;
DROP SERVER plain CASCADE;
