\pset footer off
\echo
\echo '-- Install, point at OCP, give ourselves credentials:'
\echo
\echo 'CREATE EXTENSION ocp_backup;'
CREATE EXTENSION ocp_backup;
\echo 'CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url ''':sim_url''');'
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
\echo 'CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username ''admin'', password ''...'');'
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'demo-password');
\echo
\echo '-- Back up cluster 8 now:'
\echo
\set ECHO queries
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName":"ycnfs223_0915","obBackupStorageBaseInfo":{"backupStorageType":"BACKUP_STORAGE_FILE","storageUrl":"/obbackup/"}}');
\set ECHO none
\echo
\echo '-- A second backup of the same cluster while the first runs is refused by OCP:'
\echo
\set ECHO queries
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'INCREMENTAL_BACKUP',
  '{"configName":"ycnfs223_0915","obBackupStorageBaseInfo":{"backupStorageType":"BACKUP_STORAGE_FILE","storageUrl":"/obbackup/"}}');
\set ECHO none
\echo
\echo '-- The journal:'
\echo
\x on
\set ECHO queries
SELECT id, started_at, finished_at - started_at AS took, invoked_by, server_name,
       cluster_id, backup_mode, data_mode, request, http_status, successful,
       task_ids, trace_id, error
  FROM ocp_backup.invocation ORDER BY id;
