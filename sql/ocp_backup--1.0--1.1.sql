-- ocp_backup 1.0 -> 1.1.  Every row of the journal and every grant is kept.

\echo Use "ALTER EXTENSION ocp_backup UPDATE TO '1.1'" to load this file. \quit

-- 1.1 adds the server options proxy and no_proxy.
COMMENT ON FOREIGN DATA WRAPPER ocp_backup IS
  'OCP endpoints: server options url, connect_timeout_ms, timeout_ms, ca_file, verify_tls, retries, retry_backoff_ms, proxy, no_proxy; user mapping options username and password, or access_key_id and access_key_secret';

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

-- Refuses in a read-only transaction before asking OCP.
CREATE OR REPLACE FUNCTION ocp_backup_refresh(max_tasks integer DEFAULT 100)
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
