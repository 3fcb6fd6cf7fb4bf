-- test/bench/fleet_status.sql: a fleet generated straight into the tables,
-- for test/bench/fleet_status.  psql variable n: the number of clusters.
-- Each cluster: 4 tenants; a year of nightly data-backup jobs in OCP's
-- history (a FULL one each Sunday, about 3 % FAILED, last night's none);
-- 52 weekly calls from
-- SQL in the journal, each with its task (about 3 % refused by OCP, no
-- task).  About 1 % of the clusters were never backed up, 1 % have had no
-- good backup for 3 days, 1 % have a job running now.  Recoverability:
-- each cluster's backup overview and each tenant's log backup task, the
-- archives current (30 s) but for c % 100 = 3 (a tenant lagging 40 min),
-- 4 (a tenant INTERRUPTED 5 h ago), 5 (no log backup, no strategy).
\set ON_ERROR_STOP on
SET synchronous_commit = off;
TRUNCATE ocp_backup.invocation, ocp_backup.task, ocp_backup.cluster, ocp_backup.tenant,
         ocp_backup.backup_history, ocp_backup.called_cluster, ocp_backup.cluster_success,
         ocp_backup.cluster_backup, ocp_backup.tenant_log_backup;
INSERT INTO ocp_backup.cluster
SELECT 'ocp', c, 'fleet-' || c, c, '4.2.1.0', 'PRIMARY', 'RUNNING',
       now() - interval '400 days', now(), 'admin', NULL
  FROM generate_series(1, :n) c;
INSERT INTO ocp_backup.tenant
SELECT 'ocp', c, c * 10 + t, CASE WHEN t = 1 THEN 'sys' ELSE 't' || t END, 'MYSQL', 'NORMAL',
       '4.2.1.0', false, false, now() - interval '400 days',
       now() - interval '400 days', now(), 'admin', NULL
  FROM generate_series(1, :n) c, generate_series(1, 4) t;
-- Cluster c % 100 = 7: never backed up; = 8: nothing good for 3 days;
-- = 9: tonight's job is running.
INSERT INTO ocp_backup.backup_history
SELECT 'ocp', c, d + 1, NULL, d + 1, 'PHYSICAL_BACKUP',
       CASE WHEN d % 7 = 0 THEN 'FULL' ELSE 'INCREMENTAL' END,
       CASE WHEN c % 100 = 9 AND d = 364 THEN 'DOING'
            WHEN c % 100 = 8 AND d >= 362 THEN 'FAILED'
            WHEN hashint8(c * 1000 + d) % 33 = 0 AND d < 364 THEN 'FAILED'
            ELSE 'DONE' END,
       now() - (364 - d) * interval '1 day' - interval '3 hours',
       CASE WHEN c % 100 = 9 AND d = 364 THEN NULL
            ELSE now() - (364 - d) * interval '1 day' - interval '2 hours' END,
       CASE WHEN (c % 100 = 8 AND d >= 362) OR (hashint8(c * 1000 + d) % 33 = 0 AND d < 364)
            THEN 'backup failed' END,
       'file:///obbackup/fleet-' || c, now(), now()
  FROM generate_series(1, :n) c, generate_series(0, 364) d
 WHERE c % 100 <> 7;
-- The weekly calls: id c * 100 + w, started w weeks ago.
INSERT INTO ocp_backup.invocation
       (id, started_at, finished_at, invoked_by, server_name, cluster_id, backup_mode, data_mode,
        request, http_status, successful, task_ids, trace_id, error, response, tenant_id,
        outcome_unknown, ocp_account)
SELECT c * 100 + w, s, s + interval '50 ms', 'dba', 'ocp', c, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
       '{}', CASE WHEN refused THEN 500 ELSE 200 END, NOT refused,
       CASE WHEN refused THEN '{}' ELSE ARRAY[(c * 100 + w)::bigint] END, 'trace',
       CASE WHEN refused THEN 'OCP did not start a backup: BAK31001: failed' END,
       '{"successful": true}', NULL, false, 'admin'
  FROM generate_series(1, :n) c, generate_series(1, 52) w,
       LATERAL (SELECT now() - w * interval '7 days' - interval '1 hour' AS s,
                       hashint8(c * 100 + w) % 33 = 0 AS refused) x;
INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id, status,
                             subtasks_total, subtasks_done, finish_time, last_checked_at)
SELECT i.id, i.id, i.server_name, i.cluster_id,
       CASE WHEN hashint8(i.id + 7) % 33 = 0 THEN 'FAILED' ELSE 'SUCCESSFUL' END,
       3, 3, i.started_at + interval '20 minutes', i.started_at + interval '25 minutes'
  FROM ocp_backup.invocation i
 WHERE i.successful;
INSERT INTO ocp_backup.called_cluster
SELECT DISTINCT server_name, cluster_id FROM ocp_backup.invocation;
SELECT ocp_backup.settle_last_success(array_agg(c.server_name), array_agg(c.cluster_id))
  FROM ocp_backup.cluster c;
INSERT INTO ocp_backup.tenant_log_backup
SELECT 'ocp', c, c * 10 + t, CASE WHEN t = 1 THEN 'sys' ELSE 't' || t END,
       CASE WHEN t = 1 THEN 1 ELSE 1000 + 2 * t END,
       CASE WHEN c % 100 = 4 AND t = 2 THEN 'INTERRUPTED' ELSE 'INPROGRESS' END,
       now() - lag, lag, CASE WHEN c % 100 = 4 AND t = 2 THEN 'archive destination is not accessible' END,
       'file:///obbackup/fleet-' || c || '/archive', now() - interval '400 days', now() - lag, now()
  FROM generate_series(1, :n) c, generate_series(1, 4) t,
       LATERAL (SELECT CASE WHEN c % 100 = 3 AND t = 3 THEN interval '40 minutes'
                            WHEN c % 100 = 4 AND t = 2 THEN interval '5 hours'
                            ELSE interval '30 seconds' END AS lag) l
 WHERE c % 100 <> 5;
INSERT INTO ocp_backup.cluster_backup
       (server_name, cluster_id, last_data_backup_at, log_checkpoint_at, log_delay, backup_schedule,
        has_backup_strategy, backup_size_bytes, backup_dimension, read_at, tenants_checkpoint_at,
        tenants_delay)
SELECT 'ocp', c, now() - interval '2 hours', min(l.checkpoint_at), max(l.delay),
       CASE WHEN c % 100 = 5 THEN 'NONE' ELSE 'NORMAL' END, c % 100 <> 5,
       (c % 900 + 1)::bigint * 1073741824, 'CLUSTER', now(), min(l.checkpoint_at), max(l.delay)
  FROM generate_series(1, :n) c
  LEFT JOIN ocp_backup.tenant_log_backup l ON l.server_name = 'ocp' AND l.cluster_id = c
 GROUP BY c;
SELECT setval('ocp_backup.invocation_id_seq', (SELECT max(id) FROM ocp_backup.invocation));
VACUUM ANALYZE ocp_backup.invocation, ocp_backup.task, ocp_backup.cluster, ocp_backup.tenant,
               ocp_backup.backup_history, ocp_backup.called_cluster, ocp_backup.cluster_success,
               ocp_backup.cluster_backup, ocp_backup.tenant_log_backup;
