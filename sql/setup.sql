--
-- setup: installs the extension and the helpers the other suites use to
-- drive the OCP simulator and read back what it received on the wire.
--
\getenv sim_url OCP_SIM_URL
CREATE EXTENSION ocp_backup;

-- Callable unqualified with the default search_path.
SHOW search_path;
SELECT p.oid::regprocedure AS function
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
 ORDER BY p.oid::regprocedure::text;

-- Every object a user touches carries a comment.
SELECT pg_describe_object(d.classid, d.objid, 0) AS object_without_comment
  FROM pg_depend d
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
   AND d.deptype = 'e'
   AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) IS NULL
   AND pg_describe_object(d.classid, d.objid, 0) NOT LIKE 'sequence %'
   AND pg_describe_object(d.classid, d.objid, 0) NOT LIKE 'index %';
SELECT a.attname AS journal_column_without_comment
  FROM pg_attribute a
 WHERE a.attrelid = 'ocp_backup.invocation'::regclass AND a.attnum > 0
   AND col_description(a.attrelid, a.attnum) IS NULL;

-- The simulator's address, for the helpers below.
CREATE TABLE sim (url text NOT NULL);
INSERT INTO sim VALUES (:'sim_url');

CREATE FUNCTION sim_shell_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '''' || replace(s, '''', '''"''"''') || '''' $$;

-- Calls the simulator's control API with curl; returns its output lines.
CREATE FUNCTION sim_call(method text, path text, body text DEFAULT NULL)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  cmd text := 'curl -sS --max-time 10 -X ' || method || ' '
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

CREATE FUNCTION sim_reset() RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN s::jsonb ->> 'ok' = 'true' THEN 'simulator reset' ELSE s END
    FROM sim_call('POST', '/__sim/reset', '{}') s $$;

CREATE FUNCTION sim_config(settings jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT 'simulator configured' FROM sim_call('POST', '/__sim/config', settings::text) $$;

CREATE FUNCTION sim_fault(fault jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT 'fault queued: ' || (fault ->> 'kind') FROM sim_call('POST', '/__sim/faults', fault::text) $$;

CREATE FUNCTION sim_post_task_status(task_id bigint, status text) RETURNS text LANGUAGE sql AS $$
  SELECT 'task ' || task_id || ' forced to ' || status
    FROM sim_call('POST', '/__sim/tasks/' || task_id, jsonb_build_object('status', status)::text) $$;

-- What the simulator received since its last reset, one row per request.
CREATE FUNCTION sim_requests() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT line::jsonb FROM sim_call('GET', '/__sim/requests') line $$;

CREATE FUNCTION sim_wire(OUT seq int, OUT method text, OUT path text,
                         OUT content_type text, OUT accept text,
                         OUT user_agent text, OUT auth text, OUT body text)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT (r ->> 'seq')::int, r ->> 'method', r ->> 'path',
         r -> 'headers' ->> 'content-type', r -> 'headers' ->> 'accept',
         r -> 'headers' ->> 'user-agent', r ->> 'auth', r ->> 'body'
    FROM sim_requests() r ORDER BY 1 $$;

-- The newest journal rows, without the columns that vary from run to run.
CREATE FUNCTION journal(n int DEFAULT 1,
                        OUT id bigint, OUT invoked_by text, OUT server_name text,
                        OUT cluster_id bigint, OUT backup_mode text, OUT data_mode text,
                        OUT http_status int, OUT successful boolean, OUT task_ids bigint[],
                        OUT trace_id text, OUT error text, OUT timed boolean)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT id, invoked_by, server_name, cluster_id, backup_mode, data_mode,
         http_status, successful, task_ids, trace_id, error,
         finished_at >= started_at AND started_at <= now() + interval '1 hour'
    FROM ocp_backup.invocation ORDER BY id DESC LIMIT n $$;

-- Runs a statement and returns its error, with run-dependent numbers masked.
CREATE FUNCTION try(statement text) RETURNS text LANGUAGE plpgsql AS $$
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

SELECT sim_reset();
