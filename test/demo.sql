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
\echo '-- Is the endpoint healthy?'
\set ECHO queries
SELECT server_name, reachable, tls_verified, authenticated, round(round_trip_ms::numeric, 2) AS round_trip_ms,
       round(clock_skew_ms::numeric) AS clock_skew_ms, problem
  FROM ocp_backup_check();
\set ECHO none
\echo
\echo '-- Back up cluster 8 now:'
\set ECHO queries
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName":"ycnfs223_0915","obBackupStorageBaseInfo":{"backupStorageType":"BACKUP_STORAGE_FILE","storageUrl":"/obbackup/"}}') \gset demo_
\set ECHO none
SELECT :demo_invocation_id AS invocation_id, :demo_cluster_id AS cluster_id, :demo_task_id AS task_id,
       :'demo_successful' AS successful, :'demo_trace_id' AS trace_id;
\echo
\echo '-- A second backup of the same cluster while the first runs is refused by OCP:'
\set ECHO queries
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'INCREMENTAL_BACKUP',
  '{"configName":"ycnfs223_0915","obBackupStorageBaseInfo":{"backupStorageType":"BACKUP_STORAGE_FILE","storageUrl":"/obbackup/"}}');
\echo
\echo '-- Wait for the first one, with progress:'
SELECT ocp_backup_wait(:demo_task_id, poll => '1 second');
\echo
\echo '-- The journal:'
\x on
SELECT id, started_at, finished_at - started_at AS took, invoked_by, server_name,
       cluster_id, backup_mode, data_mode, request, http_status, successful,
       task_ids, trace_id, error
  FROM ocp_backup.invocation ORDER BY id;
\x off
\echo
\echo '-- The fleet as OCP knows it: 12 clusters, most backed up by OCP''s own schedule.'
\echo '-- ocp_backup_sync() mirrors its clusters, tenants and backup history:'
\set ECHO queries
SELECT * FROM ocp_backup_sync();
\echo
\echo '-- Per-cluster health, from OCP''s history and the tasks started from SQL:'
SELECT cluster_id, cluster_name, last_success_at, last_full_backup_at, last_failure_error,
       backup_running, successes_7d, failures_7d
  FROM ocp_backup.cluster_status ORDER BY cluster_id;
\echo
\echo '-- Which cluster has no good backup in 24 hours?  (never backed up: NULL)'
SELECT server_name, cluster_id, cluster_name, last_success_at FROM ocp_backup.cluster_status
 WHERE last_success_at IS NULL OR last_success_at < now() - interval '24 hours'
 ORDER BY cluster_id;
\echo
\echo '-- Back them all up now, in one call: concurrently, max_parallel (8) at a time,'
\echo '-- a journal row each; a cluster OCP refuses gives a WARNING and a row saying why.'
SELECT cluster_id, task_id, successful, error_code, hint
  FROM ocp_backup_now(ARRAY(SELECT cluster_id FROM ocp_backup.cluster_status
                             WHERE last_success_at IS NULL OR last_success_at < now() - interval '24 hours'),
                      'PHYSICAL_BACKUP', 'FULL_BACKUP',
                      '{"configName":"nfs0907","obBackupStorageBaseInfo":{"backupStorageType":"BACKUP_STORAGE_FILE","storageUrl":"/obbackup/"}}')
 ORDER BY cluster_id;
\echo
\echo '-- And follow every task started, all at once:'
SELECT ocp_backup_refresh() AS tasks_read;
