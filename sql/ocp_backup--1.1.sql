-- ocp_backup 1.1: trigger OceanBase cluster backups through the OCP REST API.

\echo Use "CREATE EXTENSION ocp_backup" to load this file. \quit

CREATE SCHEMA ocp_backup;
REVOKE ALL ON SCHEMA ocp_backup FROM PUBLIC;
COMMENT ON SCHEMA ocp_backup IS
  'ocp_backup''s journal, result types and maintenance functions';

-- Connection settings live in SQL/MED objects: a server per OCP endpoint and
-- a user mapping per role, where pg_user_mappings keeps the secrets hidden.
CREATE FUNCTION ocp_backup.fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'ocp_backup_fdw_validator'
LANGUAGE C STRICT;
COMMENT ON FUNCTION ocp_backup.fdw_validator(text[], oid) IS
  'checks the options of ocp_backup servers and user mappings';

CREATE FOREIGN DATA WRAPPER ocp_backup VALIDATOR ocp_backup.fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER ocp_backup IS
  'OCP endpoints: server options url, connect_timeout_ms, timeout_ms, ca_file, verify_tls, retries, retry_backoff_ms, proxy, no_proxy; user mapping options username and password, or access_key_id and access_key_secret';

-- The journal: one row per call that tried to reach OCP.
CREATE TABLE ocp_backup.invocation (
    id            bigserial PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    invoked_by    text NOT NULL,
    server_name   text NOT NULL,
    cluster_id    bigint NOT NULL,
    backup_mode   text NOT NULL,
    data_mode     text NOT NULL,
    request       jsonb NOT NULL,
    http_status   integer,
    successful    boolean NOT NULL,
    task_ids      bigint[] NOT NULL DEFAULT '{}',
    trace_id      text,
    error         text,
    response      jsonb
);
CREATE INDEX invocation_cluster_started_idx
    ON ocp_backup.invocation (server_name, cluster_id, started_at);
CREATE INDEX invocation_started_idx ON ocp_backup.invocation (started_at);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.invocation', '');
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.invocation_id_seq', '');

COMMENT ON TABLE ocp_backup.invocation IS
  'journal of every ocp_backup_now call that tried to reach OCP';
COMMENT ON COLUMN ocp_backup.invocation.id IS 'invocation id, returned as invocation_id by ocp_backup_now';
COMMENT ON COLUMN ocp_backup.invocation.started_at IS 'when the request was about to be sent';
COMMENT ON COLUMN ocp_backup.invocation.finished_at IS 'when the answer, or the failure, came back';
COMMENT ON COLUMN ocp_backup.invocation.invoked_by IS 'the role that called ocp_backup_now';
COMMENT ON COLUMN ocp_backup.invocation.server_name IS 'the foreign server (OCP endpoint) used';
COMMENT ON COLUMN ocp_backup.invocation.cluster_id IS 'the cluster id the backup was requested for';
COMMENT ON COLUMN ocp_backup.invocation.backup_mode IS 'LOGICAL_BACKUP or PHYSICAL_BACKUP';
COMMENT ON COLUMN ocp_backup.invocation.data_mode IS 'FULL_BACKUP or INCREMENTAL_BACKUP';
COMMENT ON COLUMN ocp_backup.invocation.request IS 'the request body sent, object-store secrets masked';
COMMENT ON COLUMN ocp_backup.invocation.http_status IS 'HTTP status of the answer; NULL when none came';
COMMENT ON COLUMN ocp_backup.invocation.successful IS 'true when OCP accepted the call and every backup object succeeded';
COMMENT ON COLUMN ocp_backup.invocation.task_ids IS 'OCP task instance ids started by the call';
COMMENT ON COLUMN ocp_backup.invocation.trace_id IS 'OCP trace id of the answer, for OCP''s own logs';
COMMENT ON COLUMN ocp_backup.invocation.error IS 'what went wrong, as reported to the caller; NULL on success';
COMMENT ON COLUMN ocp_backup.invocation.response IS 'the answer body when it was JSON';

CREATE TYPE ocp_backup.backup_result AS (
    invocation_id    bigint,
    cluster_id       bigint,
    tenant_id        bigint,
    backup_dimension text,
    task_id          bigint,
    successful       boolean,
    error_code       text,
    hint             text,
    trace_id         text
);
COMMENT ON TYPE ocp_backup.backup_result IS
  'one backup task (or one failed backup object) started by ocp_backup_now';

