--
-- recover: what a DBA can restore today.  ocp_backup_sync reads each
-- cluster's backup overview and its tenants' log backup tasks; the rows
-- kept, cluster_status's recoverability columns, the view tenant_status,
-- and the README's queries, against OCP's answers as its samples show them
-- (a status RUNNING, a fractional delay, both timestamp forms, an
-- undocumented agentServerIp), every status value, and a cluster whose
-- reads fail.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
-- One request at a time: the trace ids in the warnings are deterministic.
CREATE SERVER rs FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', max_parallel '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER rs OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT journal_writer_caught_up();
TRUNCATE ocp_backup.invocation, ocp_backup.cluster, ocp_backup.tenant, ocp_backup.backup_history,
         ocp_backup.cluster_backup, ocp_backup.tenant_log_backup RESTART IDENTITY CASCADE;

-- 501: archives running (sys), lagging 40 minutes with the sample's
-- fractional delay (orders, status RUNNING), stopped then interrupted
-- (audit: two rounds, the later kept), none (users).  502: no strategy, no
-- log backup.  503: its schedule paused, the other status values, one
-- without a checkpoint yet.  504: OCP fails its overview, lists its tasks.
-- Two rows a page.
SELECT sim_config('{"list_page_limit": 2}');
SELECT sim_fleet($${"clusters": [
  {"id": 501, "name": "pitr", "backupSize": 1.5, "obStorageVolumeUnit": "TB",
   "history": [{"taskId": 1, "status": "DONE", "started_ago": 7200, "finished_ago": 3600, "tenantId": 12},
               {"taskId": 2, "status": "DONE", "started_ago": 97200, "finished_ago": 93600}],
   "tenants": [
     {"id": 11, "name": "sys", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 30}},
     {"id": 12, "name": "orders", "logBackup": {"status": "RUNNING", "checkpoint_ago": 2400, "delay": 77.6421}},
     {"id": 13, "name": "audit", "logBackup": [
        {"status": "STOPPED", "checkpoint_ago": 90000, "modified_ago": 86400},
        {"status": "INTERRUPTED", "checkpoint_ago": 7200, "delay": 7200,
         "errorMsg": "archive destination is not accessible (ret=-9081)",
         "backupUri": "oss://bucket/audit?host=oss.example&access_id=AKID-log&access_key=log-secret-1"}]},
     {"id": 14, "name": "users"}]},
  {"id": 502, "name": "bare", "backupStrategy": false, "tenants": [{"id": 21, "name": "sys"}]},
  {"id": 503, "name": "paused", "backupScheduleStatus": "PAUSED", "backupSize": 512, "obStorageVolumeUnit": "MB",
   "tenants": [{"id": 31, "name": "sys", "logBackup": {"status": "STARTING"}},
               {"id": 32, "name": "t1", "logBackup": {"status": "STOPPING", "checkpoint_ago": 60}},
               {"id": 33, "name": "t2", "logBackup": {"status": "FAILED", "checkpoint_ago": 60, "errorMsg": "disk full"}},
               {"id": 34, "name": "t3", "logBackup": {"status": "UNKNOWN", "checkpoint_ago": 60}},
               {"id": 35, "name": "t4", "logBackup": {"status": "STOPPED", "checkpoint_ago": 60}}]},
  {"id": 504, "name": "broken", "tenants": [{"id": 41, "name": "sys", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 10}}]}
]}$$) - 'clusters' - 'jobs' - 'tenants';
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error.", "path": "/clusters/504/backup/overview"}');
SELECT server_name, clusters, clusters_failed, tenants, backup_jobs, error_code, error
  FROM ocp_backup_sync('rs');

-- What was asked, per cluster: the overview once, the log backup tasks
-- page by page.
SELECT substring(path from '/clusters/(\d+)/') AS cluster,
       regexp_replace(path, '^/api/v2/ob/clusters/\d+', '') AS request
  FROM sim_wire() WHERE path ~ '(overview|logBackupTasks)' ORDER BY 1, 2;

-- The overview per cluster; 504's read failed and says why.
SELECT cluster_id, last_data_backup_at IS NOT NULL AS has_last_backup,
       log_checkpoint_at > now() - interval '15 minutes' AS within_15min, round(extract(epoch FROM now() - log_checkpoint_at) / 3600, 1) AS checkpoint_hours_ago,
       log_delay, backup_schedule, has_backup_strategy, backup_size_bytes, backup_dimension,
       read_at IS NOT NULL AS read, read_error
  FROM ocp_backup.cluster_backup ORDER BY cluster_id;

-- The latest task per tenant; the URI's credentials masked.
SELECT cluster_id, tenant_id, tenant_name, ob_tenant_id, status,
       checkpoint_at > now() - interval '15 minutes' AS within_15min, round(extract(epoch FROM now() - checkpoint_at) / 3600, 1) AS checkpoint_hours_ago,
       delay, error, backup_uri
  FROM ocp_backup.tenant_log_backup ORDER BY cluster_id, tenant_id;
