--
-- nightly: runs that tell the truth.  ocp_backup_now's on_failure makes a
-- statement fail when a backup did not start, a fleet call warns once, the
-- journal names the session that called, and ocp_backup_await waits
-- without holding a transaction.  (Under pg_cron: the cron_recipes suite.)
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600}');
-- Earlier suites' failed calls are in the journal before it is emptied.
SELECT journal_writer_caught_up();
TRUNCATE ocp_backup.invocation RESTART IDENTITY CASCADE;

-- Which function each form of call resolves to: 1.1's two forms stay the
-- only match of a call without on_failure (typed or not, server named or
-- positional), so views on them keep them; on_failure picks the new forms.
CREATE VIEW night_typed AS SELECT * FROM public.ocp_backup_now(8::bigint, 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text);
CREATE VIEW night_typed_error AS SELECT * FROM public.ocp_backup_now(8::bigint, 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text, on_failure => 'error');
CREATE VIEW night_untyped AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
CREATE VIEW night_positional AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
CREATE VIEW night_positional_null AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', NULL, 1002);
CREATE VIEW night_positional_null_tenant AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp', NULL);
CREATE VIEW night_positional_nulls AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', NULL, NULL);
CREATE VIEW night_named_tenant AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp', tenant_id => 1002);
CREATE VIEW night_tenant_error AS SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'error', 1002, 'ocp');
CREATE VIEW night_fleet_untyped AS SELECT * FROM ocp_backup_now(ARRAY[8, 9], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
CREATE VIEW night_fleet_untyped_null AS SELECT * FROM ocp_backup_now(ARRAY[8, 9], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', NULL);
CREATE VIEW night_fleet AS SELECT * FROM public.ocp_backup_now(ARRAY[8, 9]::bigint[], 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text);
CREATE VIEW night_fleet_error AS SELECT * FROM public.ocp_backup_now(ARRAY[8, 9]::bigint[], 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text, on_failure => 'error'::public.ocp_backup_on_failure);
SELECT c.relname AS view, d.refobjid::regprocedure AS calls
  FROM pg_class c JOIN pg_rewrite r ON r.ev_class = c.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_proc'::regclass
 WHERE c.relname LIKE 'night%' ORDER BY 1;
DROP VIEW night_typed, night_typed_error, night_untyped, night_positional, night_positional_null,
          night_positional_null_tenant, night_positional_nulls, night_named_tenant,
          night_tenant_error, night_fleet, night_fleet_error, night_fleet_untyped, night_fleet_untyped_null;
-- A value that is not one is refused before anything is sent.
SELECT * FROM public.ocp_backup_now(8::bigint, 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, on_failure => 'loud');
SELECT * FROM public.ocp_backup_now(8::bigint, 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, on_failure => NULL);
SELECT count(*) AS requests FROM sim_wire();

-- A backup that starts: the same rows with or without on_failure.
SELECT cluster_id, task_id IS NOT NULL AS started, successful
  FROM public.ocp_backup_now(8::bigint, 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb,
                             server => 'ocp'::text, on_failure => 'error');
-- OCP refuses a second one while the first runs: by default a WARNING and
-- a row, the statement succeeds ...
SELECT cluster_id, task_id, successful, error_code
  FROM public.ocp_backup_now(8::bigint, 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb,
                             server => 'ocp'::text);
-- ... with on_failure => 'error' it fails, with OB002, and the call is
-- journaled all the same (by the journal writer, after the rollback).
SELECT try(format('SELECT * FROM public.ocp_backup_now(8::bigint, %L::text, %L::text, %L::jsonb, server => %L::text, on_failure => %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp', 'error'));
SELECT journal_rows_eventually('id = 3');
-- A call that fails as a whole raises its own error, on_failure or not.
SELECT try(format('SELECT * FROM public.ocp_backup_now(99::bigint, %L::text, %L::text, %L::jsonb, server => %L::text, on_failure => %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp', 'error'));
SELECT journal_writer_caught_up();
-- The journal links each call to the session that made it.
SELECT id, cluster_id, successful, application_name = current_setting('application_name') AS our_application,
       backend_pid = pg_backend_pid() AS our_backend
  FROM ocp_backup.invocation ORDER BY id;

-- A fleet in which OCP refuses every cluster (500): one WARNING for the
-- call, not one per cluster; each cluster's row says why.
SELECT sim_fault('{"kind": "envelope", "count": 12}');
-- (The WARNING's trace ids vary with the answers' order: VERBOSITY terse.)
\set VERBOSITY terse
SELECT count(*) AS clusters, count(*) FILTER (WHERE NOT successful) AS failed,
       min(error_code) AS error_code, min(hint) AS hint
  FROM public.ocp_backup_now(ARRAY[201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212]::bigint[],
                             'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text);
\set VERBOSITY default
-- The same night with on_failure => 'error': the statement fails once
-- every cluster was tried, naming them and why; all twelve are journaled.
SELECT sim_fault('{"kind": "envelope", "count": 12}');
-- (OCP's trace ids, drawn as the answers come, masked.)
SELECT regexp_replace(try(format('SELECT * FROM public.ocp_backup_now(ARRAY[201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212]::bigint[], %L::text, %L::text, %L::jsonb, server => %L::text, on_failure => %L)',
                                 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp', 'error')),
                      'trace id [0-9a-f]+', 'trace id T', 'g') AS error;
SELECT journal_writer_caught_up();
SELECT count(*) AS journaled, count(*) FILTER (WHERE http_status = 500) AS refused
  FROM ocp_backup.invocation WHERE cluster_id BETWEEN 201 AND 212;
-- A mixed night: one starts, one is refused (8 runs still), one is unknown
-- to OCP; the rows of all three, then the error naming the two.
SELECT regexp_replace(try(format('SELECT * FROM public.ocp_backup_now(ARRAY[8, 21, 99]::bigint[], %L::text, %L::text, %L::jsonb, server => %L::text, on_failure => %L)',
                                 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp', 'error')),
                      'trace id [0-9a-f]+', 'trace id T', 'g') AS error;
SELECT journal_writer_caught_up();
SELECT cluster_id, successful, cardinality(task_ids) AS tasks FROM ocp_backup.invocation
 WHERE id > (SELECT max(id) FROM ocp_backup.invocation WHERE cluster_id = 212) ORDER BY cluster_id;
-- Without on_failure, the same night succeeds with one WARNING.
\set VERBOSITY terse
SELECT cluster_id, task_id IS NOT NULL AS started, successful, error_code
  FROM public.ocp_backup_now(ARRAY[8, 22, 99]::bigint[], 'PHYSICAL_BACKUP'::text, 'FULL_BACKUP'::text,
                             :'storage'::jsonb, server => 'ocp'::text)
 ORDER BY cluster_id;
\set VERBOSITY default

-- ocp_backup_await: the tasks of cluster 21 and 22 (running for an hour).
SELECT min(task_id) AS task21, max(task_id) AS task22, array_agg(task_id ORDER BY task_id) AS tasks,
       array_agg(DISTINCT invocation_id ORDER BY invocation_id) AS invocations
  FROM ocp_backup.task WHERE cluster_id IN (21, 22) \gset
-- Its own timeout is OB001, naming the tasks and their last status.
CALL public.ocp_backup_await(:'tasks'::bigint[], timeout => '0.3 seconds'::interval,
                             poll => '0.1 seconds'::interval, server => 'ocp'::text);
CALL public.ocp_backup_await(:task22::bigint, timeout => '0 seconds'::interval, poll => '0.1 seconds'::interval);
\echo :LAST_ERROR_SQLSTATE
-- Each status read was committed: the rows show them after the error.
SELECT cluster_id, status, last_checked_at IS NOT NULL AS checked FROM ocp_backup.task
 WHERE cluster_id IN (21, 22) ORDER BY cluster_id;
-- It cannot run where it cannot commit; bad arguments.
BEGIN;
CALL public.ocp_backup_await(:task22::bigint, timeout => '1 second'::interval);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- (Nor from a function: EXECUTE in try() is one.)
SELECT try(format('CALL public.ocp_backup_await(%s::bigint)', :task22));
CALL public.ocp_backup_await(NULL::bigint[]);
CALL public.ocp_backup_await(ARRAY[1, NULL]::bigint[]);
CALL public.ocp_backup_await(0::bigint);
CALL public.ocp_backup_await(1::bigint, poll => '0 seconds'::interval);
CALL public.ocp_backup_await_invocations(ARRAY[]::bigint[]);
-- statement_timeout cancels it like any statement.  (Without its NOTICEs:
-- the cancel may come before or after its first reads.)
SET statement_timeout = '300ms';
SET client_min_messages = warning;
CALL public.ocp_backup_await(:'tasks'::bigint[], poll => '10 seconds'::interval);
RESET client_min_messages;
RESET statement_timeout;

-- From another session, mid-wait.  The function form first: it sleeps
-- holding an xid and an xmin, and the status it read (cluster 23's task
-- RUNNING) is invisible here until it returns.  (It sleeps an hour after
-- its first read: once in PgSleep, it stays there.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT cluster_id, task_id AS task23 FROM public.ocp_backup_now(23::bigint, 'PHYSICAL_BACKUP'::text,
  'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text) \gset
SELECT cluster_id, task_id AS task24 FROM public.ocp_backup_now(24::bigint, 'PHYSICAL_BACKUP'::text,
  'FULL_BACKUP'::text, :'storage'::jsonb, server => 'ocp'::text) \gset
SELECT format('dbname=%s host=%s port=%s application_name=%s', current_database(),
              split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), 'night_waiter') AS waiter_conninfo \gset
SELECT dblink_connect('waiter', :'waiter_conninfo');
-- Waits until the waiter's session is active and in the wait event given,
-- and its first read is behind it.
CREATE FUNCTION waiter_in(event text) RETURNS boolean LANGUAGE sql AS $$
  SELECT wait_for(format($f$EXISTS (SELECT FROM pg_stat_activity
                                     WHERE application_name = 'night_waiter' AND state = 'active'
                                       AND wait_event = %L)$f$, event))
$$;
CREATE FUNCTION waiter() RETURNS TABLE (state text, wait_event text, holds_xid boolean, holds_xmin boolean)
LANGUAGE sql AS $$
  SELECT state, wait_event, backend_xid IS NOT NULL, backend_xmin IS NOT NULL
    FROM pg_stat_activity WHERE application_name = 'night_waiter' $$;
SELECT dblink_send_query('waiter', format('SELECT public.ocp_backup_wait(%s::bigint, timeout => %L::interval, poll => %L::interval, server => %L::text)',
                                          :task23, '2 hours', '1 hour', 'ocp'));
SELECT waiter_in('PgSleep');
SELECT * FROM waiter();
SELECT status FROM ocp_backup.task WHERE task_id = :task23;
SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'night_waiter';
SELECT * FROM dblink_get_result('waiter', false) AS r(status text);
SELECT dblink_disconnect('waiter');
-- The status it read was never committed: cancelled, it is lost.
SELECT status FROM ocp_backup.task WHERE task_id = :task23;
SELECT dblink_connect('waiter', :'waiter_conninfo');
-- The procedure: each status it read is visible here while it still
-- waits (it sleeps an hour between polls), and it sleeps with no xid and
-- no xmin; a cancel ends it.
SELECT dblink_send_query('waiter', format('CALL public.ocp_backup_await(ARRAY[%s, %s]::bigint[], timeout => %L::interval, poll => %L::interval, server => %L::text)',
                                          :task23, :task24, '2 hours', '1 hour', 'ocp'));
-- Both statuses read and committed, then its wait event is its sleep (the
-- next read is an hour away; a request in flight shows the same event).
SELECT wait_for(format('(SELECT count(*) FROM ocp_backup.task WHERE task_id IN (%s, %s) AND status IS NOT NULL) = 2',
                       :task23, :task24)) AS statuses_committed;
SELECT waiter_in('Extension');
SELECT * FROM waiter();
SELECT cluster_id, status FROM ocp_backup.task WHERE task_id IN (:task23, :task24) ORDER BY 1;
SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'night_waiter';
SELECT * FROM dblink_get_result('waiter', false) AS r(status text);
SELECT dblink_disconnect('waiter');
-- What it read stays committed.
SELECT cluster_id, status FROM ocp_backup.task WHERE task_id IN (:task23, :task24) ORDER BY 1;
DROP FUNCTION waiter_in(text), waiter();

-- Both of 21 and 22 end, one FAILED: a NOTICE for each change, and the
-- wait fails with OB003; the statuses are committed.
SELECT sim_post_task_status(:task21, 'SUCCESSFUL') IS NOT NULL AS forced;
SELECT sim_post_task_status(:task22, 'FAILED') IS NOT NULL AS forced;
CALL public.ocp_backup_await_invocations(:'invocations'::bigint[], poll => '0.1 seconds'::interval);
\echo :LAST_ERROR_SQLSTATE
SELECT cluster_id, status FROM ocp_backup.task WHERE cluster_id IN (21, 22) ORDER BY cluster_id;
-- A task that ended SUCCESSFUL: the wait ends at once, and succeeds.
CALL public.ocp_backup_await(:task21::bigint, server => 'ocp'::text);

DROP SERVER ocp CASCADE;

-- The update from 1.1: a view and a function written against 1.1's forms
-- keep working, and grants made on 1.1's forms are made on the new ones
-- (with their grant option), as the DBA's, not the extension's.
CREATE DATABASE night_upgrade;
CREATE ROLE night_grantee;
\c night_upgrade
SET client_min_messages = warning;
CREATE EXTENSION ocp_backup VERSION '1.1';
RESET client_min_messages;
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) TO night_grantee;
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, text) TO night_grantee WITH GRANT OPTION;
CREATE VIEW nightly_view AS
SELECT cluster_id, successful FROM ocp_backup_now(41, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/b/"}}', 'ocp');
CREATE FUNCTION nightly_fleet(ids bigint[]) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM ocp_backup_now(ids, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
    '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/b/"}}', 'ocp') $$;
ALTER EXTENSION ocp_backup UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ocp_backup';
SELECT * FROM nightly_view;
SELECT nightly_fleet(ARRAY[42, 43]);
SELECT p.oid::regprocedure AS function,
       has_function_privilege('night_grantee', p.oid, 'EXECUTE') AS granted,
       has_function_privilege('night_grantee', p.oid, 'EXECUTE WITH GRANT OPTION') AS grantable,
       ip.initprivs = ARRAY[makeaclitem(p.proowner, p.proowner, 'EXECUTE', false)] AS initial_as_fresh
  FROM pg_proc p JOIN pg_init_privs ip ON ip.objoid = p.oid AND ip.classoid = 'pg_proc'::regclass
 WHERE p.proname = 'ocp_backup_now' ORDER BY p.oid::regprocedure::text;
-- Revoked from every form, the grantee can be dropped.
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint),
                       ocp_backup_now(bigint[], text, text, jsonb, text),
                       ocp_backup_now(bigint, text, text, jsonb, ocp_backup_on_failure, bigint, text),
                       ocp_backup_now(bigint[], text, text, jsonb, ocp_backup_on_failure, text)
  FROM night_grantee CASCADE;
DROP ROLE night_grantee;
\c contrib_regression
DROP DATABASE night_upgrade;
