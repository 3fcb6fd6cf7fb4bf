--
-- encoding: OCP speaks UTF-8.  Bodies go out in UTF-8 whatever the database
-- encoding; answers are made valid text in the database encoding before
-- anything reads them, so no invalid byte reaches the journal or a client.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER enc FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER enc OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
-- Waits for the (call-logged) journal row of cluster enc.cluster.
\set wait_for_row 'SELECT wait_for(''EXISTS (SELECT FROM ocp_backup.invocation WHERE cluster_id = current_setting(''''enc.cluster'''')::bigint)'') AS row_written;'
-- Queues an answer of exactly these bytes.
CREATE FUNCTION enc_raw_answer(status int, body bytea) RETURNS text LANGUAGE sql AS $$
  SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', status,
                                      'body_base64', translate(encode(body, 'base64'), E'\n', ''))) $$;

-- Invalid UTF-8 in an answer (\xc3\x28, \xff, a NUL) becomes U+FFFD.
-- {"successful":false,"status":500,"traceId":"ab\xffcd","error":{"code":60018,"message":"disk \xc3\x28 full \x00!"}}
SELECT enc_raw_answer(500, convert_to('{"successful":false,"status":500,"traceId":"ab', 'UTF8') || '\xff'::bytea
  || convert_to('cd","error":{"code":60018,"message":"disk ', 'UTF8') || '\xc328'::bytea
  || convert_to(' full ', 'UTF8') || '\x00'::bytea || convert_to('!"}}', 'UTF8'));
SELECT try(format('SELECT * FROM ocp_backup_now(61, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'enc')) AS invalid_utf8_error;
SET enc.cluster = 61;
:wait_for_row
SELECT http_status, trace_id, error, response ->> 'traceId' AS response_trace_id,
       position(U&'\FFFD' IN error) > 0 AS replaced
  FROM ocp_backup.invocation WHERE cluster_id = 61;

-- A successful answer with an invalid byte keeps its task.
SELECT enc_raw_answer(200, convert_to('{"successful":true,"status":200,"traceId":"t', 'UTF8') || '\xe282'::bytea
  || convert_to('","data":{"obBackupTaskType":"DATA_BACKUP_NOW","backupObjectOpsResultList":[{"beSuccessful":true,"obBackupObjectList":[{"clusterId":62,"backupDimension":"CLUSTER"}],"taskIdList":[3000062]}]}}', 'UTF8'));
SELECT cluster_id, task_id, successful, trace_id FROM ocp_backup_now(62, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'enc');
SELECT successful, task_ids, trace_id FROM ocp_backup.invocation WHERE cluster_id = 62;

-- A lone surrogate escape (half of an emoji, cut) would make the answer
-- unreadable: it becomes U+FFFD, and the call keeps its task.
SELECT enc_raw_answer(200, convert_to('{"successful":true,"status":200,"traceId":"s1","data":{"obBackupTaskType":"DATA_BACKUP_NOW","backupObjectOpsResultList":[{"beSuccessful":false,"errorCode":"X","hint":"cut \ud83d here, whole \ud83d\ude00","obBackupObjectList":[{"clusterId":65,"backupDimension":"CLUSTER"}],"taskIdList":[3000065]}]}}', 'UTF8'));
SELECT cluster_id, task_id, successful, hint FROM ocp_backup_now(65, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'enc');

-- A LATIN1 database.
CREATE DATABASE enc_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c enc_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION ocp_backup;
\set ECHO none
\i test/sql/include/wait_for.sql
\set ECHO all
CREATE SERVER enc FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER enc OPTIONS (username 'admin', password 'admin');
-- The body goes out in UTF-8: the simulator parses it, and the journal
-- keeps it in LATIN1.
SELECT cluster_id, successful FROM ocp_backup_now(63, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "sauvegarde-été", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/données/"}}', 'enc');
SELECT request -> 'obBackupServiceStorageConfig' ->> 'configName' AS journaled_config FROM ocp_backup.invocation;
\c contrib_regression
SELECT r ->> 'body' LIKE '%sauvegarde-été%' AS sent_as_utf8, r ->> 'body' LIKE '%/données/%' AS url_as_utf8
  FROM sim_requests() r WHERE r ->> 'path' LIKE '%/63/%';
-- OCP's UTF-8 message, raw and escaped: what LATIN1 has is kept, the rest
-- becomes '?'.
SELECT enc_raw_answer(500, convert_to('{"successful":false,"status":500,"traceId":"e1","error":{"code":60018,"message":"Échec: 备份失败, \u00e9t\u00e9 \ud83d\ude00 \u5907"}}', 'UTF8'));
\c enc_latin1
SET client_encoding = 'UTF8';
SELECT * FROM ocp_backup_now(64, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'enc');
SET enc.cluster = 64;
:wait_for_row
SELECT cluster_id, http_status, error, response -> 'error' ->> 'message' AS response_message
  FROM ocp_backup.invocation WHERE cluster_id = 64;
-- Every journal row of this database reads back in UTF-8 without error.
SELECT count(*) AS rows, bool_and(convert_to(i::text, 'UTF8') IS NOT NULL) AS readable
  FROM ocp_backup.invocation i;
\c contrib_regression
DROP DATABASE enc_latin1;
DROP SERVER enc CASCADE;
DROP FUNCTION enc_raw_answer(int, bytea);
