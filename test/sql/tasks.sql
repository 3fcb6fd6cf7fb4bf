--
-- tasks: following backups to their end.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
-- Each of the task's four subtasks lasts 1.5 s: long enough for the calls
-- before the wait, and for each of its polls, on a loaded machine.
SELECT sim_config('{"task_seconds": 6}');
TRUNCATE ocp_backup.invocation CASCADE;

-- ocp_backup_now records one task row per task id, status unknown yet.
SELECT task_id AS task1 FROM ocp_backup_now(31, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
SELECT task_id = :task1 AS same_task, cluster_id, status, last_checked_at FROM ocp_backup.task;

-- One task, as a row.
SELECT task_id = :task1 AS same_task, name, status, type, cluster_id, cluster_name, tenant_id, creator,
       create_time <= now() AS created, start_time IS NOT NULL AS started, finish_time,
       subtasks_total, subtasks_done, failed_subtask
  FROM ocp_backup_task(:task1);
SELECT * FROM ocp_backup_task(987654321);
SELECT * FROM ocp_backup_task(-1);

-- Waiting reports progress and returns the final status.
SELECT ocp_backup_wait(:task1, poll => '0.2 seconds');
SELECT status, subtasks_done, subtasks_total, finish_time IS NOT NULL AS finished FROM ocp_backup.task;

-- Its own timeout is a distinct error with the last status.
SELECT sim_config('{"task_seconds": 3600}');
SELECT task_id AS task2 FROM ocp_backup_now(32, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
SELECT ocp_backup_wait(:task2, timeout => '0.3 seconds', poll => '0.1 seconds');
-- Its SQLSTATE, detail and hint (try() shows them without the server's
-- source location, which changes from release to release).
SELECT try(format('SELECT ocp_backup_wait(%s, timeout => %L, poll => %L)', :task2, '0 seconds', '0.1 seconds'));
-- statement_timeout cancels a wait like any query.
-- (Without its context: the cancel may land in a poll or in the sleep.)
SET statement_timeout = '300ms';
\set SHOW_CONTEXT never
SELECT ocp_backup_wait(:task2, poll => '0.1 seconds');
\set SHOW_CONTEXT errors
RESET statement_timeout;

-- A failed task, followed by refresh; an unknown task and an unreachable
-- server are recorded without stopping the others.
SELECT sim_config('{"task_seconds": 0.1, "task_outcome": "FAILED"}');
SELECT task_id AS task3 FROM ocp_backup_now(33, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
SELECT pg_sleep(0.3);
INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id)
SELECT 987654321, max(id), 'ocp', 35 FROM ocp_backup.invocation;
CREATE SERVER gone FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1');
CREATE USER MAPPING FOR PUBLIC SERVER gone OPTIONS (username 'admin', password 'admin');
INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id)
SELECT 987654322, max(id), 'gone', 34 FROM ocp_backup.invocation;
SELECT sim_post_task_status(:task2, 'SUCCESSFUL');
SELECT ocp_backup_refresh();
SELECT task_id IN (:task1, :task2, :task3) AS ours, cluster_id, status, failed_subtask,
       last_checked_at IS NOT NULL AS checked, last_error
  FROM ocp_backup.task ORDER BY cluster_id;
-- Terminal tasks are not polled again.
SELECT ocp_backup_refresh();
SELECT ocp_backup_refresh(1);

-- Per-cluster health: "no successful backup in 24 h" is one WHERE clause.
SELECT server_name, cluster_id, last_invocation_successful, last_task_status,
       last_success_at IS NOT NULL AS has_success, successes_7d, failures_7d
  FROM ocp_backup.cluster_status ORDER BY cluster_id;
SELECT server_name, cluster_id FROM ocp_backup.cluster_status
 WHERE last_success_at IS NULL OR last_success_at < now() - interval '24 hours'
 ORDER BY cluster_id;

-- An operator with EXECUTE and USAGE only can wait, and the task row is
-- updated for it.
SELECT sim_config('{"task_seconds": 0.3, "task_outcome": "SUCCESSFUL"}');
SELECT task_id AS task4 FROM ocp_backup_now(36, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp') \gset
CREATE ROLE ocp_waiter LOGIN;
GRANT EXECUTE ON FUNCTION ocp_backup_wait(bigint, interval, interval, text),
                          ocp_backup_task(bigint, text) TO ocp_waiter;
GRANT USAGE ON FOREIGN SERVER ocp TO ocp_waiter;
SET ROLE ocp_waiter;
SET client_min_messages = warning;
SELECT ocp_backup_wait(:task4, poll => '0.1 seconds', server => 'ocp');
RESET client_min_messages;
RESET ROLE;
SELECT cluster_id, status, subtasks_done FROM ocp_backup.task WHERE task_id = :task4;
REVOKE ALL ON FUNCTION ocp_backup_wait(bigint, interval, interval, text),
                       ocp_backup_task(bigint, text) FROM ocp_waiter;

DROP SERVER gone CASCADE;
DROP SERVER ocp CASCADE;
DROP ROLE ocp_waiter;
