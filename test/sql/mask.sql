--
-- mask: what OCP or a gateway echoes is masked wherever it lands (the
-- client's error, the journal, the server log): the user mapping's
-- password, AccessKey secret and Basic header, storage secrets in their
-- re-encoded forms, and the credentials of every URL shape.  A secret equal
-- to a token of OCP's answer does not change how the answer is read.  The
-- statement that carried a storage secret is not logged for an error raised
-- after the function returned.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\getenv ak OCP_SIM_ACCESS_KEY_ID
\getenv sk OCP_SIM_ACCESS_KEY_SECRET
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER mask_basic FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE SERVER mask_aksk FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER mask_basic OPTIONS (username 'operator', password 'op-secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER mask_aksk OPTIONS (access_key_id :'ak', access_key_secret :'sk');
-- What must be found nowhere: in the client's errors, the journal, the log.
CREATE TEMP TABLE leaks (what text, secret text);
INSERT INTO leaks VALUES ('mapping password', 'op-secret'), ('AccessKey secret', :'sk'),
  ('Basic header', encode(convert_to('operator:op-secret', 'UTF8'), 'base64'));
CREATE TEMP TABLE errors_seen (case_name text, error text);
SELECT sim_reset();

-- 1. The mapping's secrets echoed in OCP's error message, and a gateway's
-- text/plain 400 echoing the Authorization header.
SELECT sim_fault(jsonb_build_object('kind', 'envelope', 'status', 401, 'code', 10001,
  'message', 'login failed for operator with password op-secret'));
INSERT INTO errors_seen SELECT 'password echoed', try(format('SELECT * FROM ocp_backup_now(601, %L, %L, %L, %L)',
  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'mask_basic'));
SELECT sim_fault(jsonb_build_object('kind', 'envelope', 'status', 401, 'code', 10001,
  'message', 'signature mismatch: expected secret ' || :'sk'));
INSERT INTO errors_seen SELECT 'AccessKey secret echoed', try(format('SELECT * FROM ocp_backup_now(602, %L, %L, %L, %L)',
  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'mask_aksk'));
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 400, 'content_type', 'text/plain',
  'body', 'Bad request: Authorization: Basic ' || encode(convert_to('operator:op-secret', 'UTF8'), 'base64')));
INSERT INTO errors_seen SELECT 'Basic header echoed', try(format('SELECT * FROM ocp_backup_now(603, %L, %L, %L, %L)',
  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'mask_basic'));
-- The same password in a JSON error: a string value holding it.
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 400, 'body', jsonb_build_object(
  'successful', false, 'status', 400, 'traceId', 'mask-604',
  'error', jsonb_build_object('code', 10001, 'message', 'bad credentials', 'debugMessage', 'user operator:op-secret'))));
INSERT INTO errors_seen SELECT 'password in debugMessage', try(format('SELECT * FROM ocp_backup_now(604, %L, %L, %L, %L)',
  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'mask_basic'));

-- 2. A storage secret echoed percent-encoded, base64-encoded and lower-cased.
\set encoded_storage '{"configName": "enc", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/", "password": "Enc/Sec+ret=9 Z"}}'
INSERT INTO leaks VALUES ('storage secret', 'Enc/Sec+ret=9 Z'), ('percent-encoded', 'Enc%2FSec%2Bret%3D9%20Z'),
  ('percent-encoded, lower hex', 'Enc%2fSec%2bret%3d9%20Z'), ('base64', encode(convert_to('Enc/Sec+ret=9 Z', 'UTF8'), 'base64')),
  ('lower-cased', 'enc/sec+ret=9 z');
SELECT sim_fault(jsonb_build_object('kind', 'envelope', 'status', 400, 'code', 10003,
  'message', 'bad storage Enc%2FSec%2Bret%3D9%20Z / Enc%2fSec%2bret%3d9%20Z / '
             || encode(convert_to('Enc/Sec+ret=9 Z', 'UTF8'), 'base64') || ' / enc/sec+ret=9 z'));
INSERT INTO errors_seen SELECT 'storage secret re-encoded', try(format('SELECT * FROM ocp_backup_now(605, %L, %L, %L, %L)',
  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'encoded_storage', 'mask_basic'));
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 502, 'content_type', 'text/html',
  'body', '<html>gateway: Enc%2FSec%2Bret%3D9%20Z ' || encode(convert_to('Enc/Sec+ret=9 Z', 'UTF8'), 'base64') || '</html>'));
