-- test/sql/include/common.sql: what every suite starts with, so that each
-- runs alone (make installcheck REGRESS=name): the extension, and helpers
-- that drive the OCP simulator the launcher (test/with_sims) started for
-- this suite and read back what it received on the wire.  A suite includes
-- it between \set ECHO none and \set ECHO all, so its expected output
-- does not repeat it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ocp_backup;

\getenv sim_url OCP_SIM_URL

-- The simulator's address, for the helpers below.
CREATE TABLE IF NOT EXISTS sim (url text NOT NULL);
TRUNCATE sim;
INSERT INTO sim VALUES (:'sim_url');

CREATE OR REPLACE FUNCTION sim_shell_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '''' || replace(s, '''', '''"''"''') || '''' $$;

-- Calls the simulator's control API with curl; returns its output lines.
CREATE OR REPLACE FUNCTION sim_call(method text, path text, body text DEFAULT NULL)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  cmd text := 'curl -sS --noproxy ''*'' --max-time 10 -X ' || method || ' '
              || sim_shell_quote((SELECT url FROM sim) || path);
BEGIN
  IF body IS NOT NULL THEN
    cmd := cmd || ' -H ''Content-Type: application/json'' --data-binary '
               || sim_shell_quote(body);
  END IF;
  IF to_regclass('pg_temp.sim_lines') IS NULL THEN
    CREATE TEMP TABLE sim_lines (n serial, line text);
  END IF;
  TRUNCATE sim_lines;
  -- One line per row, taken verbatim: no quote or delimiter can occur.
  EXECUTE format('COPY sim_lines (line) FROM PROGRAM %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
                 cmd, E'\x01', E'\x02');
  RETURN QUERY SELECT line FROM sim_lines ORDER BY n;
END $$;

CREATE OR REPLACE FUNCTION sim_reset() RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN s::jsonb ->> 'ok' = 'true' THEN 'simulator reset' ELSE s END
    FROM sim_call('POST', '/__sim/reset', '{}') s $$;

CREATE OR REPLACE FUNCTION sim_config(settings jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT 'simulator configured' FROM sim_call('POST', '/__sim/config', settings::text) $$;

CREATE OR REPLACE FUNCTION sim_fault(fault jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT 'fault queued: ' || (fault ->> 'kind') FROM sim_call('POST', '/__sim/faults', fault::text) $$;

CREATE OR REPLACE FUNCTION sim_post_task_status(task_id bigint, status text) RETURNS text LANGUAGE sql AS $$
  SELECT 'task ' || task_id || ' forced to ' || status
    FROM sim_call('POST', '/__sim/tasks/' || task_id, jsonb_build_object('status', status)::text) $$;

-- Replaces the simulator's fleet (test/ocp_sim.py: clusters, tenants,
-- history); returns its summary.
CREATE OR REPLACE FUNCTION sim_fleet(fleet jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT s::jsonb FROM sim_call('POST', '/__sim/fleet', fleet::text) s $$;

-- What the simulator received since its last reset, one row per request.
CREATE OR REPLACE FUNCTION sim_requests() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT line::jsonb FROM sim_call('GET', '/__sim/requests') line $$;

CREATE OR REPLACE FUNCTION sim_wire(OUT seq int, OUT method text, OUT path text,
                         OUT content_type text, OUT accept text,
                         OUT user_agent text, OUT auth text, OUT body text)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT (r ->> 'seq')::int, r ->> 'method', r ->> 'path',
         r -> 'headers' ->> 'content-type', r -> 'headers' ->> 'accept',
         r -> 'headers' ->> 'user-agent', r ->> 'auth', r ->> 'body'
    FROM sim_requests() r ORDER BY 1 $$;

-- The newest journal rows, without the columns that vary from run to run.
CREATE OR REPLACE FUNCTION journal(n int DEFAULT 1,
                        OUT id bigint, OUT invoked_by text, OUT server_name text,
                        OUT cluster_id bigint, OUT backup_mode text, OUT data_mode text,
                        OUT http_status int, OUT successful boolean, OUT task_ids bigint[],
                        OUT trace_id text, OUT error text, OUT timed boolean)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT id, invoked_by, server_name, cluster_id, backup_mode, data_mode,
         http_status, successful, task_ids, trace_id, error,
         finished_at >= started_at AND started_at <= now() + interval '1 hour'
    FROM ocp_backup.invocation ORDER BY id DESC LIMIT n $$;

\i test/sql/include/wait_for.sql

-- Waits for journal rows matching a condition (rows of rolled back or
-- interrupted calls come from the journal writer); returns how many.
CREATE OR REPLACE FUNCTION journal_rows_eventually(condition text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  found bigint;
BEGIN
  PERFORM wait_for(format('EXISTS (SELECT FROM ocp_backup.invocation WHERE %s)', condition));
  EXECUTE 'SELECT count(*) FROM ocp_backup.invocation WHERE ' || condition INTO found;
  RETURN found;
END $$;

-- Waits until the journal writer has written every row handed to it, that
-- is until no call log of this database holds a row (a session's own log is
-- emptied when its transaction commits with every row inserted; the writer
-- removes a log once its rows are in); returns whether it did.
CREATE OR REPLACE FUNCTION journal_writer_caught_up() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  call_log_dir text := current_setting('data_directory') || '/pg_ocp_backup/'
                || (SELECT oid FROM pg_database WHERE datname = current_database());
BEGIN
  RETURN wait_for(format('NOT EXISTS (SELECT FROM pg_ls_dir(%L, true, false) f'
                         ' WHERE f LIKE ''%%.jsonl'' AND (pg_stat_file(%L || ''/'' || f, true)).size > 0)',
                         call_log_dir, call_log_dir));
END $$;

-- Runs a statement and returns its error, with run-dependent numbers masked.
CREATE OR REPLACE FUNCTION try(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  state text; message text; detail text; hint text;
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN regexp_replace(regexp_replace(
           state || ': ' || message
           || coalesce(E'\nDETAIL:  ' || nullif(detail, ''), '')
           || coalesce(E'\nHINT:  ' || nullif(hint, ''), ''),
           'after [0-9]+ (ms|milliseconds)', 'after N \1', 'g'),
           '/tmp/ocp_backup\.[A-Za-z0-9]+/', '$WORK/', 'g');
END $$;

RESET client_min_messages;
