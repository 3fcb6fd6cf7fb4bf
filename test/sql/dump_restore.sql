--
-- dump_restore: the journal, with whatever the suites before this one left
-- in it and rows of its own (secrets masked, invalid bytes repaired), dumps
-- and restores into a new database with identical rows.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/", "accessKeySecret": "dump-secret"}}'
CREATE SERVER dumped FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER dumped OPTIONS (username 'admin', password 'admin');
SELECT count(*) AS rows FROM ocp_backup_now(71, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'dumped');
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 500, 'body_base64',
  translate(encode(convert_to('{"successful":false,"status":500,"error":{"code":1,"message":"bad ', 'UTF8')
                   || '\xff'::bytea || convert_to(' byte"}}', 'UTF8'), 'base64'), E'\n', '')));
SELECT try(format('SELECT * FROM ocp_backup_now(72, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'dumped')) AS failed;
-- The failed call's row comes back through the call log.
SELECT wait_for('EXISTS (SELECT FROM ocp_backup.invocation WHERE cluster_id = 72)') AS failed_row_back;

SELECT setting AS bindir FROM pg_config WHERE name = 'BINDIR' \gset
SELECT current_setting('port') AS port,
       split_part(current_setting('unix_socket_directories'), ',', 1) AS socket_dir \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS dump_restored;
RESET client_min_messages;
CREATE DATABASE dump_restored;
CREATE TEMP TABLE dump_log (line text);
SELECT format('bash -o pipefail -c %L',
              format('%s/pg_dump -h %s -p %s -Fc -d %s | %s/pg_restore -h %s -p %s -d dump_restored 2>&1; echo "exit status $?"',
                     :'bindir', :'socket_dir', :'port', current_database(), :'bindir', :'socket_dir', :'port')) AS dump_command \gset
COPY dump_log FROM PROGRAM :'dump_command';
SELECT line FROM dump_log;
SELECT count(*) AS journal_rows,
       md5(string_agg(i::text, E'\n' ORDER BY id)) AS journal_digest,
       (SELECT md5(string_agg(t::text, E'\n' ORDER BY task_id)) FROM ocp_backup.task t) AS task_digest
  FROM ocp_backup.invocation i \gset
\c dump_restored
SELECT count(*) = :journal_rows AS same_count,
       md5(string_agg(i::text, E'\n' ORDER BY id)) = :'journal_digest' AS identical_journal,
       (SELECT md5(string_agg(t::text, E'\n' ORDER BY task_id)) FROM ocp_backup.task t) = :'task_digest' AS identical_tasks
  FROM ocp_backup.invocation i;
SELECT count(*) > 0 AS has_masked_and_repaired_rows FROM ocp_backup.invocation
 WHERE request::text LIKE '%********%' AND cluster_id IN (71, 72);
\c contrib_regression
DROP DATABASE dump_restored;
DROP SERVER dumped CASCADE;
