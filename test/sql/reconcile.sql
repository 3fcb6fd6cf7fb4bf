--
-- reconcile: ocp_backup_reconcile decides from what OCP documents.  A row
-- of OCP's task list has no createTime and no type (the simulator's rows
-- have exactly the documented fields): those come from each candidate's
-- detail, read concurrently.  A task whose time or identity cannot be
-- established leaves its call unsettled, never settled as "none"; a task
-- journaled under another server reaching the same OCP is not a call's; a
-- task row another open transaction is journaling is skipped, not waited
-- on; with AK/SK the note says the creator was not checked.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
SET datestyle = 'ISO';
\set storage '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}'
SELECT sim_reset();
SELECT journal_writer_caught_up();
TRUNCATE ocp_backup.invocation RESTART IDENTITY CASCADE;
SELECT sim_config('{"task_id_base": 7000001, "task_seconds": 3600}');
-- Two servers reaching one OCP; a call that gets no answer gives up after
-- 300 ms and is not retried.
CREATE SERVER recon_a FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', timeout_ms '300', retries '0');
CREATE SERVER recon_b FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', timeout_ms '300', retries '0');
CREATE USER MAPPING FOR PUBLIC SERVER recon_a OPTIONS (username 'admin', password 'admin');
CREATE USER MAPPING FOR PUBLIC SERVER recon_b OPTIONS (username 'admin', password 'admin');
-- A call whose answer is lost, journaled with its outcome unknown.
CREATE FUNCTION lost_call(cluster_id bigint, server text, kind text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sim_fault(jsonb_build_object('kind', kind, 'bytes', 0, 'path', '/clusters/' || cluster_id || '/'));
  BEGIN
    PERFORM * FROM ocp_backup_now(cluster_id, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
                                  '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}',
                                  server);
  EXCEPTION WHEN connection_failure THEN
    RETURN true;
  END;
  RETURN false;
END $$;
-- Waits until OCP can no longer create the task of any unsettled call: its
-- window (its 300 ms, and the margin) has passed, once the journal writer
-- has written the rows handed to it.  A session's call log whose
-- transaction is still open (the dblink session below) holds rows not
-- handed over yet (a log is named time-pid-n.jsonl).
CREATE FUNCTION windows_passed(margin interval) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  logs text := current_setting('data_directory') || '/pg_ocp_backup/'
               || (SELECT oid FROM pg_database WHERE datname = current_database());
BEGIN
  RETURN wait_for(format($q$NOT EXISTS (SELECT FROM pg_ls_dir(%L, true, false) f
                                         WHERE f LIKE '%%.jsonl' AND (pg_stat_file(%L || '/' || f, true)).size > 0
                                           AND split_part(f, '-', 2)::int NOT IN
                                               (SELECT pid FROM pg_stat_activity
                                                 WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()))$q$,
                         logs, logs))
     AND wait_for(format($q$NOT EXISTS (SELECT FROM ocp_backup.invocation
                                         WHERE outcome_unknown AND reconciled_at IS NULL
                                           AND greatest(finished_at, started_at + interval '300 ms') + %L::interval
                                               >= clock_timestamp())$q$, margin));
END $$;
CREATE FUNCTION outcomes(OUT cluster_id bigint, OUT server_name text, OUT reconciled boolean,
                         OUT task_id bigint, OUT reconciliation text)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT i.cluster_id, i.server_name, i.reconciled_at IS NOT NULL, t.task_id,
         regexp_replace(regexp_replace(i.reconciliation,
                                       '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?', '…', 'g'),
                        'OCP trace id [0-9a-f]+', 'OCP trace id …')
    FROM ocp_backup.invocation i LEFT JOIN ocp_backup.task t ON t.invocation_id = i.id
   WHERE i.outcome_unknown ORDER BY i.id $$;

-- 1. Two servers, one OCP.  Through recon_a a backup of cluster 501
-- starts (task 7000001, journaled under recon_a); just after, a call of
-- the same cluster through recon_b gets no answer (OCP never saw it:
-- "hang" answers nothing and starts nothing).  The task lies in that
-- call's window and matches its account, cluster and tenant, but it is
-- recon_a's call's: recon_b's call started nothing.
SELECT task_id FROM ocp_backup_now(501, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'recon_a');
SELECT lost_call(501, 'recon_b', 'hang') AS lost;
SELECT windows_passed('1 second');
SELECT ocp_backup_reconcile('recon_b', margin => '1 second') AS settled;
SELECT * FROM outcomes();
-- Its cluster's list was read; the journaled task needs no detail.
SELECT path FROM sim_wire() WHERE path LIKE '/api/v2/tasks/instances%' ORDER BY seq;

-- 2. A call whose task's detail gives no createTime (OCP's detail
-- documents it, but the reader copes without it), and one whose task's
-- detail cannot be read: both stay unsettled with a note, never "none".
-- The next run, with the details readable, settles both with their tasks.
SELECT lost_call(502, 'recon_a', 'stall') AS lost;
SELECT lost_call(503, 'recon_a', 'stall') AS lost;
SELECT task_id, cluster_id FROM ocp_backup.task WHERE task_id > 7000001 ORDER BY 1;
SELECT windows_passed('1 second');
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 200, 'path', '/tasks/instances/7000002', 'body',
  jsonb_build_object('successful', true, 'status', 200, 'data',
    '{"id": 7000002, "name": "Backup cluster", "status": "RUNNING", "type": "MANUAL", "creator": {"id": 1, "name": "admin"}, "cluster": {"id": 502}}'::jsonb)));
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error.", "path": "/tasks/instances/7000003"}');
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id IN (502, 503);
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id IN (502, 503);

