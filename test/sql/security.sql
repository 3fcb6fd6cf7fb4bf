--
-- security: a role granted what the README's least-privilege section says
-- cannot become superuser, whatever it plants; secrets never come back out;
-- oversized arguments and read-only transactions send nothing.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
SET client_min_messages = warning;
DROP ROLE IF EXISTS sec_operator;
DROP ROLE IF EXISTS sec_dbowner;
DROP DATABASE IF EXISTS sec_owned;
RESET client_min_messages;
CREATE SERVER sec FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE ROLE sec_operator LOGIN;
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint),
                          ocp_backup_task(bigint, text),
                          ocp_backup_wait(bigint, interval, interval, text),
                          ocp_backup_check(text) TO sec_operator;
GRANT USAGE ON FOREIGN SERVER sec TO sec_operator;
CREATE USER MAPPING FOR sec_operator SERVER sec OPTIONS (username 'admin', password 'admin');
-- A schema of its own, and CREATE on public (the default before PostgreSQL 15).
CREATE SCHEMA opschema AUTHORIZATION sec_operator;
GRANT CREATE ON SCHEMA public TO sec_operator;
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 0.2}');

-- Every planted function leaves a trace when it runs, whoever runs it, and
-- makes the operator superuser when it runs as one.
CREATE TABLE attack_trace (planted text, ran_as text);
GRANT INSERT ON attack_trace TO PUBLIC;

