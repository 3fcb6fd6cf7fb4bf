--
-- fleet_status: what ocp_backup.cluster_status says, column by column, and
-- that it stays true: calls that say nothing about a cluster's backups
-- (OCP denied the cluster, the call never reached OCP, OCP refused because
-- a backup was running) raise no alarm, and every writer keeps the kept
-- values (cluster_success, called_cluster) what the tables say.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER fs FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER fs OPTIONS (username 'admin', password 'admin');
-- The same OCP through another name, for a backup the first does not know of.
CREATE SERVER fs_other FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER fs_other OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT journal_writer_caught_up();
TRUNCATE ocp_backup.invocation, ocp_backup.cluster, ocp_backup.tenant, ocp_backup.backup_history RESTART IDENTITY CASCADE;
SELECT count(*) AS stale_rows FROM (SELECT FROM ocp_backup.called_cluster UNION ALL SELECT FROM ocp_backup.cluster_success) s;

-- What cluster_status must say, computed the slow way from the tables.
CREATE FUNCTION reference_last_success(server text, cluster bigint) RETURNS timestamptz
LANGUAGE sql AS $$
    SELECT max(at) FROM (
        SELECT coalesce(h.finish_time, h.start_time) AS at FROM ocp_backup.backup_history h
         WHERE h.server_name = server AND h.cluster_id = cluster AND h.status = 'DONE'
        UNION ALL
        SELECT coalesce(t.finish_time, t.last_checked_at, i.finished_at)
          FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
         WHERE t.server_name = server AND t.cluster_id = cluster AND t.status = 'SUCCESSFUL') s
$$;
CREATE VIEW status_mismatches AS
SELECT s.server_name, s.cluster_id, s.last_success_at, reference_last_success(s.server_name, s.cluster_id) AS expected
  FROM ocp_backup.cluster_status s
 WHERE s.last_success_at IS DISTINCT FROM reference_last_success(s.server_name, s.cluster_id)
    OR s.last_success_age IS DISTINCT FROM now() - s.last_success_at
UNION ALL
-- Every cluster with a success somewhere is listed when OCP lists it.
SELECT c.server_name, c.cluster_id, NULL, reference_last_success(c.server_name, c.cluster_id)
  FROM ocp_backup.cluster c
 WHERE NOT EXISTS (SELECT FROM ocp_backup.cluster_status s
                    WHERE s.server_name = c.server_name AND s.cluster_id = c.cluster_id);

