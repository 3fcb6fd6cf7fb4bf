--
-- cron: ocp_backup under pg_cron, as DBAs run it at night.  pg_cron 1.4
-- schedules by the minute, so this suite waits for one tick (up to a minute).
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 0.5}');
-- Earlier suites' failed calls are in the journal before it is emptied.
SELECT journal_writer_caught_up();
TRUNCATE ocp_backup.invocation, ocp_backup.cluster, ocp_backup.tenant, ocp_backup.backup_history CASCADE;
-- OCP's inventory, for a scheduled sync: one cluster its schedule backs up.
SELECT sim_fleet('{"clusters": [{"id": 41, "name": "nightly", "tenants": [{"id": 411, "name": "sys"}], "history": [{"taskId": 1, "status": "DONE", "started_ago": 7200, "finished_ago": 3600}]}]}') ->> 'clusters' AS clusters;

\c postgres
\set ECHO none
\i test/sql/include/wait_for.sql
\set ECHO all
CREATE EXTENSION pg_cron;
-- A nightly backup; a job whose transaction fails after the call; a refresh
-- that follows the tasks to their end.  (One transaction: every job runs
-- from the same minute's tick.)
BEGIN;
SELECT cron.schedule_in_database('backup-41', '* * * * *',
  $$SELECT * FROM ocp_backup_now(41, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}')$$,
  'contrib_regression') > 0 AS scheduled;
SELECT cron.schedule_in_database('backup-42-then-fail', '* * * * *',
  $cmd$DO $job$ BEGIN
      PERFORM * FROM ocp_backup_now(42, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}');
      PERFORM 1 / 0;
    END $job$$cmd$,
  'contrib_regression') > 0 AS scheduled;
SELECT cron.schedule_in_database('sync', '* * * * *',
  'SELECT * FROM ocp_backup_sync()', 'contrib_regression') > 0 AS scheduled;
SELECT cron.schedule_in_database('refresh', '* * * * *',
  $cmd$DO $job$ BEGIN
      -- Until both backups' tasks are journaled (the failed job's comes back
      -- after its rollback), at most 30 s; then until they are done.
      FOR i IN 1..150 LOOP
        EXIT WHEN (SELECT count(*) FROM ocp_backup.task WHERE cluster_id IN (41, 42)) >= 2;
        PERFORM pg_sleep(0.2);
      END LOOP;
      PERFORM pg_sleep(1);
      PERFORM ocp_backup_refresh();
    END $job$$cmd$,
  'contrib_regression') > 0 AS scheduled;
COMMIT;

-- Wait for one run of each job.
SELECT wait_for($$(SELECT count(DISTINCT jobid) FROM cron.job_run_details
                    WHERE status IN ('succeeded', 'failed')) >= 4$$) AS each_job_ran;
SELECT j.jobname, d.status, d.return_message
  FROM cron.job j JOIN cron.job_run_details d USING (jobid)
 WHERE d.runid = (SELECT min(runid) FROM cron.job_run_details WHERE jobid = j.jobid)
 ORDER BY j.jobname;
SELECT count(*) AS unscheduled FROM cron.job, LATERAL cron.unschedule(jobid) u WHERE u;
DROP EXTENSION pg_cron;

\c contrib_regression
-- Both backups are journaled, the failed job's too (it came back after the
-- rollback), and the refresh brought the tasks to their end.
-- (The first of each: a job may have run at two ticks.)
SELECT DISTINCT ON (cluster_id) cluster_id, invoked_by, successful, cardinality(task_ids) AS tasks
  FROM ocp_backup.invocation ORDER BY cluster_id, id;
SELECT DISTINCT ON (cluster_id) cluster_id, status, subtasks_done, last_error
  FROM ocp_backup.task ORDER BY cluster_id, task_id;
-- The scheduled sync mirrored OCP's inventory and history.
SELECT server_name, cluster_id, cluster_name FROM ocp_backup.cluster;
-- (Job 1 is the schedule's; the simulator adds one for the SQL call's task.)
SELECT cluster_id, job_id, status FROM ocp_backup.backup_history WHERE job_id = 1;
SELECT server_name, cluster_id, cluster_name, last_invocation_successful, last_task_status,
       last_success_at IS NOT NULL AS backed_up
  FROM ocp_backup.cluster_status ORDER BY cluster_id;

DROP SERVER ocp CASCADE;
