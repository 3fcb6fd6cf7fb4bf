--
-- many: ocp_backup_now over an array of clusters, concurrently up to the
-- server's max_parallel, and the connection layer it runs on: one cache
-- entry per server and user mapping, whose connections close when that
-- server or mapping changes, and only then.
--
-- A database of its own: no journal row of another suite can come in.
CREATE DATABASE ocpb_many;
\c ocpb_many
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', max_parallel '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin');
\set storage '{"configName": "nfs", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'

-- The connections the simulator has open now, the curl asking included,
-- once the count settles (a closed connection is counted out a moment
-- after the close).
CREATE FUNCTION sim_open_connections(expected int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  open int;
BEGIN
  PERFORM wait_for(format($q$(SELECT (c::jsonb ->> 'open')::int FROM sim_call('GET', '/__sim/connections') c) = %s$q$,
                          expected));
  SELECT (c::jsonb ->> 'open')::int INTO open FROM sim_call('GET', '/__sim/connections') c;
  RETURN open;
END $$;
CREATE FUNCTION sim_in_flight_peak() RETURNS int LANGUAGE sql AS $$
  SELECT (c::jsonb ->> 'in_flight_peak')::int FROM sim_call('GET', '/__sim/connections') c $$;

-- Twelve clusters, two listed twice, one unknown to OCP (99), one whose
-- connection is reset before any answer (5): each distinct cluster is
-- backed up once, every answer 200 ms late, at most four at a time.  The
-- failures give a WARNING and a row each; the others go on.
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600, "answer_delay_ms": 200}');
SELECT sim_fault('{"kind": "reset", "path": "/clusters/5/"}');
-- (Terse: the trace ids in the details depend on which answer came first.)
\set VERBOSITY terse
SELECT cluster_id, task_id IS NOT NULL AS has_task, successful, error_code, hint
  FROM ocp_backup_now(ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 2, 99, 10, 11, 12, 1],
                      'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage')
 ORDER BY cluster_id;
\set VERBOSITY default
SELECT sim_in_flight_peak() AS in_flight_peak;
SELECT count(*) AS requests, count(DISTINCT r ->> 'path') AS distinct_paths
  FROM sim_requests() r;
-- A journal row each, the invocation id the rows returned; the reset one's
-- outcome is unknown, since its request left.
SELECT cluster_id, successful, http_status, outcome_unknown, array_length(task_ids, 1) AS tasks
  FROM ocp_backup.invocation ORDER BY cluster_id;
SELECT count(DISTINCT id) AS distinct_ids FROM ocp_backup.invocation;
-- The tasks started are followed like a single call's.
SELECT count(*) AS tasks FROM ocp_backup.task;