SELECT count(*) AS secrets_kept FROM ocp_backup.tenant_log_backup l WHERE l::text LIKE '%log-secret-1%';

-- Both timestamp forms read exactly: the checkpoint (+08:00, microseconds)
-- and modifyTime (+0800, milliseconds) as the simulator stored them.
SELECT l.tenant_id,
       abs(extract(epoch FROM l.checkpoint_at) - (r->>'checkpoint_at')::float8) < 0.000002 AS checkpoint_exact,
       abs(extract(epoch FROM l.modified_at) - (r->>'modified_at')::float8) < 0.001 AS modified_exact,
       abs(extract(epoch FROM l.created_at) - (r->>'created_at')::float8) < 0.001 AS created_exact
  FROM (SELECT s::jsonb AS fleet FROM sim_call('GET', '/__sim/fleet') s) f,
       jsonb_array_elements(f.fleet->'clusters') c, jsonb_array_elements(c->'tenants') t,
       LATERAL (SELECT x FROM jsonb_array_elements(t->'logBackup') x ORDER BY (x->>'modified_at')::float8 DESC LIMIT 1) AS lb(r),
       ocp_backup.tenant_log_backup l
 WHERE l.tenant_id = (t->>'id')::bigint AND (r->>'checkpoint_at') IS NOT NULL
 ORDER BY 1;

-- cluster_status's recoverability columns: 501 and 503 from their
-- overviews (501's: the earliest checkpoint, audit's); 504 from its
-- tenants' tasks, its overview unread; 502 nothing known: NULL, never fine.
SELECT cluster_id, log_checkpoint_at > now() - interval '15 minutes' AS within_15min, round(extract(epoch FROM now() - log_checkpoint_at) / 3600, 1) AS checkpoint_hours_ago,
       log_delay, backup_schedule, has_backup_strategy, backup_size_bytes
  FROM ocp_backup.cluster_status ORDER BY cluster_id;

-- tenant_status: one row per tenant OCP lists.
SELECT cluster_id, tenant_id, tenant_name,
       round(extract(epoch FROM now() - last_data_backup_at) / 3600) AS data_backup_hours_ago,
       log_backup_status, log_checkpoint_age < interval '15 minutes' AS within_15min, round(extract(epoch FROM log_checkpoint_age) / 3600, 1) AS checkpoint_hours_ago,
       log_delay, log_backup_error
  FROM ocp_backup.tenant_status ORDER BY cluster_id, tenant_id;
SELECT log_checkpoint_age IS NOT DISTINCT FROM now() - log_checkpoint_at AS age_is_now_minus_checkpoint, count(*)
  FROM ocp_backup.tenant_status GROUP BY 1;

-- The README's questions, each one WHERE.  Which tenant cannot be restored
-- to within 15 minutes of now (no log backup, or a checkpoint older):
SELECT server_name, cluster_id, tenant_name, log_backup_status, log_checkpoint_at IS NULL AS no_checkpoint
  FROM ocp_backup.tenant_status
 WHERE log_checkpoint_at IS NULL OR log_checkpoint_at < now() - interval '15 minutes'
 ORDER BY cluster_id, tenant_id;
-- Whose log archive is stopped, interrupted or failed:
SELECT server_name, cluster_id, tenant_name, log_backup_status, log_backup_error
  FROM ocp_backup.tenant_status
 WHERE log_backup_status IN ('STOPPED', 'INTERRUPTED', 'FAILED')
 ORDER BY cluster_id, tenant_id;
-- Which clusters cannot be restored to within 15 minutes of now:
SELECT server_name, cluster_id, cluster_name, backup_schedule, has_backup_strategy
  FROM ocp_backup.cluster_status
 WHERE log_checkpoint_at IS NULL OR log_checkpoint_at < now() - interval '15 minutes'
 ORDER BY cluster_id;