CREATE FUNCTION ocp_backup_now(cluster_id bigint,
                               backup_mode text,
                               data_mode text,
                               storage jsonb,
                               server text DEFAULT NULL)
RETURNS SETOF ocp_backup.backup_result
AS 'MODULE_PATHNAME', 'ocp_backup_now'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text) IS
  'asks OCP to back up a cluster now; returns one row per started task and journals the call';

-- Tasks started by ocp_backup_now, followed until they end.
CREATE TABLE ocp_backup.task (
    task_id          bigint PRIMARY KEY,
    invocation_id    bigint NOT NULL REFERENCES ocp_backup.invocation (id) ON DELETE CASCADE,
    server_name      text NOT NULL,
    cluster_id       bigint NOT NULL,
    status           text,
    subtasks_total   integer,
    subtasks_done    integer,
    failed_subtask   text,
    finish_time      timestamptz,
    last_checked_at  timestamptz,
    last_error       text
);
CREATE INDEX task_unfinished_idx ON ocp_backup.task (last_checked_at NULLS FIRST)
    WHERE status IS NULL OR status NOT IN ('SUCCESSFUL', 'FAILED');
CREATE INDEX task_cluster_idx ON ocp_backup.task (server_name, cluster_id, finish_time);
CREATE INDEX task_invocation_idx ON ocp_backup.task (invocation_id);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.task', '');
COMMENT ON TABLE ocp_backup.task IS
  'OCP tasks started by ocp_backup_now, with the status last read by ocp_backup_refresh or ocp_backup_wait';
COMMENT ON COLUMN ocp_backup.task.task_id IS 'OCP task instance id';
COMMENT ON COLUMN ocp_backup.task.invocation_id IS 'the journal row of the call that started the task';
COMMENT ON COLUMN ocp_backup.task.server_name IS 'the server the task was started through';
COMMENT ON COLUMN ocp_backup.task.cluster_id IS 'the cluster the backup was requested for';
COMMENT ON COLUMN ocp_backup.task.status IS 'RUNNING, SUCCESSFUL or FAILED as OCP last said; NULL until first checked';
COMMENT ON COLUMN ocp_backup.task.subtasks_total IS 'subtasks of the task';
COMMENT ON COLUMN ocp_backup.task.subtasks_done IS 'subtasks finished successfully';
COMMENT ON COLUMN ocp_backup.task.failed_subtask IS 'name of the first failed subtask';
COMMENT ON COLUMN ocp_backup.task.finish_time IS 'when OCP says the task ended';
COMMENT ON COLUMN ocp_backup.task.last_checked_at IS 'when the task was last read from OCP (or tried)';
COMMENT ON COLUMN ocp_backup.task.last_error IS 'why the last read failed; NULL when it worked';

-- The journal's writes, as the journal's owner.  Granted to nobody: the
-- extension's C code calls them through fmgr, which checks no EXECUTE
-- privilege, and no role can call them from SQL.  SECURITY DEFINER with a
-- pinned search_path: every name in them resolves in pg_catalog or is
-- schema-qualified, whatever search_path the caller or the database set, so
-- no planted function, operator or type runs with the owner's rights.
-- PL/pgSQL keeps each plan for the function's pinned search_path only.
CREATE FUNCTION ocp_backup.record_invocation(call jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r ocp_backup.invocation;
    task bigint;
BEGIN
    r := pg_catalog.jsonb_populate_record(NULL::ocp_backup.invocation, call);
    INSERT INTO ocp_backup.invocation VALUES (r.*) ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- One INSERT per task (there is mostly one) costs less to start than
    -- one over unnest; OCP may list a task twice.
    FOREACH task IN ARRAY r.task_ids LOOP
        INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id)
        VALUES (task, r.id, r.server_name, r.cluster_id)
            ON CONFLICT (task_id) DO NOTHING;
    END LOOP;
    RETURN true;