-- 3. A task OCP's schedule started (type SCHEDULED in its detail) is no
-- call's: the call is settled as starting nothing.
SELECT lost_call(504, 'recon_a', 'stall') AS lost;
SELECT windows_passed('1 second');
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 200, 'path', '/tasks/instances/7000004', 'body',
  jsonb_build_object('successful', true, 'status', 200, 'data',
    jsonb_build_object('id', 7000004, 'name', 'Backup cluster', 'status', 'RUNNING', 'type', 'SCHEDULED',
                       'creator', '{"id": 1, "name": "admin"}'::jsonb, 'cluster', '{"id": 504}'::jsonb,
                       'createTime', (SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                                        FROM ocp_backup.invocation WHERE cluster_id = 504))))) AS fault;
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id = 504;

-- 4. A task row another transaction is journaling: a call of cluster 505
-- is lost, then another session's call of the same cluster starts task
-- 7000005, its transaction still open.  The reconcile neither waits for
-- that transaction nor takes its task: the lost call is left for the next
-- run, which, once the other call is committed, settles it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT lost_call(505, 'recon_a', 'hang') AS lost;
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
                                      current_setting('port'), current_setting('unix_socket_directories')));
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', format($$SELECT task_id FROM ocp_backup_now(505, 'PHYSICAL_BACKUP', 'FULL_BACKUP', %L, 'recon_a')$$, :'storage')) AS t(task_id bigint);
SELECT windows_passed('1 second');
SET lock_timeout = '10s';
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
RESET lock_timeout;
SELECT * FROM outcomes() WHERE cluster_id = 505;
SELECT dblink_exec('other', 'COMMIT');
SELECT dblink_disconnect('other');
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id = 505;

-- 5. With AK/SK, the OCP user an access key belongs to is not known here:
-- the task is taken, and the note says its creator was not checked.
\getenv ak OCP_SIM_ACCESS_KEY_ID
\getenv sk OCP_SIM_ACCESS_KEY_SECRET
CREATE SERVER recon_ak FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', timeout_ms '300', retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER recon_ak
  OPTIONS (access_key_id :'ak', access_key_secret :'sk');
SELECT lost_call(506, 'recon_ak', 'stall') AS lost;
SELECT windows_passed('1 second');
SELECT ocp_backup_reconcile('recon_ak', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id = 506;

-- 6. The reads go at once, at most max_parallel in flight: eight lost calls
-- of eight clusters, OCP answering each request 100 ms late: one list
-- and one detail read per cluster.  A task list row carries no createTime:
-- each call is settled from its task's detail.
ALTER SERVER recon_b OPTIONS (ADD max_parallel '4');
SELECT count(*) FILTER (WHERE lost_call(c, 'recon_b', 'stall')) AS lost
  FROM generate_series(511, 518) c;
SELECT windows_passed('1 second');
SELECT sim_config('{"answer_delay_ms": 100}');
SELECT s FROM sim_call('DELETE', '/__sim/connections/in_flight_peak') s WHERE false;
SELECT seq AS before_seq FROM sim_wire() ORDER BY seq DESC LIMIT 1 \gset
SELECT ocp_backup_reconcile('recon_b', margin => '1 second') AS settled;
SELECT (s::jsonb ->> 'in_flight_peak')::int BETWEEN 2 AND 4 AS concurrent_within_max_parallel
  FROM sim_call('GET', '/__sim/connections') s;
SELECT count(*) FILTER (WHERE path LIKE '/api/v2/tasks/instances?%') AS list_reads,
       count(*) FILTER (WHERE path ~ '^/api/v2/tasks/instances/\d+$') AS detail_reads
  FROM sim_wire() WHERE seq > :before_seq;
SELECT sim_config('{"answer_delay_ms": 0}');
SELECT count(*) FILTER (WHERE reconciled AND task_id IS NOT NULL) AS settled_with_their_task
  FROM outcomes() WHERE cluster_id BETWEEN 511 AND 518;

-- 7. OCP throttles the read of a task's detail (429): the call stays
-- unsettled with a note, a WARNING says so, and the next run settles it.
SELECT lost_call(519, 'recon_a', 'stall') AS lost;
SELECT windows_passed('1 second');
SELECT sim_fault('{"kind": "rate_limit", "reset": 0, "path": "/tasks/instances/7000015"}');
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id = 519;
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id = 519;

-- 8. A task's detail without its creator: who started the task cannot be
-- established, so it may be the call's and may not: unsettled, with a note.
SELECT lost_call(520, 'recon_a', 'stall') AS lost;
SELECT windows_passed('1 second');
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 200, 'path', '/tasks/instances/7000016', 'body',
  jsonb_build_object('successful', true, 'status', 200, 'data',
    jsonb_build_object('id', 7000016, 'name', 'Backup cluster', 'status', 'RUNNING', 'type', 'MANUAL',
                       'cluster', '{"id": 520}'::jsonb,
                       'createTime', (SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                                        FROM ocp_backup.invocation WHERE cluster_id = 520))))) AS fault;
SELECT ocp_backup_reconcile('recon_a', margin => '1 second') AS settled;
SELECT * FROM outcomes() WHERE cluster_id = 520;

DROP FUNCTION lost_call(bigint, text, text);
DROP FUNCTION windows_passed(interval);
DROP FUNCTION outcomes();
DROP SERVER recon_a CASCADE;
DROP SERVER recon_b CASCADE;
DROP SERVER recon_ak CASCADE;
