--
-- fleet: OCP's inventory and backup history mirrored by ocp_backup_sync,
-- the cluster_status view over both sources, tenant backups, and
-- ocp_backup_reconcile for calls whose outcome is unknown.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER fleet FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER fleet OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
-- Earlier suites' failed calls are in the journal before it is emptied.
SELECT journal_writer_caught_up();
TRUNCATE ocp_backup.invocation, ocp_backup.cluster, ocp_backup.tenant, ocp_backup.backup_history RESTART IDENTITY CASCADE;

-- Six clusters, as OCP's own schedule left them: fresh, stale, never
-- backed up, failing, one backing up now, and one whose old backup is stuck
-- behind newer ones.  Two rows per page, so that every list takes several
-- pages.
SELECT sim_config('{"list_page_limit": 2}');
SELECT sim_fleet($${"clusters": [
  {"id": 101, "name": "prod-a", "tenants": [{"id": 1011, "name": "sys"}, {"id": 1012, "name": "orders"}, {"id": 1013, "name": "billing", "mode": "ORACLE"}],
   "history": [{"taskId": 1, "dataBackupTaskType": "FULL_BACKUP", "status": "DONE", "started_ago": 180000, "finished_ago": 176400},
               {"taskId": 2, "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "DONE", "started_ago": 93600, "finished_ago": 90000},
               {"taskId": 3, "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "DONE", "started_ago": 10800, "finished_ago": 7200}]},
  {"id": 102, "name": "prod-b", "tenants": [{"id": 1021, "name": "sys"}],
   "history": [{"taskId": 1, "status": "DONE", "started_ago": 111600, "finished_ago": 108000}]},
  {"id": 103, "name": "prod-c", "tenants": [{"id": 1031, "name": "sys"}, {"id": 1032, "name": "users"}]},
  {"id": 104, "name": "prod-d", "tenants": [{"id": 1041, "name": "sys"}],
   "history": [{"taskId": 8, "status": "DONE", "started_ago": 183600, "finished_ago": 180000,
                "backupUri": "oss://bucket/prod-d?host=oss.example&access_id=AKID-hist&access_key=hist-secret-1"},
               {"taskId": 9, "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "FAILED", "started_ago": 7200, "finished_ago": 3600, "errorMsg": "backup destination is full"}]},
  {"id": 105, "name": "prod-e", "status": "RUNNING", "tenants": [{"id": 1051, "name": "sys"}],
   "history": [{"taskId": 4, "status": "DONE", "started_ago": 39600, "finished_ago": 36000},
               {"taskId": 5, "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "DOING", "started_ago": 600}]},
  {"id": 106, "name": "prod-f", "tenants": [{"id": 1061, "name": "sys"}],
   "history": [{"taskId": 7, "status": "DOING", "started_ago": 180000},
               {"taskId": 8, "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "DONE", "started_ago": 75600, "finished_ago": 72000},
               {"taskId": 9, "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "DONE", "started_ago": 10800, "finished_ago": 7200}]}
]}$$) - 'clusters' - 'jobs' - 'tenants';

-- The first sync reads every page of every list: one row for the server.
SELECT * FROM ocp_backup_sync();
SELECT regexp_replace(path, '[0-9]{3}/', 'N/') AS list, count(*) AS requests
  FROM sim_wire() GROUP BY 1 ORDER BY 1;
SELECT server_name, cluster_id, cluster_name, ob_cluster_id, ob_version, cluster_type, status,
       first_seen_at = last_seen_at AS new, missing_since
  FROM ocp_backup.cluster ORDER BY cluster_id;
SELECT cluster_id, tenant_id, tenant_name, mode, status, locked, read_only, create_time < now() AS created
  FROM ocp_backup.tenant ORDER BY tenant_id;
SELECT cluster_id, job_id, backup_set_id, backup_mode, backup_type, status,
       round(extract(epoch FROM now() - start_time) / 3600) AS started_hours_ago,
       round(extract(epoch FROM now() - finish_time) / 3600) AS finished_hours_ago,
       error, backup_uri
  FROM ocp_backup.backup_history ORDER BY cluster_id, job_id;
-- A backup URI's credentials are not kept.
SELECT count(*) AS secrets_kept FROM ocp_backup.backup_history h WHERE h::text LIKE '%hist-secret-1%';

-- The DBA's question, one WHERE clause: which cluster has no good backup
-- in 24 hours?  The stale one, the failing one, and the one never backed up.
SELECT cluster_id, cluster_name, last_success_at IS NULL AS never
  FROM ocp_backup.cluster_status
 WHERE last_success_at IS NULL OR last_success_at < now() - interval '24 hours'
 ORDER BY cluster_id;
SELECT cluster_id, ocp_status,
       round(extract(epoch FROM now() - last_success_at) / 3600) AS success_hours_ago,
       round(extract(epoch FROM now() - last_full_backup_at) / 3600) AS full_hours_ago,
       round(extract(epoch FROM now() - last_failure_at) / 3600) AS failure_hours_ago,
       last_failure_error, backup_running, successes_7d, failures_7d,
       last_invocation_at, last_invocation_successful, last_task_status
  FROM ocp_backup.cluster_status ORDER BY cluster_id;
-- Tenants without a backup of their own or of their cluster in 24 hours.
SELECT t.cluster_id, t.tenant_name
  FROM ocp_backup.tenant t
 WHERE t.missing_since IS NULL
   AND NOT EXISTS (SELECT FROM ocp_backup.backup_history h
                    WHERE h.server_name = t.server_name AND h.cluster_id = t.cluster_id
                      AND (h.tenant_id IS NULL OR h.tenant_id = t.tenant_id)
                      AND h.status = 'DONE' AND h.finish_time > now() - interval '24 hours')
 ORDER BY t.tenant_id;

-- OCP's schedule goes on: prod-e's backup ends, prod-b's starts, prod-f's
-- stuck one fails.  The next sync updates jobs in place, adds the new one,
-- and stops paging a history at a page with a job already recorded as
-- finished: one page per cluster this time, but for prod-f, whose stuck job
-- lies on its second page.
SELECT s::jsonb ->> 'status' AS updated
  FROM sim_call('POST', '/__sim/fleet/clusters/105/jobs/5', '{"status": "DONE", "finished_ago": 60}') s;
SELECT s::jsonb ->> 'status' AS updated
  FROM sim_call('POST', '/__sim/fleet/clusters/106/jobs/7', '{"status": "FAILED", "finished_ago": 30, "errorMsg": "stuck, cancelled by OCP"}') s;
SELECT s::jsonb ->> 'status' AS appended
  FROM sim_call('POST', '/__sim/fleet/clusters/102/jobs', '{"taskId": 2, "status": "DOING", "started_ago": 30}') s;
SELECT max(seq) AS seen FROM sim_wire() \gset
SELECT * FROM ocp_backup_sync('fleet');
SELECT regexp_replace(path, '[0-9]{3}/', 'N/') AS list, count(*) AS requests
  FROM sim_wire() WHERE seq > :seen AND path LIKE '%dataBackupTasks%' GROUP BY 1 ORDER BY 1;
SELECT regexp_replace(path, '.*clusters/([0-9]+)/.*page=([0-9]+).*', 'cluster \1 page \2') AS read
  FROM sim_wire() WHERE seq > :seen AND path LIKE '%dataBackupTasks%' AND path NOT LIKE '%page=1&%' ORDER BY seq;
SELECT cluster_id, job_id, status, finish_time IS NOT NULL AS finished, updated_at > first_seen_at AS changed, error
  FROM ocp_backup.backup_history WHERE cluster_id IN (102, 105, 106) ORDER BY cluster_id, job_id;
SELECT count(*) AS jobs, count(DISTINCT (cluster_id, job_id)) AS distinct_jobs FROM ocp_backup.backup_history;
SELECT cluster_id, backup_running, round(extract(epoch FROM now() - last_success_at) / 3600) AS success_hours_ago,
       last_success_at > now() - interval '10 minutes' AS just_now, last_failure_error
  FROM ocp_backup.cluster_status WHERE cluster_id IN (102, 105, 106) ORDER BY cluster_id;

-- A cluster OCP stops listing is marked, not deleted, and keeps its history.
SELECT s AS deleted FROM sim_call('DELETE', '/__sim/fleet/clusters/104') s;
SELECT * FROM ocp_backup_sync('fleet');
SELECT cluster_id, missing_since IS NOT NULL AS missing FROM ocp_backup.cluster ORDER BY cluster_id;
SELECT count(*) AS prod_d_jobs FROM ocp_backup.backup_history WHERE cluster_id = 104;
SELECT cluster_id, cluster_name, missing_since IS NOT NULL AS missing
  FROM ocp_backup.cluster_status WHERE cluster_id = 104;

-- A server that fails does not stop the others; its row says why, and it
-- keeps the rows of its last sync.
CREATE SERVER fleet_down FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url 'http://127.0.0.1:9', connect_timeout_ms '2000');
CREATE USER MAPPING FOR PUBLIC SERVER fleet_down OPTIONS (username 'admin', password 'admin');
-- (Its WARNING quotes libcurl, whose words change between versions.)
SET client_min_messages = error;
SELECT server_name, clusters, clusters_missing, tenants, backup_jobs, error_code,
       regexp_replace(error, 'libcurl: .*', 'libcurl: ...') AS error
  FROM ocp_backup_sync() ORDER BY server_name;
RESET client_min_messages;
-- An answer that is not a list fails that server the same way.
SELECT sim_fault('{"kind": "raw", "status": 200, "body": {"successful": true, "status": 200, "data": {"items": []}}, "path": "/api/v2/ob/clusters?"}');
SELECT server_name, clusters, error_code, error FROM ocp_backup_sync('fleet');
SELECT count(*) AS clusters_kept FROM ocp_backup.cluster WHERE server_name = 'fleet';
-- A cluster whose backups OCP fails to list leaves the others synced.
-- (One request at a time: the trace id in the error counts the requests
-- before it, which concurrent reads would send in any order.)
ALTER SERVER fleet OPTIONS (ADD max_parallel '1');
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error.", "path": "/clusters/102/backup/task/dataBackupTasks"}');
SELECT server_name, clusters, clusters_failed, tenants, error_code, error FROM ocp_backup_sync('fleet');
ALTER SERVER fleet OPTIONS (DROP max_parallel);
DROP SERVER fleet_down CASCADE;
-- Overlapping syncs of a server do not wait for each other: the second
-- skips the server with 55P03 in its row (the lock_timeout only keeps the
-- suite from hanging if it waited), and a later sync finds the rows in
-- place, without duplicates.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT clusters, error FROM ocp_backup_sync('fleet')$$) AS t(clusters int, error text);
SET lock_timeout = '200ms';
SELECT server_name, clusters, error_code, error FROM ocp_backup_sync('fleet');
RESET lock_timeout;
SELECT dblink_exec('other', 'COMMIT');
SELECT dblink_disconnect('other');
SELECT server_name, clusters, error_code FROM ocp_backup_sync('fleet');
SELECT count(*) AS jobs, count(DISTINCT (cluster_id, job_id)) AS distinct_jobs FROM ocp_backup.backup_history;

-- A server named is an argument: what is wrong with it is raised.
SELECT * FROM ocp_backup_sync('no_such_server');

-- A cluster only the journal has seen has a row too, and a task started
-- from SQL counts as a success.
SELECT sim_config('{"task_seconds": 0}');
SELECT task_id AS sql_task FROM ocp_backup_now(777, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fleet') \gset
SELECT status FROM ocp_backup_task(:sql_task, 'fleet');
SELECT cluster_id, cluster_name, last_success_at > now() - interval '1 minute' AS just_now,
       last_full_backup_at = last_success_at AS full, last_invocation_successful
  FROM ocp_backup.cluster_status WHERE cluster_id = 777;

-- Tenant backups: OCP's tenant path and a TENANT backup object; the
-- journal and the rows carry the tenant.
SELECT sim_reset();
SELECT sim_fleet('{"clusters": [{"id": 103, "name": "prod-c", "tenants": [{"id": 1031, "name": "sys"}, {"id": 1032, "name": "users"}]}]}') ->> 'clusters' AS clusters;
SELECT sim_config('{"task_seconds": 0}');
SELECT cluster_id, tenant_id, backup_dimension, successful, error_code
  FROM ocp_backup_now(103, 'PHYSICAL_BACKUP', 'INCREMENTAL_BACKUP', :'storage', 'fleet', tenant_id => 1032);
SELECT method, path, body::jsonb -> 'obBackupObject' AS backup_object FROM sim_wire();
SELECT cluster_id, tenant_id, successful, request -> 'obBackupObject' AS journaled_object
  FROM ocp_backup.invocation WHERE tenant_id IS NOT NULL;
-- A tenant OCP does not have, and tenant ids that cannot be.
SELECT try($$SELECT * FROM ocp_backup_now(103, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet', 1099)$$);
SELECT try($$SELECT * FROM ocp_backup_now(103, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{}', 'fleet', 0)$$);
SELECT count(*) AS requests FROM sim_wire();
-- Passing no tenant backs up the whole cluster, as in 1.0.
SELECT cluster_id, tenant_id, backup_dimension
  FROM ocp_backup_now(103, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fleet', NULL);
SELECT path FROM sim_wire() ORDER BY seq DESC LIMIT 1;

-- Reconciling: calls whose outcome is unknown.  OCP starts the backup but
-- its answer never comes (a stall past timeout_ms)...
SELECT sim_reset();
-- Task ids of their own: ocp_backup.task knows those of the calls above.
SELECT sim_config('{"task_seconds": 3600, "task_id_base": 5000001}');
ALTER SERVER fleet OPTIONS (ADD timeout_ms '400');
SELECT sim_fault('{"kind": "stall", "bytes": 0, "path": "/clusters/301/"}');
SELECT try($$SELECT * FROM ocp_backup_now(301, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet')$$) ~ '^08006' AS timed_out;
-- ... OCP never sees the request's end (a hang: no task) ...
SELECT sim_fault('{"kind": "hang", "path": "/clusters/302/"}');
SELECT try($$SELECT * FROM ocp_backup_now(302, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet')$$) ~ '^08006' AS timed_out;
-- ... the answer is lost, then a second call of the same cluster starts a
-- task that is journaled: that task is not the lost call's ...
SELECT sim_fault('{"kind": "hang", "path": "/clusters/303/"}');
SELECT try($$SELECT * FROM ocp_backup_now(303, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet')$$) ~ '^08006' AS timed_out;
SELECT task_id AS journaled_task FROM ocp_backup_now(303, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fleet') \gset
-- ... and a cancel (statement_timeout) while OCP stalls after starting one.
ALTER SERVER fleet OPTIONS (SET timeout_ms '10000');
SELECT sim_fault('{"kind": "stall", "bytes": 0, "path": "/clusters/304/"}');
SET statement_timeout = '300ms';
SELECT * FROM ocp_backup_now(304, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'fleet');
RESET statement_timeout;
SELECT journal_rows_eventually('cluster_id = 304');
-- ... and a tenant's backup whose answer stalls: the tenant's task is found.
ALTER SERVER fleet OPTIONS (SET timeout_ms '400');
SELECT sim_fault('{"kind": "stall", "bytes": 0, "path": "/clusters/306/"}');
SELECT try($$SELECT * FROM ocp_backup_now(306, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet', 3062)$$) ~ '^08006' AS timed_out;
-- A call that provably never left is no unknown.
CREATE SERVER fleet_closed FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:9');
CREATE USER MAPPING FOR PUBLIC SERVER fleet_closed OPTIONS (username 'admin', password 'admin');
SELECT try($$SELECT * FROM ocp_backup_now(305, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet_closed')$$) ~ '^08001' AS refused;
-- ... and, while OCP hangs on a call, someone else backs the cluster up in
-- OCP's console: that task is not the call's.
CREATE FUNCTION ocp_console_backup(cluster_id bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY sim_lines (line) FROM PROGRAM %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
                 'curl -sS --noproxy ''*'' -u operator:op-secret -H ''Content-Type: application/json'' '
                 || '--data-binary ''{"backupMode": "PHYSICAL_BACKUP", "dataBackupMode": "FULL_BACKUP", '
                 || '"obBackupServiceStorageConfig": {"configName": "c", "obBackupStorageBaseInfo": '
                 || '{"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}}'' '
                 || (SELECT url FROM sim) || '/api/v2/ob/clusters/' || cluster_id || '/backup/backupNow',
                 E'\x01', E'\x02');
  RETURN (SELECT line::jsonb #>> '{data,backupObjectOpsResultList,0,beSuccessful}' FROM sim_lines ORDER BY n DESC LIMIT 1);
END $$;
SELECT sim_fault('{"kind": "hang", "path": "/clusters/307/"}');
SELECT try($$SELECT * FROM ocp_backup_now(307, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet')$$) ~ '^08006' AS timed_out;
SELECT ocp_console_backup(307) AS console_backup_started;
-- A failed call's row reaches the journal through the writer, after the
-- statement's end: the listing waits for the writer.
SELECT journal_writer_caught_up();
SELECT cluster_id, http_status, successful, outcome_unknown, reconciled_at
  FROM ocp_backup.invocation WHERE cluster_id BETWEEN 301 AND 307 ORDER BY id;
-- Until a call's window has passed (its timeout, and the margin allowed for
-- the clocks of PostgreSQL and OCP to differ, 2 minutes by default), OCP may
-- still create its task: nothing is settled yet.
SELECT ocp_backup_reconcile();
SELECT count(*) AS reconciled FROM ocp_backup.invocation WHERE reconciled_at IS NOT NULL;
-- Past the window (margin 3 seconds here), with one task per page of the
-- task list: paging goes on until the task is found or the last page read.
SELECT pg_sleep(3.5);
SELECT sim_config('{"list_page_limit": 1}');
-- One read at a time, so that the answers' trace ids come in order (the
-- reads in flight at once are test/sql/reconcile.sql's).
ALTER SERVER fleet OPTIONS (ADD max_parallel '1');
-- One call whose cluster's tasks OCP fails to list stays unsettled; the
-- others are settled, and it is at the next run.
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error.", "path": "clusterId=302&"}');
SELECT ocp_backup_reconcile(margin => '3 seconds');
SELECT cluster_id FROM ocp_backup.invocation WHERE outcome_unknown AND reconciled_at IS NULL;
SELECT ocp_backup_reconcile(margin => '3 seconds');
SELECT i.cluster_id, i.tenant_id, i.outcome_unknown, i.reconciled_at IS NOT NULL AS reconciled,
       regexp_replace(i.reconciliation, ',? created .*', '') AS reconciliation,
       t.task_id IS NOT NULL AS has_task, t.task_id = :journaled_task AS took_journaled, t.status
  FROM ocp_backup.invocation i LEFT JOIN ocp_backup.task t ON t.invocation_id = i.id
 WHERE i.cluster_id BETWEEN 301 AND 307 ORDER BY i.id;
-- The task found is OCP's, of that cluster: read back from OCP.
SELECT t.cluster_id, (ocp_backup_task(t.task_id, 'fleet')).cluster_id AS ocp_cluster,
       (ocp_backup_task(t.task_id, 'fleet')).tenant_id AS ocp_tenant
  FROM ocp_backup.task t WHERE t.cluster_id BETWEEN 301 AND 307 ORDER BY t.task_id;
SELECT count(*) AS task_reads FROM sim_wire() WHERE path LIKE '/api/v2/tasks/instances?%';
-- Idempotent: nothing is left to settle.
SELECT ocp_backup_reconcile('fleet', margin => '3 seconds');
SELECT ocp_backup_reconcile('fleet', '-1 day');
SELECT ocp_backup_reconcile('fleet', margin => NULL);
ALTER SERVER fleet OPTIONS (DROP max_parallel);
DROP FUNCTION ocp_console_backup(bigint);
SELECT sim_config('{"list_page_limit": null}');

-- Rights: sync and reconcile are granted to nobody; granted, an operator
-- with USAGE and a mapping writes OCP's inventory only through them, with
-- the journal owner's rights and pinned names.  Its mapping is its own: it
-- reconciles its own calls, not those made through another mapping.
CREATE ROLE fleet_operator;
CREATE SCHEMA fleet_op AUTHORIZATION fleet_operator;
GRANT USAGE ON FOREIGN SERVER fleet TO fleet_operator;
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) TO fleet_operator;
CREATE USER MAPPING FOR fleet_operator SERVER fleet OPTIONS (username 'operator', password 'op-secret');
SELECT sim_fault('{"kind": "hang", "path": "/clusters/308/"}');
SELECT try($$SELECT * FROM ocp_backup_now(308, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet')$$) ~ '^08006' AS admin_timed_out;
SELECT sim_fault('{"kind": "stall", "bytes": 0, "path": "/clusters/309/"}');
SET ROLE fleet_operator;
SELECT try($$SELECT * FROM ocp_backup_now(309, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'fleet')$$) ~ '^08006' AS operator_timed_out;
RESET ROLE;
SELECT pg_sleep(3.5);
SELECT sim_fleet('{"clusters": [{"id": 401, "name": "ops-a", "tenants": [{"id": 4011, "name": "sys"}], "history": [{"taskId": 1, "status": "DONE", "started_ago": 7200, "finished_ago": 3600}]}]}') ->> 'clusters' AS clusters;
SET ROLE fleet_operator;
SELECT try('SELECT * FROM ocp_backup_sync()') AS sync_ungranted;
SELECT try('SELECT ocp_backup_reconcile()') AS reconcile_ungranted;
RESET ROLE;
GRANT EXECUTE ON FUNCTION ocp_backup_sync(text), ocp_backup_reconcile(text, interval, interval) TO fleet_operator;
CREATE TABLE fleet_trace (what text);
GRANT INSERT ON fleet_trace TO fleet_operator;
SET ROLE fleet_operator;
-- Planted ahead of pg_catalog: what the writers call, and = for bigint.
CREATE FUNCTION fleet_op.jsonb_array_elements(jsonb) RETURNS SETOF jsonb LANGUAGE sql
  AS $$ INSERT INTO public.fleet_trace VALUES ('jsonb_array_elements as ' || current_user) RETURNING NULL::jsonb $$;
CREATE FUNCTION fleet_op.now() RETURNS timestamptz LANGUAGE sql
  AS $$ INSERT INTO public.fleet_trace VALUES ('now as ' || current_user) RETURNING NULL::timestamptz $$;
CREATE FUNCTION fleet_op.eq(bigint, bigint) RETURNS boolean LANGUAGE sql
  AS $$ INSERT INTO public.fleet_trace VALUES ('= as ' || current_user) RETURNING true $$;
CREATE OPERATOR fleet_op.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = fleet_op.eq);
SET search_path = fleet_op, public, pg_catalog;
SELECT server_name, clusters, tenants, error FROM ocp_backup_sync();
SELECT ocp_backup_reconcile(margin => '3 seconds');
SELECT try($$SELECT ocp_backup.record_cluster_page('fleet', 'admin', now(), '{}', true)$$) AS record_cluster_page;
SELECT try($$SELECT ocp_backup.record_backup_page('fleet', 1, '{}')$$) AS record_backup_page;
SELECT try($$SELECT ocp_backup.reconcile_call('fleet', 1, '0', '0', NULL, '{}', '{}', '{}', '{}', '{}')$$) AS reconcile_call;
SELECT try($$INSERT INTO ocp_backup.cluster VALUES ('fleet', 1, 'fake', 1, '4', 'PRIMARY', 'RUNNING', now(), now(), 'admin')$$) AS direct_write;
RESET search_path;
RESET ROLE;
SELECT * FROM fleet_trace;
SELECT rolsuper FROM pg_roles WHERE rolname = 'fleet_operator';
-- The operator's call was settled with its task; the admin's was left alone.
SELECT i.cluster_id, i.invoked_by, i.reconciled_at IS NOT NULL AS reconciled, t.task_id IS NOT NULL AS has_task
  FROM ocp_backup.invocation i LEFT JOIN ocp_backup.task t ON t.invocation_id = i.id
 WHERE i.cluster_id IN (308, 309) ORDER BY i.cluster_id;
SELECT ocp_backup_reconcile(margin => '3 seconds') AS settled_by_admin;
SELECT cluster_id, cluster_name, missing_since IS NOT NULL AS missing FROM ocp_backup.cluster ORDER BY cluster_id;
SELECT cluster_id, job_id, status FROM ocp_backup.backup_history WHERE cluster_id = 401;
-- A tenant goes alone, or with its cluster; and only a sync as the OCP
-- account that last saw a cluster or tenant concludes it is gone (another
-- account may just not be allowed to see it).  The operator's sync above
-- went as its own account, operator: prod-a..prod-f, which admin saw, stay.
SELECT sim_fleet('{"clusters": [{"id": 401, "name": "ops-a", "tenants": [{"id": 4012, "name": "ledger"}]}]}') ->> 'tenants' AS tenants;
SET ROLE fleet_operator;
SELECT clusters, clusters_missing, tenants FROM ocp_backup_sync('fleet');
RESET ROLE;
SELECT cluster_id, tenant_id, tenant_name, last_seen_by, missing_since IS NOT NULL AS missing
  FROM ocp_backup.tenant WHERE cluster_id IN (101, 401) ORDER BY tenant_id;
SELECT clusters, clusters_missing, tenants FROM ocp_backup_sync('fleet');
SELECT cluster_id, tenant_id, last_seen_by, missing_since IS NOT NULL AS missing
  FROM ocp_backup.tenant WHERE cluster_id IN (101, 401) ORDER BY tenant_id;
SELECT cluster_id, last_seen_by, missing_since IS NOT NULL AS missing
  FROM ocp_backup.cluster ORDER BY cluster_id;
SELECT p.proname, p.proacl
  FROM pg_proc p
 WHERE p.proname IN ('ocp_backup_sync', 'ocp_backup_reconcile', 'listed_clusters', 'record_tenant_page',
                     'unsettled_calls', 'reconcile_call')
 ORDER BY 1;

DROP SCHEMA fleet_op CASCADE;
DROP TABLE fleet_trace;
REVOKE ALL ON FUNCTION ocp_backup_sync(text), ocp_backup_reconcile(text, interval, interval) FROM fleet_operator;
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) FROM fleet_operator;
DROP SERVER fleet_closed CASCADE;
DROP SERVER fleet CASCADE;
DROP ROLE fleet_operator;
