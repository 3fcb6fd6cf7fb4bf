--
-- server_log: no credential and no storage secret reaches the server log,
-- at log_min_messages = debug5, whatever the suites before this one logged
-- and after calls of its own with every kind of credential.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\getenv ak OCP_SIM_ACCESS_KEY_ID
\getenv sk OCP_SIM_ACCESS_KEY_SECRET
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "ftp://u:log-url-secret@nas/ob", "accessKeySecret": "log-storage-secret"}}'
CREATE SERVER logged FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE SERVER logged_aksk FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER logged OPTIONS (username 'operator', password 'op-secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER logged_aksk OPTIONS (access_key_id :'ak', access_key_secret :'sk');
SET log_min_messages = debug5;
SELECT count(*) AS rows FROM ocp_backup_now(81, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'logged');
SELECT count(*) AS rows FROM ocp_backup_now(82, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'logged_aksk');
SELECT sim_fault('{"kind": "echo"}');
SELECT try(format('SELECT * FROM ocp_backup_now(83, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'logged_aksk')) ~ '\*{8}' AS echo_masked;
SELECT authenticated FROM ocp_backup_check('logged_aksk');
-- A failing call left uncaught: its statement, which holds the storage
-- object as written, is not logged (log_min_error_statement).
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error."}');
SELECT * FROM ocp_backup_now(84, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'logged');
-- The same made through PL/pgSQL's EXECUTE: the statement is the error's
-- CONTEXT ("SQL statement ..."), which is not logged either, whether the
-- call raised the error or the statement did after the call returned.
\set context_storage '{"configName": "nfs0910", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/ob", "accessKeySecret": "context-sk-2h3j"}}'
\set after_storage '{"configName": "nfs0911", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/ob", "accessKeySecret": "after-sk-4k5l"}}'
CREATE FUNCTION run_statement(statement text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE statement; END $$;
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error."}');
SELECT run_statement(format('SELECT * FROM ocp_backup_now(87, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'context_storage', 'logged'));
SELECT run_statement(format('SELECT task_id / (task_id - task_id) FROM ocp_backup_now(88, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'after_storage', 'logged'));
-- A refused option: the validator's error names the option, not the value.
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER logged OPTIONS (SET password E'wrong-secret\n')$$) AS refused;
-- The first call of each of the library's C functions in a session looks
-- its function up, and PostgreSQL 18 then searches dynamic_library_path for
-- '$libdir/ocp_backup', logging each try at debug3 under the statement being
-- set up: a PL/pgSQL EXECUTE's statement, with the storage object as
-- written, is its CONTEXT.  15 and 17 search the path for a bare library
-- name, as bare_backup_now names it.  The library, preloaded, logs these
-- lines without their context or statement.
\set lookup_storage '{"configName": "nfs0908", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/ob", "accessKeySecret": "lookup-sk-8d9e"}}'
\set bare_storage '{"configName": "nfs0909", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/ob", "accessKeySecret": "bare-sk-0f1g"}}'
CREATE FUNCTION bare_backup_now(cluster_id bigint, backup_mode text, data_mode text, storage jsonb,
                                server text DEFAULT NULL, tenant_id bigint DEFAULT NULL)
RETURNS SETOF ocp_backup.backup_result AS 'ocp_backup', 'ocp_backup_now' LANGUAGE C;
SELECT try(format('SELECT * FROM ocp_backup_now(ARRAY[85], %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'lookup_storage', 'logged')) AS first_clusters_call;
SELECT try(format('SELECT * FROM bare_backup_now(86, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'bare_storage', 'logged')) AS first_bare_call;
-- What reaches the log: the search below must find it.
DO $$ BEGIN RAISE LOG 'server_log suite: %', 'visible' || '-marker'; END $$;
RESET log_min_messages;

-- The log of the instance pg_regress started: its data directory is
-- test/.work/instance/data, its log test/.work/regress/log/postmaster.log
-- (REGRESS_OPTS in the Makefile).  Read as bytes: each backend logs in
-- its database's encoding, and the encoding suite's is LATIN1.
CREATE TEMP VIEW server_log AS
  SELECT pg_read_binary_file(regexp_replace(current_setting('data_directory'),
                                     '/instance/data$', '/regress/log/postmaster.log')) AS log;
SELECT position('DEBUG:'::bytea IN log) > 0 AS has_debug_lines,
       position('visible-marker'::bytea IN log) > 0 AS has_marker,
       encode(log, 'escape') ~ ': trying "[^"\n]*/ocp_backup"' AS has_library_lookup FROM server_log;
SELECT secret, position(convert_to(secret, 'UTF8') IN log) > 0 AS in_server_log
  FROM server_log, unnest(ARRAY[:'sk', 'op-secret', 'wrong-secret', 'log-url-secret', 'log-storage-secret',
                    -- planted by the other suites
                    'very-secret', 'url-sk-31415', 'plain-ak-2718', 'oss-sk-1a2b3c', 'pk-9z8y7x',
                    'api-5e6f7g', 'cred-0q1w2e', '4242424242', 'pw-3r4t5y', 'pwd-6u7i8o',
                    'tok-9p0a1s', 'ui-pass-7d8f', 'dump-secret', 'lookup-sk-8d9e', 'bare-sk-0f1g', 'context-sk-2h3j', 'after-sk-4k5l']) AS secret
 ORDER BY 1;
DROP FUNCTION bare_backup_now;
DROP FUNCTION run_statement;
DROP SERVER logged CASCADE;
DROP SERVER logged_aksk CASCADE;