-- The operator, with its own objects first in search_path; and back to
-- the suite's own rights, under which the simulator is driven.
\set as_operator 'SET ROLE sec_operator; SET search_path = opschema, public, pg_catalog;'
\set as_admin 'RESET ROLE; RESET search_path;'
SET ROLE sec_operator;
CREATE FUNCTION opschema.plant(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.attack_trace VALUES (what, current_user);
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE sec_operator SUPERUSER';
  END IF;
END $$;
-- The same set in opschema and in public.
DO $plant$
DECLARE
  s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['opschema', 'public'] LOOP
    EXECUTE format($f$
      CREATE FUNCTION %1$I.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('now'); RETURN pg_catalog.now(); END $$;
      CREATE FUNCTION %1$I.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
      CREATE FUNCTION %1$I.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('unnest'); RETURN QUERY SELECT pg_catalog.unnest($1); END $$;
      CREATE FUNCTION %1$I.jsonb_populate_record(anyelement, jsonb) RETURNS anyelement LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('jsonb_populate_record'); RETURN pg_catalog.jsonb_populate_record($1, $2); END $$;
      CREATE FUNCTION %1$I.int8(integer) RETURNS bigint LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('int8'); RETURN $1::pg_catalog.int8; END $$;
      CREATE FUNCTION %1$I.text(bigint) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('text'); RETURN $1::pg_catalog.text; END $$;
      CREATE FUNCTION %1$I.current_setting(text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('current_setting'); RETURN pg_catalog.current_setting($1); END $$;
      CREATE FUNCTION %1$I.pg_sleep(double precision) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('pg_sleep'); PERFORM pg_catalog.pg_sleep($1); END $$;
      CREATE FUNCTION %1$I.planted_int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
      CREATE OPERATOR %1$I.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = %1$I.planted_int8eq);
      CREATE FUNCTION %1$I.planted_texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN PERFORM opschema.plant('=(text)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
      CREATE OPERATOR %1$I.= (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$I.planted_texteq);
    $f$, s);
  END LOOP;
END $plant$;

-- Every function the operator may call, with its own objects first in
-- search_path: in autocommit, rolled back, and failing.
:as_operator
SELECT invocation_id AS committed_id, task_id AS sec_task
  FROM ocp_backup_now(41, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec') \gset
SELECT status IS NOT NULL AS read FROM ocp_backup_task(:sec_task, 'sec');
-- Its progress NOTICEs depend on when each poll lands in the task's 0.2 s
-- (tasks.sql shows them): not shown here.
SET client_min_messages = warning;
SELECT ocp_backup_wait(:sec_task, poll => '0.1 seconds', server => 'sec');
RESET client_min_messages;
SELECT reachable, authenticated, problem FROM ocp_backup_check('sec');
BEGIN;
SELECT invocation_id AS rolled_back_id FROM ocp_backup_now(42, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec') \gset
SELECT status IS NOT NULL AS read FROM ocp_backup_task(:sec_task, 'sec');
ROLLBACK;
:as_admin
SELECT sim_fault('{"kind": "envelope", "status": 500, "code": 60018, "message": "Unexpected error.", "count": 2}');
:as_operator
SELECT * FROM ocp_backup_now(43, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec');
BEGIN;
SELECT * FROM ocp_backup_now(44, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec');
ROLLBACK;
SELECT * FROM ocp_backup_task(987654321, 'sec');
:as_admin

-- (Server sec's rows only: a pg_cron job of the cron suite that ran once
-- more before it was unscheduled may have left a rolled-back call of its
-- own to cluster 42, which the journal writer adopts whenever it comes.)
SELECT journal_rows_eventually('cluster_id = 42 AND server_name = ''sec'' ') AS rolled_back,
       journal_rows_eventually('cluster_id = 44 AND server_name = ''sec'' ') AS failed_rolled_back;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_operator';
SELECT * FROM attack_trace;
-- The journal holds the four calls, by the operator, and nothing else.
SELECT cluster_id, invoked_by, successful, http_status
  FROM ocp_backup.invocation WHERE server_name = 'sec' ORDER BY cluster_id;
SELECT status FROM ocp_backup.task WHERE task_id = :sec_task AND server_name = 'sec';

-- A database owner plants through public and the database's search_path;
-- the journal writer replays rolled-back rows in that database.
CREATE ROLE sec_dbowner LOGIN;
CREATE DATABASE sec_owned OWNER sec_dbowner;
\c sec_owned
CREATE EXTENSION ocp_backup;
-- The suite's wait, in a schema only the superuser running it may change.
CREATE SCHEMA sec_tests;
SET search_path = sec_tests;
\set ECHO none
\i test/sql/include/wait_for.sql
\set ECHO all
RESET search_path;
CREATE SERVER sec FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint),
                          ocp_backup_task(bigint, text) TO sec_operator;
GRANT USAGE ON FOREIGN SERVER sec TO sec_operator;
CREATE USER MAPPING FOR sec_operator SERVER sec OPTIONS (username 'admin', password 'admin');
CREATE TABLE attack_trace (planted text, ran_as text);
GRANT INSERT ON attack_trace TO PUBLIC;
SET ROLE sec_dbowner;
CREATE FUNCTION public.plant(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.attack_trace VALUES (what, current_user);
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE sec_dbowner SUPERUSER';
  END IF;
END $$;
CREATE FUNCTION public.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM public.plant('unnest'); RETURN QUERY SELECT pg_catalog.unnest($1); END $$;
CREATE FUNCTION public.jsonb_populate_record(anyelement, jsonb) RETURNS anyelement LANGUAGE plpgsql AS $$
BEGIN PERFORM public.plant('jsonb_populate_record'); RETURN pg_catalog.jsonb_populate_record($1, $2); END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.plant('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION public.planted_int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.plant('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.planted_int8eq);
ALTER DATABASE sec_owned SET search_path = public, pg_catalog;
RESET ROLE;
\c sec_owned
SET ROLE sec_operator;
SELECT task_id AS owned_task FROM ocp_backup_now(45, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec') \gset
SELECT status IS NOT NULL AS read FROM ocp_backup_task(:owned_task, 'sec');
BEGIN;
SELECT cluster_id FROM ocp_backup_now(46, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec');
ROLLBACK;
RESET ROLE;
SET search_path = pg_catalog, public;
SELECT sec_tests.wait_for('EXISTS (SELECT FROM ocp_backup.invocation WHERE cluster_id OPERATOR(pg_catalog.=) 46)') AS row_written;
SELECT cluster_id, invoked_by, successful FROM ocp_backup.invocation ORDER BY cluster_id;
SELECT status IS NOT NULL AS status_recorded FROM ocp_backup.task;
SELECT * FROM attack_trace;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('sec_dbowner', 'sec_operator') ORDER BY 1;
\c contrib_regression

-- Secrets: a value sent under a secret key, or as a storage URL's
-- credentials, never comes back in the journal or to the client, even when
-- OCP echoes it.  The server_log suite reads the server log for each.
\set secret_storage '{"configName": "oss1", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_OSS", "storageUrl": "oss://bucket/dir?host=oss.example&access_id=plain-ak-2718&access_key=url-sk-31415", "ossAccessKey": {"endpoint": "oss.example", "accessKeyId": "AKID-plain", "accessKeySecret": "oss-sk-1a2b3c"}}, "extra": {"Private_Key": "pk-9z8y7x", "apiKey": "api-5e6f7g", "x_Credentials": {"nested": ["cred-0q1w2e", 4242424242]}, "PASSWD": "pw-3r4t5y", "db-pwd": "pwd-6u7i8o", "token": "tok-9p0a1s"}}'
\set userinfo_storage '{"configName": "ftp1", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "ftp://backup:ui-pass-7d8f@nas.example/ob"}}'
CREATE TEMP TABLE planted_secrets (secret text);
INSERT INTO planted_secrets VALUES ('url-sk-31415'), ('plain-ak-2718'), ('oss-sk-1a2b3c'), ('pk-9z8y7x'),
  ('api-5e6f7g'), ('cred-0q1w2e'), ('4242424242'), ('pw-3r4t5y'), ('pwd-6u7i8o'), ('tok-9p0a1s'), ('ui-pass-7d8f');
SET log_min_messages = debug5;
SELECT sim_reset();
SELECT sim_fault('{"kind": "echo"}');
SET ROLE sec_operator;
SELECT try(format('SELECT * FROM ocp_backup_now(46, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'secret_storage', 'sec')) AS echoed_error \gset
RESET ROLE;
SELECT sim_fault('{"kind": "echo"}');
SET ROLE sec_operator;
SELECT try(format('SELECT * FROM ocp_backup_now(47, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'userinfo_storage', 'sec')) AS userinfo_error \gset
RESET ROLE;
-- Accepted, with the secrets in OCP's per-object hint.
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'status', 200, 'body', jsonb_build_object(
  'successful', true, 'status', 200, 'traceId', 'abc',
  'data', jsonb_build_object('obBackupTaskType', 'DATA_BACKUP_NOW', 'backupObjectOpsResultList', jsonb_build_array(
    jsonb_build_object('beSuccessful', false, 'errorCode', 'BAK31001', 'hint', 'storage oss-sk-1a2b3c refused, see url-sk-31415',
                       'obBackupObjectList', jsonb_build_array(jsonb_build_object('clusterId', 48, 'backupDimension', 'CLUSTER')),
                       'taskIdList', '[]'::jsonb))))));
SET ROLE sec_operator;
SELECT cluster_id, successful, error_code, hint FROM ocp_backup_now(48, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'secret_storage', 'sec');
RESET ROLE;
RESET log_min_messages;
-- The secrets did leave, to OCP, and OCP echoed them.
SELECT count(*) FILTER (WHERE r ->> 'body' LIKE '%' || s.secret || '%') AS secrets_sent
  FROM sim_requests() r, planted_secrets s;
SELECT :'echoed_error' AS echoed_error;
SELECT :'userinfo_error' AS userinfo_error;
-- The failed calls' rows (46, 47) come from the journal writer.
SELECT journal_writer_caught_up();
SELECT s.secret,
       position(s.secret IN :'echoed_error') > 0 AS in_client_error,
       position(s.secret IN :'userinfo_error') > 0 AS in_userinfo_error,
       EXISTS (SELECT FROM ocp_backup.invocation i
                WHERE i.cluster_id IN (46, 47, 48)
                  AND (position(s.secret IN i.request::text) > 0
                       OR position(s.secret IN coalesce(i.response::text, '')) > 0
                       OR position(s.secret IN coalesce(i.error, '')) > 0)) AS in_journal
  FROM planted_secrets s ORDER BY 1;
SELECT cluster_id, http_status, successful, request -> 'obBackupServiceStorageConfig' AS storage_journaled
  FROM ocp_backup.invocation WHERE cluster_id IN (46, 47, 48) ORDER BY cluster_id;
SELECT cluster_id, error FROM ocp_backup.invocation WHERE cluster_id IN (46, 48) ORDER BY cluster_id;

-- Oversized and overdeep storage objects: refused before anything is sent.
SELECT sim_reset();
SET ROLE sec_operator;
SELECT try(format('SELECT * FROM ocp_backup_now(49, %L, %L, %L::jsonb || jsonb_build_object(%L, repeat(%L, 1100000)), %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'pad', 'x', 'sec')) AS too_large;
SELECT try(format('SELECT * FROM ocp_backup_now(49, %L, %L, %L::jsonb || jsonb_build_object(%L, (repeat(%L, 1000) || %L || repeat(%L, 1000))::jsonb), %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'deep', '{"a": ', '1', '}', 'sec')) AS too_deep;
SELECT try(format('SELECT * FROM ocp_backup_now(49, %L, %L, %L::jsonb || jsonb_build_object(%L, (repeat(%L, 16) || %L || repeat(%L, 16))::jsonb), %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'deep', '[', '1', ']', 'sec')) AS one_too_deep;
-- More secret values than are worth scrubbing for: refused, nothing sent.
SELECT try(format('SELECT * FROM ocp_backup_now(49, %L, %L, %L::jsonb || jsonb_build_object(%L, (SELECT jsonb_agg(g) FROM generate_series(1, 300) g)), %L)',
                  'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'pwd', 'sec')) AS too_many_secrets;
-- 16 levels in all is what OCP may get.
SELECT cluster_id, successful FROM ocp_backup_now(49, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  (:'storage'::jsonb || jsonb_build_object('deep', (repeat('[', 15) || '1' || repeat(']', 15))::jsonb)), 'sec');
RESET ROLE;
SELECT count(*) AS requests_received FROM sim_requests();

-- Read-only: whatever records what OCP said refuses before asking;
-- ocp_backup_check, which records nothing, still works.
SELECT sim_reset();
SET ROLE sec_operator;
BEGIN READ ONLY;
SELECT try(format('SELECT * FROM ocp_backup_now(50, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec')) AS now_read_only;
SELECT try(format('SELECT * FROM ocp_backup_task(%s, %L)', :sec_task, 'sec')) AS task_read_only;
SELECT try(format('SELECT ocp_backup_wait(%s, server => %L)', :sec_task, 'sec')) AS wait_read_only;
SELECT reachable, authenticated, problem FROM ocp_backup_check('sec');
ROLLBACK;
RESET ROLE;
BEGIN READ ONLY;
SELECT try('SELECT ocp_backup_refresh()') AS refresh_read_only;
ROLLBACK;
SELECT method, path FROM sim_wire();

-- An option value holding a line break, planted in the catalog behind the
-- validator's back (as a catalog written before 1.1 may hold one), is
-- refused when read: no extra header, no smuggled request.
SELECT sim_reset();
CREATE USER MAPPING FOR CURRENT_USER SERVER sec OPTIONS (access_key_id 'AK', access_key_secret 'SK');
UPDATE pg_user_mapping
   SET umoptions = ARRAY['access_key_id=AK:x' || E'\r\n' || 'X-Injected: yes', 'access_key_secret=SK']
 WHERE umuser = current_user::regrole
   AND umserver = (SELECT oid FROM pg_foreign_server WHERE srvname = 'sec');
SELECT try(format('SELECT * FROM ocp_backup_now(51, %L, %L, %L, %L)', 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec')) AS planted_line_break;
SELECT count(*) AS requests_received FROM sim_requests();
DROP USER MAPPING FOR CURRENT_USER SERVER sec;

-- A task is recorded only through the server it was started through: the
-- operator's lab server, whose OCP has a task of the same number, cannot
-- overwrite the status of the task started through sec.
CREATE SERVER sec_lab FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
GRANT USAGE ON FOREIGN SERVER sec_lab TO sec_operator;
CREATE USER MAPPING FOR sec_operator SERVER sec_lab OPTIONS (username 'admin', password 'admin');
SET ROLE sec_operator;
SELECT task_id AS prod_task FROM ocp_backup_now(52, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'sec') \gset
RESET ROLE;
-- A status the lab's OCP would not give.
UPDATE ocp_backup.task SET status = 'FAILED' WHERE task_id = :prod_task AND server_name = 'sec';
SET ROLE sec_operator;
SELECT status IN ('RUNNING', 'SUCCESSFUL') AS lab_answered FROM ocp_backup_task(:prod_task, 'sec_lab');
RESET ROLE;
SELECT server_name, status FROM ocp_backup.task
 WHERE task_id = :prod_task AND server_name IN ('sec', 'sec_lab') ORDER BY 1;
DROP SERVER sec_lab CASCADE;

-- The journal's writers are nobody's to call.
SET ROLE sec_operator;
SELECT try($$SELECT ocp_backup.record_invocation('{}')$$) AS record_invocation;
SELECT try($$SELECT ocp_backup.record_task_status('sec', 1, 'SUCCESSFUL', 1, 1, NULL, NULL)$$) AS record_task_status;
RESET ROLE;
SELECT p.proname, p.prosecdef, p.proconfig, p.proacl
  FROM pg_proc p WHERE p.pronamespace = 'ocp_backup'::regnamespace AND p.proname LIKE 'record%' ORDER BY 1;

DROP DATABASE sec_owned;
DROP SERVER sec CASCADE;
DROP TABLE attack_trace;
DROP OWNED BY sec_operator;
DROP ROLE sec_operator;
DROP ROLE sec_dbowner;