-- An empty array asks nothing and returns nothing.
SELECT sim_reset();
SELECT * FROM ocp_backup_now('{}'::bigint[], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- Bad arguments raise before anything is sent.
SELECT * FROM ocp_backup_now(NULL::bigint[], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(ARRAY[1, NULL], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(ARRAY[1, 0], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(ARRAY[[1, 2], [3, 4]], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(ARRAY[1, 2], 'FULL', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(ARRAY[1, 2], 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{}');
SELECT * FROM ocp_backup_now(ARRAY[1, 2], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'nowhere');
BEGIN TRANSACTION READ ONLY;
SELECT * FROM ocp_backup_now(ARRAY[1, 2], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
ROLLBACK;
SELECT count(*) AS requests FROM sim_requests();

-- statement_timeout ends the whole call while four requests are out: the
-- journal still gets a row for each of them, its outcome unknown, written
-- by the journal writer from the call log, and none for the clusters whose
-- request never left.
TRUNCATE ocp_backup.invocation CASCADE;
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600, "answer_delay_ms": 3000}');
SET statement_timeout = '500ms';
SELECT * FROM ocp_backup_now(ARRAY[21, 22, 23, 24, 25, 26, 27, 28],
                             'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET statement_timeout;
DO $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '5 minutes';
BEGIN
  WHILE (SELECT count(*) FROM ocp_backup.invocation) < 4 AND clock_timestamp() < deadline LOOP
    PERFORM pg_sleep(0.1);
    PERFORM ocp_backup_start_journal_writer();
  END LOOP;
END $$;
SELECT cluster_id, successful, outcome_unknown FROM ocp_backup.invocation ORDER BY cluster_id;
SELECT count(*) AS requests FROM sim_requests();
SELECT sim_config('{"answer_delay_ms": 0}');

-- The connection layer.  A second server on the same simulator: both keep
-- their connections for the next call.
CREATE SERVER other FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', max_parallel '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600, "answer_delay_ms": 300}');
SELECT count(*) FROM ocp_backup_now(ARRAY[31, 32, 33, 34], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
SELECT count(*) FROM ocp_backup_now(ARRAY[41, 42], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'other');
SELECT sim_config('{"answer_delay_ms": 0}');
SELECT sim_open_connections(7) AS open_connections;
-- Changing one server closes its connections, and only its.
ALTER SERVER other OPTIONS (SET max_parallel '3');
SELECT sim_open_connections(5) AS open_connections;
-- So does changing a user mapping.
ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (SET password 'admin');
SELECT sim_open_connections(1) AS open_connections;
-- The changed options hold at the next call, on new connections.
SELECT sim_reset();
SELECT sim_config('{"answer_delay_ms": 300}');
SELECT count(*) FROM ocp_backup_now(ARRAY[51, 52, 53, 54, 55, 56], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'other');
SELECT sim_in_flight_peak() AS in_flight_peak;
SELECT sim_config('{"answer_delay_ms": 0}');
SELECT sim_open_connections(4) AS open_connections;
-- A dropped server's connections close too.
DROP USER MAPPING FOR CURRENT_USER SERVER other;
DROP SERVER other;
SELECT sim_open_connections(1) AS open_connections;

-- An operator granted the array form, with its own schema first in its
-- search_path holding a planted = for bigint, nextval and now: the
-- call journals as the journal's owner, through none of them.
CREATE ROLE many_operator LOGIN;
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, text) TO many_operator;
GRANT USAGE ON FOREIGN SERVER ocp TO many_operator;
CREATE USER MAPPING FOR many_operator SERVER ocp OPTIONS (username 'admin', password 'admin');
CREATE SCHEMA many_planted AUTHORIZATION many_operator;
CREATE TABLE many_trace (who text);
GRANT INSERT ON many_trace TO PUBLIC;
SELECT sim_reset();
SET ROLE many_operator;
CREATE FUNCTION many_planted.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.many_trace VALUES (current_user);
  ALTER ROLE many_operator SUPERUSER;
  RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR many_planted.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = many_planted.int8eq);
CREATE FUNCTION many_planted.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.many_trace VALUES (current_user);
  RETURN pg_catalog.nextval($1);
END $$;
CREATE FUNCTION many_planted.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.many_trace VALUES (current_user);
  RETURN pg_catalog.now();
END $$;
SET search_path = many_planted, pg_catalog, public;
SELECT count(*) AS rows FROM public.ocp_backup_now(ARRAY[61, 62], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET search_path;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'many_operator';
SELECT count(*) AS planted_calls FROM many_trace;
SELECT invoked_by, count(*) FROM ocp_backup.invocation WHERE cluster_id IN (61, 62) GROUP BY 1;
-- The array form is granted apart from the single call.
SET ROLE many_operator;
SELECT * FROM ocp_backup_now(63, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET ROLE;
DROP USER MAPPING FOR many_operator SERVER ocp;
REVOKE ALL ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, text) FROM many_operator;
REVOKE USAGE ON FOREIGN SERVER ocp FROM many_operator;
DROP SCHEMA many_planted CASCADE;
DROP TABLE many_trace;
DROP ROLE many_operator;

-- ocp_backup_refresh reads its tasks concurrently, at most max_parallel per
-- server, and a 429 pauses only the server that sent it.  Server far is
-- another simulator, reached under its path prefix.
\getenv far_url OCP_SIM_PREFIX_URL
TRUNCATE ocp_backup.invocation CASCADE;
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600}');
ALTER SERVER ocp OPTIONS (SET max_parallel '1');
CREATE SERVER far FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'far_url', max_parallel '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER far OPTIONS (username 'admin', password 'admin');
SELECT count(*) FROM ocp_backup_now(ARRAY[71, 72, 73, 74, 75, 76], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
SELECT count(*) FROM ocp_backup_now(ARRAY[81, 82, 83, 84], 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'far');
SELECT min(task_id) + 1 AS throttled_task FROM ocp_backup.task WHERE server_name = 'ocp' \gset
-- Server ocp answers its second task with a 429; far answers 300 ms late.
SELECT count(*) AS ocp_before FROM sim_requests() \gset
SELECT sim_fault(jsonb_build_object('kind', 'rate_limit', 'reset', 30, 'path', '/tasks/instances/' || :throttled_task));
UPDATE sim SET url = regexp_replace(:'far_url', '/ocp$', '');
SELECT sim_config('{"answer_delay_ms": 300}');
SELECT 'peak restarted' FROM sim_call('DELETE', '/__sim/connections/in_flight_peak');
UPDATE sim SET url = :'sim_url';
SELECT ocp_backup_refresh() AS checked;
-- ocp: its first task read, the throttled one and the three after it left
-- as they were (unchecked, no error) for the next run; far: all four read,
-- two at a time.
SELECT server_name, cluster_id, status, last_checked_at IS NOT NULL AS checked, last_error
  FROM ocp_backup.task ORDER BY server_name, cluster_id;
SELECT count(*) - :ocp_before AS ocp_requests FROM sim_requests();
UPDATE sim SET url = regexp_replace(:'far_url', '/ocp$', '');
SELECT sim_in_flight_peak() AS far_in_flight_peak;
SELECT sim_config('{"answer_delay_ms": 0}');
UPDATE sim SET url = :'sim_url';
-- Until RateLimit-Reset, the next run sends ocp nothing.
SELECT ocp_backup_refresh() AS checked;
SELECT count(*) - :ocp_before AS ocp_requests FROM sim_requests();
-- A changed server is no longer the one that said 429.
ALTER SERVER ocp OPTIONS (SET max_parallel '4');
SELECT ocp_backup_refresh() AS checked;
SELECT count(*) FILTER (WHERE last_checked_at IS NOT NULL) AS checked_tasks, count(*) AS tasks
  FROM ocp_backup.task;

-- The reads in bulk take the right to read one task.
CREATE ROLE many_reader;
GRANT EXECUTE ON FUNCTION ocp_backup_refresh(integer) TO many_reader;
SET ROLE many_reader;
SELECT * FROM ocp_backup_read_tasks(ARRAY['ocp'], ARRAY[1]::bigint[]);
RESET ROLE;
DROP OWNED BY many_reader;
DROP ROLE many_reader;
-- Bad arguments.
SELECT * FROM ocp_backup_read_tasks(ARRAY['ocp', 'far'], ARRAY[1]::bigint[]);
SELECT * FROM ocp_backup_read_tasks(ARRAY['ocp'], ARRAY[NULL]::bigint[]);
SELECT * FROM ocp_backup_read_tasks(NULL, ARRAY[1]::bigint[]);
-- A server gone fails its own tasks only.
SELECT server_name, task_id, status, error, postponed
  FROM ocp_backup_read_tasks(ARRAY['nowhere', 'ocp'], ARRAY[5, :throttled_task]::bigint[]);
DROP SERVER far CASCADE;
\c contrib_regression
DROP DATABASE ocpb_many WITH (FORCE);