-- The Recoverability queries of the README and docs/fleet.md, as they
-- have them: each question (its comment) and the rows it finds in this fleet.
\set readme `sed -n '/^### Recoverability/,/^## /p' README.md; sed -n '/^## Recoverability/,/^## /p' docs/fleet.md`
CREATE FUNCTION rows_of(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM (' || query || ') q' INTO n;
    RETURN n;
END $$;
SELECT substring(q from '^-- ([^\n]*)') AS question,
       rows_of(regexp_replace(q, '^(--[^\n]*\n)+', '')) AS found
  FROM (SELECT btrim(q, E' \n') AS q
          FROM regexp_matches(:'readme', '```sql\n(.*?)```', 'g') AS b(block),
               regexp_split_to_table(b.block[1], E';\n') AS q) s
 WHERE q ~ '^(--[^\n]*\n)+SELECT ' AND q !~ 'cron\.'
 ORDER BY 1;

-- The next sync: 504's overview answers, 501's audit archive is running
-- again, orders has no log backup any more (its row goes: NULL, not the old
-- state), and overviews that give no checkpoint (as an OCP without it
-- would): 501 falls back to its tenants' earliest checkpoint (sys, 20 s)
-- and largest delay, 503 to NULL since its sys has no checkpoint yet.
SELECT sim_config('{"list_page_limit": null}');
SELECT sim_fleet($${"clusters": [
  {"id": 501, "name": "pitr",
   "tenants": [
     {"id": 11, "name": "sys", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 20}},
     {"id": 12, "name": "orders"},
     {"id": 13, "name": "audit", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 5}},
     {"id": 14, "name": "users"}]},
  {"id": 502, "name": "bare", "backupStrategy": false, "tenants": [{"id": 21, "name": "sys"}]},
  {"id": 503, "name": "paused",
   "tenants": [{"id": 31, "name": "sys", "logBackup": {"status": "STARTING"}},
               {"id": 32, "name": "t1", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 60}}]},
  {"id": 504, "name": "broken", "tenants": [{"id": 41, "name": "sys", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 10}}]}
]}$$) - 'clusters' - 'jobs' - 'tenants';
SELECT sim_fault('{"kind": "raw", "status": 200, "path": "/clusters/503/backup/overview", "body": {"successful": true, "status": 200, "data": {"backupDimension": "CLUSTER", "obClusterBackupStatus": "HAS_BACKUP_STRATEGY", "backupScheduleStatus": "NORMAL"}, "timestamp": "2024-05-01T10:00:00.123+08:00", "traceId": "", "duration": 1, "server": "ocp"}}');
SELECT sim_fault('{"kind": "raw", "status": 200, "path": "/clusters/501/backup/overview", "body": {"successful": true, "status": 200, "data": {"backupDimension": "CLUSTER", "obClusterBackupStatus": "HAS_BACKUP_STRATEGY", "backupScheduleStatus": "NORMAL"}, "timestamp": "2024-05-01T10:00:00.123+0800", "traceId": "", "duration": 1, "server": "ocp"}}');
SELECT server_name, clusters, clusters_failed, tenants, error FROM ocp_backup_sync('rs');
SELECT cluster_id, read_error IS NULL AS read_ok, read_failed_at IS NULL AS no_failure,
       log_checkpoint_at > now() - interval '15 minutes' AS within_15min, round(extract(epoch FROM now() - log_checkpoint_at) / 3600, 1) AS checkpoint_hours_ago
  FROM ocp_backup.cluster_backup ORDER BY cluster_id;
SELECT cluster_id, tenant_id, status FROM ocp_backup.tenant_log_backup ORDER BY cluster_id, tenant_id;
SELECT cluster_id, log_checkpoint_at > now() - interval '15 minutes' AS within_15min, round(extract(epoch FROM now() - log_checkpoint_at) / 3600, 1) AS checkpoint_hours_ago,
       log_delay, backup_schedule
  FROM ocp_backup.cluster_status ORDER BY cluster_id;

-- A read that fails again keeps what was read before, and says why.
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error.", "path": "/clusters/501/backup/task/logBackupTasks"}');
SELECT server_name, clusters, clusters_failed, error FROM ocp_backup_sync('rs');
SELECT cluster_id, read_error, read_failed_at IS NOT NULL AS failed_at_set,
       log_checkpoint_at IS NOT NULL AS checkpoint_kept
  FROM ocp_backup.cluster_backup WHERE cluster_id = 501;
SELECT count(*) AS tasks_kept FROM ocp_backup.tenant_log_backup WHERE cluster_id = 501;

-- A renamed server's rows follow it.
ALTER SERVER rs RENAME TO rs2;
SELECT DISTINCT server_name FROM ocp_backup.cluster_backup
UNION ALL SELECT DISTINCT server_name FROM ocp_backup.tenant_log_backup;
ALTER SERVER rs2 RENAME TO rs;

-- Every column users read says where it comes from.
SELECT c.relname, a.attname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'ocp_backup'::regnamespace
   AND c.relname IN ('cluster_status', 'tenant_status', 'cluster_backup', 'tenant_log_backup')
   AND a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL;
SELECT a.attnum, a.attname, col_description(a.attrelid, a.attnum) AS definition
  FROM pg_attribute a
 WHERE a.attrelid = 'ocp_backup.tenant_status'::regclass AND a.attnum > 0
 ORDER BY a.attnum;
SELECT a.attname
  FROM pg_attribute a
 WHERE a.attrelid = 'ocp_backup.cluster_status'::regclass AND a.attnum > 0
 ORDER BY a.attnum;

-- The writers are nobody's to call.
SELECT p.oid::regprocedure, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
  FROM pg_proc p
 WHERE p.pronamespace = 'ocp_backup'::regnamespace
   AND p.proname IN ('record_backup_overview', 'record_log_backup_page', 'record_backup_read_failure')
 ORDER BY 1::text;