INSERT INTO errors_seen SELECT 'storage secret re-encoded, HTML', try(format('SELECT * FROM ocp_backup_now(606, %L, %L, %L, %L)',
  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'encoded_storage', 'mask_basic'));

-- 3. URL shapes whose credentials must be masked in the request, in OCP's
-- echo and in the journal.
CREATE TEMP TABLE url_shapes (n int, url text, secret text);
INSERT INTO url_shapes VALUES
  (1, 's3://AKID:abc/defSECRET1@bucket/p', 'abc/defSECRET1'),
  (2, 's3://bucket/p?access_key=AK2#SECRET2', 'SECRET2'),
  (3, 's3://bucket/p#frag?access_key=SECRET3', 'SECRET3'),
  (4, 's3://bucket/p?host=h;access_key=SECRET4', 'SECRET4'),
  (5, 's3://TOKEN5SECRET@bucket/p', 'TOKEN5SECRET'),
  (6, 's3://bucket/p?host=h&s3_sk=SECRET6', 'SECRET6'),
  (7, 's3://bucket/p?X-Amz-Signature=SECRET7&x=1', 'SECRET7'),
  (8, 's3://bucket/p?sig=SECRET8', 'SECRET8');
INSERT INTO leaks SELECT 'URL shape ' || n, secret FROM url_shapes;
DO $$
DECLARE
  shape record;
BEGIN
  FOR shape IN SELECT * FROM url_shapes ORDER BY n LOOP
    PERFORM sim_fault('{"kind": "echo"}');
    INSERT INTO errors_seen SELECT 'URL shape ' || shape.n, try(format('SELECT * FROM ocp_backup_now(%s, %L, %L, %L, %L)',
      610 + shape.n, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
      jsonb_build_object('configName', 'u', 'obBackupStorageBaseInfo',
        jsonb_build_object('backupStorageType', 'BACKUP_STORAGE_S3', 'storageUrl', shape.url)), 'mask_basic'));
  END LOOP;
END $$;
-- What the journal keeps of each request's URL.
SELECT journal_writer_caught_up();
SELECT cluster_id - 610 AS shape, request #>> '{obBackupServiceStorageConfig,obBackupStorageBaseInfo,storageUrl}' AS journaled_url
  FROM ocp_backup.invocation WHERE cluster_id BETWEEN 611 AND 618 ORDER BY cluster_id;

-- The echoes were made (the simulator received each secret) ...
SELECT count(DISTINCT l.what) AS secrets_sent FROM sim_requests() r, leaks l
 WHERE l.what LIKE 'URL shape%' AND r ->> 'body' LIKE '%' || l.secret || '%';
-- ... and the errors say what OCP said, masked.
SELECT case_name, error FROM errors_seen ORDER BY case_name;
SELECT l.what, e.case_name
  FROM leaks l JOIN errors_seen e ON position(l.secret IN e.error) > 0 ORDER BY 1, 2;
SELECT l.what, i.cluster_id
  FROM leaks l JOIN ocp_backup.invocation i
    ON position(l.secret IN i.request::text || coalesce(i.response::text, '') || coalesce(i.error, '')) > 0
 WHERE i.cluster_id BETWEEN 601 AND 618 ORDER BY 1, 2;

-- 4. A storage secret equal to a token of OCP's answer: the call reads as
-- it would without the secret (a row per task, the task recorded, the
-- journal row successful with its task), and the journal keeps the answer
-- as OCP sent it.
SELECT sim_reset();
CREATE TEMP TABLE token_secrets (n int, secret jsonb);
-- The simulator numbers tasks from 3000041: the seventh call's is 3000047,
-- and the tenth's, sent as a string of digits, 3000050.
INSERT INTO token_secrets VALUES (1, '"data"'), (2, '"taskId"'), (3, '"622"'), (4, '622'), (5, '"true"'),
  (6, '"successful"'), (7, '"3000047"'), (8, '"backupObjectOpsResultList"'), (9, '"200"'), (10, '"3000050"');