-- A call's error, for calls that fail.
CREATE FUNCTION backup_error(cluster bigint, server text, storage jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT try(format('SELECT * FROM ocp_backup_now(%s, %L, %L, %L, %L)', cluster,
                      'PHYSICAL_BACKUP', 'FULL_BACKUP', storage, server))
$$;

-- Two clusters as OCP's own schedule left them: 201 backed up 2 hours
-- ago, never failed; 202 backed up 30 hours ago.
SELECT sim_fleet($${"clusters": [
  {"id": 201, "name": "healthy", "tenants": [{"id": 2011, "name": "sys"}],
   "history": [{"taskId": 1, "status": "DONE", "started_ago": 90000, "finished_ago": 86400},
               {"taskId": 2, "status": "DONE", "started_ago": 10800, "finished_ago": 7200}]},
  {"id": 202, "name": "quiet", "tenants": [{"id": 2021, "name": "sys"}],
   "history": [{"taskId": 1, "status": "DONE", "started_ago": 111600, "finished_ago": 108000}]}
]}$$) - 'clusters' - 'jobs' - 'tenants';
SELECT server_name, clusters, clusters_failed, tenants, backup_jobs FROM ocp_backup_sync('fs');
SELECT * FROM status_mismatches;

-- Every column is defined, here and in the README.
SELECT a.attnum, a.attname, col_description(a.attrelid, a.attnum) AS definition
  FROM pg_attribute a
 WHERE a.attrelid = 'ocp_backup.cluster_status'::regclass AND a.attnum > 0
 ORDER BY a.attnum;

-- An alert is one WHERE: the age of the last good backup.
SELECT cluster_id, cluster_name, last_success_age > interval '29 hours' AS over_29h
  FROM ocp_backup.cluster_status WHERE last_success_age > interval '24 hours' OR last_success_age IS NULL
 ORDER BY cluster_id;

-- A mistyped cluster id: OCP answers 404, no such cluster.  The call is
-- journaled, the id is no cluster of the fleet.
SELECT backup_error(99, 'fs', :'storage') AS error;
SELECT journal_writer_caught_up();
SELECT cluster_id, http_status, successful FROM ocp_backup.invocation WHERE cluster_id = 99;
SELECT count(*) AS rows_for_99 FROM ocp_backup.cluster_status WHERE cluster_id = 99;

-- Calls that never reached OCP say nothing about a cluster's backups:
-- through a dead address (connection refused) and with a wrong password
-- (401), for a cluster OCP lists and for an id it does not.
ALTER SERVER fs OPTIONS (SET url 'http://127.0.0.1:9', ADD retries '0');
SELECT left(backup_error(201, 'fs', :'storage'), 5) AS sqlstate;
SELECT left(backup_error(777, 'fs', :'storage'), 5) AS sqlstate;
ALTER SERVER fs OPTIONS (SET url :'sim_url', DROP retries);
ALTER USER MAPPING FOR CURRENT_USER SERVER fs OPTIONS (SET password 'wrong');
SELECT left(backup_error(201, 'fs', :'storage'), 5) AS sqlstate;
SELECT left(backup_error(778, 'fs', :'storage'), 5) AS sqlstate;
ALTER USER MAPPING FOR CURRENT_USER SERVER fs OPTIONS (SET password 'admin');
SELECT journal_writer_caught_up();
SELECT cluster_id, http_status, outcome_unknown, successful FROM ocp_backup.invocation
 WHERE cluster_id IN (201, 777, 778) ORDER BY id;
SELECT cluster_id, cluster_name, last_invocation_successful, successes_7d, failures_7d,
       last_failure_at, last_failure_error, backup_running
  FROM ocp_backup.cluster_status ORDER BY cluster_id;

-- A backup OCP refuses because one is running already (BAK31005) is no
-- failure: 201's second call; and 202, whose running backup another
-- server name started, shows it running from the refusal alone.
SELECT successful, error_code FROM ocp_backup_now(201, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fs');
SELECT successful, error_code FROM ocp_backup_now(201, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fs');
SELECT successful, error_code FROM ocp_backup_now(202, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fs_other');
SELECT successful, error_code FROM ocp_backup_now(202, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fs');
SELECT server_name, cluster_id, last_invocation_successful, last_task_status, failures_7d,
       last_failure_error, backup_running
  FROM ocp_backup.cluster_status ORDER BY server_name, cluster_id;

-- A call OCP refused for another reason is a failure, and says why.
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": "BAK31001", "message": "Failed to start data backup.", "path": "/clusters/202/backup/backupNow"}');
SELECT left(backup_error(202, 'fs', :'storage'), 5) AS sqlstate;
SELECT journal_writer_caught_up();
SELECT cluster_id, failures_7d, last_failure_error IS NOT NULL AS has_error, last_failure_at > now() - interval '1 minute' AS just_now
  FROM ocp_backup.cluster_status WHERE server_name = 'fs' AND cluster_id = 202;

-- Each writer keeps last_success_at exact.  Refresh: 201's task ends.
SELECT t.task_id AS task_201 FROM ocp_backup.task t WHERE t.server_name = 'fs' AND t.cluster_id = 201 \gset
SELECT sim_post_task_status(:task_201, 'SUCCESSFUL');
SELECT ocp_backup_refresh();
SELECT cluster_id, last_task_status, last_success_at > now() - interval '1 minute' AS just_now
  FROM ocp_backup.cluster_status WHERE server_name = 'fs' AND cluster_id = 201;
SELECT * FROM status_mismatches;
-- Sync: OCP's history has the new job, and 202's.
SELECT server_name, clusters, clusters_failed FROM ocp_backup_sync('fs');
SELECT * FROM status_mismatches;
-- Purge: the journal's rows go, and the clusters only calls named with them.
UPDATE ocp_backup.invocation SET started_at = started_at - interval '400 days'
 WHERE server_name = 'fs_other' OR cluster_id = 201;
SELECT ocp_backup.purge_journal('365 days') AS purged;
SELECT count(*) AS tasks_left_of_201 FROM ocp_backup.task WHERE cluster_id = 201;
SELECT * FROM status_mismatches;
SELECT server_name, cluster_id FROM ocp_backup.called_cluster ORDER BY 1, 2;
SELECT server_name, cluster_id, last_invocation_at IS NULL AS no_calls FROM ocp_backup.cluster_status ORDER BY 1, 2;
-- Rename: the kept rows follow the server.
ALTER SERVER fs RENAME TO fs_renamed;
SELECT * FROM status_mismatches;
SELECT server_name, cluster_id FROM ocp_backup.cluster_success ORDER BY 1, 2;
ALTER SERVER fs_renamed RENAME TO fs;
-- Reconcile records the task it found for a call whose outcome was
-- unknown and marks the call reconciled (as ocp_backup.reconcile_call does,
-- here by hand): the trigger settles the cluster.  Nobody read the task:
-- its time is the call's end.
INSERT INTO ocp_backup.invocation (id, started_at, finished_at, invoked_by, server_name, cluster_id,
                                   backup_mode, data_mode, request, successful, outcome_unknown, error)
VALUES (900001, now(), '2100-01-01 00:00+00', current_user, 'fs', 202,
        'PHYSICAL_BACKUP', 'FULL_BACKUP', '{}', false, true, 'the answer was not read');
INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id, status)
VALUES (990001, 900001, 'fs', 202, 'SUCCESSFUL');
UPDATE ocp_backup.invocation SET reconciled_at = now(), reconciliation = 'OCP task 990001'
 WHERE id = 900001;
SELECT cluster_id, last_success_at = '2100-01-01 00:00+00' AS the_calls_end
  FROM ocp_backup.cluster_status WHERE server_name = 'fs' AND cluster_id = 202;
SELECT * FROM status_mismatches;
-- A DBA deleting a call deletes its task and settles the cluster too.
DELETE FROM ocp_backup.invocation WHERE id = 900001;
SELECT count(*) AS task_left FROM ocp_backup.task WHERE task_id = 990001;
SELECT * FROM status_mismatches;
-- A call rolled back comes from the journal writer, its cluster with it.
BEGIN;
SELECT successful FROM ocp_backup_now(203, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fs');
ROLLBACK;
SELECT journal_rows_eventually('cluster_id = 203');
SELECT server_name, cluster_id, last_invocation_successful FROM ocp_backup.cluster_status WHERE cluster_id = 203;
-- Truncate: nothing stale is left.
TRUNCATE ocp_backup.backup_history;
SELECT * FROM status_mismatches;
TRUNCATE ocp_backup.invocation CASCADE;
SELECT count(*) AS stale_rows FROM (SELECT FROM ocp_backup.called_cluster UNION ALL SELECT FROM ocp_backup.cluster_success) s;

-- A 429 pauses the server, as for refresh: one request at a time, 201's
-- tenants are throttled, and nothing more is sent; both clusters fail, in
-- one WARNING, and keep the rows of their last sync.  (Last: the pause
-- lasts for this session.)
ALTER SERVER fs OPTIONS (ADD max_parallel '1');
SELECT max(seq) AS seen FROM sim_wire() \gset
SELECT sim_fault('{"kind": "rate_limit", "reset": 30, "path": "/clusters/201/tenants"}');
SELECT server_name, clusters, clusters_failed, tenants, backup_jobs, error_code FROM ocp_backup_sync('fs');
SELECT regexp_replace(path, '\?.*', '') AS sent FROM sim_wire() WHERE seq > :seen ORDER BY seq;
SELECT count(*) AS tenants_kept FROM ocp_backup.tenant WHERE server_name = 'fs';
ALTER SERVER fs OPTIONS (DROP max_parallel);

DROP VIEW status_mismatches;
DROP FUNCTION reference_last_success(text, bigint);
DROP FUNCTION backup_error(bigint, text, jsonb);
DROP SERVER fs CASCADE;
DROP SERVER fs_other CASCADE;