END
$$;
COMMENT ON FUNCTION ocp_backup.record_invocation(jsonb) IS
  'writes one journal row, given as JSON keyed by column, and its task rows; false when the row was written already (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.record_task_status(server_name text,
                                              task_id bigint,
                                              status text,
                                              subtasks_total integer,
                                              subtasks_done integer,
                                              failed_subtask text,
                                              finish_time timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The task as the caller asked for it, through that server: a task id
    -- of another OCP may be the same number.
    UPDATE ocp_backup.task t
       SET status = $3, subtasks_total = $4, subtasks_done = $5,
           failed_subtask = $6, finish_time = $7,
           last_checked_at = pg_catalog.now(), last_error = NULL
     WHERE t.task_id OPERATOR(pg_catalog.=) $2
       AND t.server_name OPERATOR(pg_catalog.=) $1;
END
$$;
COMMENT ON FUNCTION ocp_backup.record_task_status(text, bigint, text, integer, integer, text, timestamptz) IS
  'stores what OCP said of a task, read through a server, in its ocp_backup.task row (internal: callable by nobody)';

REVOKE ALL ON FUNCTION ocp_backup.record_invocation(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_task_status(text, bigint, text, integer, integer, text, timestamptz) FROM PUBLIC;

CREATE TYPE ocp_backup.task_info AS (
    task_id          bigint,
    name             text,
    status           text,
    type             text,
    cluster_id       bigint,
    cluster_name     text,
    tenant_id        bigint,
    creator          text,
    create_time      timestamptz,
    start_time       timestamptz,
    finish_time      timestamptz,
    subtasks_total   integer,
    subtasks_done    integer,
    failed_subtask   text,
    trace_id         text
);
COMMENT ON TYPE ocp_backup.task_info IS 'an OCP task instance, as ocp_backup_task returns it';

CREATE FUNCTION ocp_backup_task(task_id bigint, server text DEFAULT NULL)
RETURNS ocp_backup.task_info
AS 'MODULE_PATHNAME', 'ocp_backup_task'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ocp_backup_task(bigint, text) IS
  'reads one OCP task instance (GET /api/v2/tasks/instances/{id}) and records its status in ocp_backup.task';

CREATE FUNCTION ocp_backup_refresh(max_tasks integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pending record;
    checked integer := 0;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') OPERATOR(pg_catalog.=) 'on' THEN
        -- Reading a task records its status: refuse before asking OCP.
        RAISE EXCEPTION 'cannot execute ocp_backup_refresh() in a read-only transaction'
              USING ERRCODE = 'read_only_sql_transaction';
    END IF;
    IF max_tasks IS NULL OR max_tasks < 1 THEN
        RAISE EXCEPTION 'max_tasks must be a positive number, not %', coalesce(max_tasks::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- SKIP LOCKED: overlapping runs (a slow pg_cron job) share the work.
    FOR pending IN
        SELECT t.task_id, t.server_name FROM ocp_backup.task t
         WHERE t.status IS NULL OR t.status NOT IN ('SUCCESSFUL', 'FAILED')
         ORDER BY t.last_checked_at NULLS FIRST, t.task_id
         LIMIT max_tasks
         FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            -- Reading a task records its status in ocp_backup.task.
            PERFORM @extschema@.ocp_backup_task(pending.task_id, pending.server_name);
        EXCEPTION WHEN OTHERS THEN
            -- One unreachable server or unknown task must not stop the others.
            UPDATE ocp_backup.task SET last_checked_at = now(), last_error = SQLERRM
             WHERE task_id = pending.task_id;
        END;
        checked := checked + 1;
    END LOOP;
    RETURN checked;
END
$$;
COMMENT ON FUNCTION ocp_backup_refresh(integer) IS
  'reads the status of up to max_tasks unfinished tasks from OCP into ocp_backup.task; returns how many it checked';

CREATE FUNCTION ocp_backup_wait(task_id bigint,
                                timeout interval DEFAULT '1 hour',
                                poll interval DEFAULT '10 seconds',
                                server text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
    -- A record, not ocp_backup.task_info: operators need no USAGE on the schema.
    info record;
    last_status text;
    last_done integer;
BEGIN
    IF task_id IS NULL OR timeout IS NULL OR poll IS NULL OR poll <= interval '0' THEN
        RAISE EXCEPTION 'task_id, timeout and a positive poll interval are required'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        SELECT * INTO info FROM @extschema@.ocp_backup_task(task_id, server);
        IF info.status IS DISTINCT FROM last_status OR info.subtasks_done IS DISTINCT FROM last_done THEN
            RAISE NOTICE 'task %: % (% of % subtasks done)%', task_id, info.status,
                         info.subtasks_done, info.subtasks_total,
                         coalesce(', failed subtask: ' || info.failed_subtask, '');
            last_status := info.status;
            last_done := info.subtasks_done;
        END IF;
        IF info.status IN ('SUCCESSFUL', 'FAILED') THEN
            RETURN info.status;
        END IF;
        IF clock_timestamp() + poll > deadline THEN
            RAISE EXCEPTION 'task % did not finish within %', task_id, timeout
                  USING ERRCODE = 'OB001',
                        DETAIL = format('Its last status was %s, with %s of %s subtasks done.',
                                        info.status, info.subtasks_done, info.subtasks_total),
                        HINT = 'The task goes on in OCP; wait again, or let ocp_backup_refresh() follow it.';
        END IF;
        PERFORM pg_sleep(extract(epoch FROM poll));
    END LOOP;
END
$$;
COMMENT ON FUNCTION ocp_backup_wait(bigint, interval, interval, text) IS
  'polls an OCP task until it ends and returns its final status; raises OB001 when timeout runs out';

CREATE VIEW ocp_backup.cluster_status AS
SELECT i.server_name,
       i.cluster_id,
       max(i.started_at) AS last_invocation_at,
       (array_agg(i.successful ORDER BY i.started_at DESC, i.id DESC))[1] AS last_invocation_successful,
       (SELECT t.status FROM ocp_backup.task t
         WHERE t.server_name = i.server_name AND t.cluster_id = i.cluster_id
         ORDER BY t.invocation_id DESC, t.task_id DESC LIMIT 1) AS last_task_status,
       (SELECT max(t.finish_time) FROM ocp_backup.task t
         WHERE t.server_name = i.server_name AND t.cluster_id = i.cluster_id
           AND t.status = 'SUCCESSFUL') AS last_success_at,
       (SELECT count(*) FROM ocp_backup.task t
         WHERE t.server_name = i.server_name AND t.cluster_id = i.cluster_id
           AND t.status = 'SUCCESSFUL' AND t.finish_time > now() - interval '7 days') AS successes_7d,
       count(*) FILTER (WHERE NOT i.successful AND i.started_at > now() - interval '7 days')
       + (SELECT count(*) FROM ocp_backup.task t
           WHERE t.server_name = i.server_name AND t.cluster_id = i.cluster_id
             AND t.status = 'FAILED' AND coalesce(t.finish_time, t.last_checked_at) > now() - interval '7 days')
         AS failures_7d
  FROM ocp_backup.invocation i
 GROUP BY i.server_name, i.cluster_id;
COMMENT ON VIEW ocp_backup.cluster_status IS
  'per server and cluster: the last call, the last task status, the last success, and 7-day counts';

CREATE TYPE ocp_backup.check_result AS (
    server_name    text,
    url            text,
    reachable      boolean,
    tls_verified   boolean,
    authenticated  boolean,
    round_trip_ms  double precision,
    ocp_time       timestamptz,
    clock_skew_ms  double precision,
    problem        text
);
COMMENT ON TYPE ocp_backup.check_result IS
  'what ocp_backup_check found: each step''s outcome, and the first problem met';

CREATE FUNCTION ocp_backup_check(server text DEFAULT NULL)
RETURNS ocp_backup.check_result
AS 'MODULE_PATHNAME', 'ocp_backup_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ocp_backup_check(text) IS
  'checks an OCP endpoint step by step: reachable, TLS verified, authenticated, round trip, clock skew';

CREATE FUNCTION ocp_backup.purge_journal(older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    purged bigint;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval, not %', coalesce(older_than::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH purged_rows AS (
        DELETE FROM ocp_backup.invocation WHERE started_at < now() - older_than RETURNING 1
    )
    SELECT count(*) INTO purged FROM purged_rows;
    RETURN purged;
END
$$;
COMMENT ON FUNCTION ocp_backup.purge_journal(interval) IS
  'deletes journal rows that started more than older_than ago; returns how many';

REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.purge_journal(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup_task(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup_refresh(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup_wait(bigint, interval, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup_check(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.fdw_validator(text[], oid) FROM PUBLIC;