CREATE TEMP TABLE token_rows (n int, cluster_id bigint, successful boolean, task bigint, error_code text);
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM token_secrets ORDER BY n LOOP
    IF t.n = 10 THEN
      PERFORM sim_config('{"task_ids_as_strings": true}');
    END IF;
    INSERT INTO token_rows SELECT t.n, r.cluster_id, r.successful, r.task_id, r.error_code
      FROM ocp_backup_now(622, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
             jsonb_build_object('configName', 'tok', 'obBackupStorageBaseInfo',
               jsonb_build_object('backupStorageType', 'BACKUP_STORAGE_FILE', 'storageUrl', '/obbackup/',
                                  'password', t.secret)), 'mask_basic') r;
    -- The task ends, so that the next call may start one.
    PERFORM sim_post_task_status(r.task, 'SUCCESSFUL') FROM token_rows r WHERE r.n = t.n AND r.task IS NOT NULL;
  END LOOP;
END $$;
SELECT n, cluster_id, successful, task - 3000040 AS task_number, error_code FROM token_rows ORDER BY n;
SELECT s.n, i.successful, i.http_status, i.error, i.task_ids[1] - 3000040 AS task_number,
       EXISTS (SELECT FROM ocp_backup.task t WHERE t.task_id = i.task_ids[1] AND t.server_name = 'mask_basic') AS task_recorded,
       i.response::jsonb ? 'data' AS has_data,
       jsonb_typeof(i.response::jsonb #> '{data,backupObjectOpsResultList,0,taskIdList,0}') AS task_id_type,
       i.response::jsonb #> '{data,backupObjectOpsResultList,0,obBackupObjectList,0,clusterId}' AS cluster_echo,
       i.response::jsonb -> 'successful' AS envelope_successful
  FROM token_secrets s
  JOIN LATERAL (SELECT * FROM ocp_backup.invocation WHERE cluster_id = 622 ORDER BY id OFFSET s.n - 1 LIMIT 1) i ON true
 ORDER BY s.n;

-- 5. The statement that carried a storage secret is not logged for an
-- error raised after the function returned, nor for statement_timeout in
-- the same statement.
SET log_min_error_statement = error;
SELECT sim_reset();
SELECT task_id / (task_id - task_id) FROM ocp_backup_now(631, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "late", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/", "password": "late-error-secret"}}', 'mask_basic');
SET statement_timeout = '3s';
SELECT pg_sleep(600) FROM ocp_backup_now(632, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "late", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/", "password": "timeout-secret"}}', 'mask_basic');
RESET statement_timeout;
-- A statement without a secret is logged as ever.
SELECT 1 / 0 AS "mask-suite-marker";
RESET log_min_error_statement;

-- 6. The credentials of every URL shape are kept out of the synced history.
SELECT sim_reset();
SELECT sim_fleet(jsonb_build_object('clusters', jsonb_build_array(jsonb_build_object(
  'id', 640, 'name', 'mask-c', 'tenants', jsonb_build_array(jsonb_build_object('id', 6401, 'name', 'sys')),
  'history', (SELECT jsonb_agg(jsonb_build_object('taskId', n, 'status', 'DONE', 'started_ago', 7200 + n, 'finished_ago', 3600 + n,
                                                  'backupUri', url) ORDER BY n) FROM url_shapes))))) - 'clusters' - 'jobs' - 'tenants';
SELECT server_name, clusters, backup_jobs, error FROM ocp_backup_sync('mask_basic');
SELECT job_id, backup_uri FROM ocp_backup.backup_history WHERE server_name = 'mask_basic' ORDER BY job_id;
SELECT l.what FROM leaks l, ocp_backup.backup_history h
 WHERE h.server_name = 'mask_basic' AND position(l.secret IN h::text) > 0 ORDER BY 1;

-- The server log holds none of the secrets above, but the marker.
CREATE TEMP VIEW server_log AS
  SELECT pg_read_binary_file(regexp_replace(current_setting('data_directory'),
                                     '/instance/data$', '/regress/log/postmaster.log')) AS log;
SELECT position('mask-suite-marker'::bytea IN log) > 0 AS has_marker FROM server_log;
SELECT secret, position(convert_to(secret, 'UTF8') IN log) > 0 AS in_server_log
  FROM server_log, unnest(ARRAY['late-error-secret', 'timeout-secret']) AS secret ORDER BY 1;
SELECT l.what FROM server_log, leaks l WHERE position(convert_to(l.secret, 'UTF8') IN log) > 0 ORDER BY 1;
DROP SERVER mask_basic CASCADE;
DROP SERVER mask_aksk CASCADE;
