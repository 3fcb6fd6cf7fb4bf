-- ocp_backup 1.1 -> 1.2: ALTER EXTENSION ocp_backup UPDATE.  A fresh 1.2 is
-- 1.0's install script followed by this chain, so everything 1.2 adds or
-- changes is written here once.

\echo Use "ALTER EXTENSION ocp_backup UPDATE" to load this file. \quit

-- Calls that name the extension's functions without their schema and with
-- untyped arguments resolve among every schema of the caller's search_path,
-- so a role that may create where the functions live can plant a better
-- matching overload.  The README's recipes qualify and type their calls;
-- this warns when the extension's schema lets another role create.
DO $$
DECLARE
    creators text;
BEGIN
    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                                 ', ' ORDER BY a.grantee)
      INTO creators
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
     WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF creators IS NOT NULL THEN
        RAISE WARNING 'roles other than its owner may create objects in schema %, which holds ocp_backup''s functions',
                      '@extschema@'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('CREATE on the schema is granted to %s.', creators),
                  HINT = 'Revoke CREATE on the schema from them, or call the functions schema-qualified with typed arguments as the README''s recipes do; see its "Least privilege" section.';
    END IF;
END
$$;

-- Fleet health (issue 24): cluster_status answers from index lookups, per
-- cluster, never from a scan of all history or all calls; the calls that
-- say nothing about a cluster's backups are left out.
--
-- Which calls count.  A call says something about a cluster's backups once
-- it reached OCP's backup service and OCP did not say the cluster is not
-- there: its outcome is unknown (it may have started a backup), or OCP
-- answered with a status other than 401, 403 and 407 (credentials), 404
-- (no such cluster, or tenant), 429 (throttled), 502 and 504 (a gateway
-- that could not reach OCP).  A call that never reached OCP (DNS, refused,
-- TLS) has no status and a known outcome.  A refusal because a backup of
-- the cluster is already running (BAK31005) is no failure either.

-- The clusters counted calls were made for, so that cluster_status lists
-- them without reading the journal: written with the journal row (the
-- call's own transaction, the SQL writer, the journal writer's replay),
-- renamed with the server, and removed with the last counted call of the
-- cluster (trigger invocation_deleted: purge_journal, a DBA's DELETE) or
-- by a TRUNCATE of the journal.
CREATE TABLE ocp_backup.called_cluster (
    server_name    text NOT NULL,
    cluster_id     bigint NOT NULL,
    PRIMARY KEY (server_name, cluster_id)
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.called_cluster', '');
COMMENT ON TABLE ocp_backup.called_cluster IS
  'the (server, cluster) pairs of the journal''s calls that reached OCP and were not answered 401, 403, 404, 407, 429, 502 or 504: the clusters cluster_status lists besides those OCP lists';
COMMENT ON COLUMN ocp_backup.called_cluster.server_name IS 'the foreign server (OCP endpoint) the calls went through';
COMMENT ON COLUMN ocp_backup.called_cluster.cluster_id IS 'the cluster id the calls named';
INSERT INTO ocp_backup.called_cluster
SELECT DISTINCT i.server_name, i.cluster_id FROM ocp_backup.invocation i
 WHERE i.outcome_unknown
    OR i.http_status NOT IN (0, 401, 403, 404, 407, 429, 502, 504);

-- Records the cluster of a call the journal just got, when the call counts.
CREATE FUNCTION ocp_backup.record_called_cluster(server_name text, cluster_id bigint)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO ocp_backup.called_cluster (server_name, cluster_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
$$;
COMMENT ON FUNCTION ocp_backup.record_called_cluster(text, bigint) IS
  'adds a cluster to ocp_backup.called_cluster for a journal row of a call that counts (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.record_called_cluster(text, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION ocp_backup.record_invocation(call jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r ocp_backup.invocation;
    task bigint;
BEGIN
    r := pg_catalog.jsonb_populate_record(NULL::ocp_backup.invocation, call);
    -- OCP's answer comes as a string of its exact text; rows the 1.0
    -- library logged have it as JSON under "response", and no
    -- outcome_unknown.
    IF call OPERATOR(pg_catalog.?) 'response_text' THEN
        r.response := (call OPERATOR(pg_catalog.->>) 'response_text')::pg_catalog.json;
    END IF;
    r.outcome_unknown := coalesce(r.outcome_unknown, false);
    INSERT INTO ocp_backup.invocation VALUES (r.*) ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- One INSERT per task (there is mostly one) costs less to start than
    -- one over unnest; OCP may list a task twice.
    FOREACH task IN ARRAY r.task_ids LOOP
        INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id)
        VALUES (task, r.id, r.server_name, r.cluster_id)
            ON CONFLICT (server_name, task_id) DO NOTHING;
    END LOOP;
    -- The call's cluster, when the call counts (see called_cluster).
    IF r.outcome_unknown OR r.http_status NOT IN (0, 401, 403, 404, 407, 429, 502, 504) THEN
        INSERT INTO ocp_backup.called_cluster (server_name, cluster_id)
        VALUES (r.server_name, r.cluster_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN true;
END
$$;

-- Whether a failed call was refused only because a backup of the cluster
-- (or tenant) was running already: OCP's BAK31005, as the journal's error
-- words each refused object ("OCP did not start a backup: CODE: hint"), or
-- as the code of OCP's error envelope.  Inlined into cluster_status, so
-- every name in it is pg_catalog's.
CREATE FUNCTION ocp_backup.refused_as_running(error text, response json)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(
               pg_catalog.array_length(pg_catalog.string_to_array($1, 'OCP did not start a backup: '), 1)
                   OPERATOR(pg_catalog.>) 1
               AND pg_catalog.array_length(pg_catalog.string_to_array($1, 'OCP did not start a backup: '), 1)
                   OPERATOR(pg_catalog.=)
                   pg_catalog.array_length(pg_catalog.string_to_array($1, 'OCP did not start a backup: BAK31005: '), 1),
               false)
        OR COALESCE(($2 OPERATOR(pg_catalog.->) 'error' OPERATOR(pg_catalog.->>) 'code')
                                   OPERATOR(pg_catalog.=) 'BAK31005', false)
$$;
COMMENT ON FUNCTION ocp_backup.refused_as_running(text, json) IS
  'whether a journal row''s error and answer say OCP refused the call only because a backup was already running (BAK31005), given its error and response';

-- Indexes for the per-cluster lookups of cluster_status; each serves one
-- question about one cluster with a probe or a short range.
CREATE INDEX backup_history_done_idx
    ON ocp_backup.backup_history (server_name, cluster_id, (coalesce(finish_time, start_time)))
    WHERE status = 'DONE';
CREATE INDEX backup_history_failed_idx
    ON ocp_backup.backup_history (server_name, cluster_id, (coalesce(finish_time, start_time)))
    WHERE status IN ('FAILED', 'CANCELED');
-- The README's tenant query: the jobs done in the last day, from the index
-- (a hash anti join against the tenants), not from all history.
CREATE INDEX backup_history_done_finished_idx
    ON ocp_backup.backup_history (finish_time)
    WHERE status = 'DONE';
DROP INDEX ocp_backup.backup_history_finished_idx;
CREATE INDEX backup_history_running_idx
    ON ocp_backup.backup_history (server_name, cluster_id)
    WHERE status IN ('BEGINNING', 'INITIALIZING', 'DOING', 'CANCELING');
DROP INDEX ocp_backup.task_cluster_idx;
CREATE INDEX task_cluster_idx
    ON ocp_backup.task (server_name, cluster_id, invocation_id, task_id);
CREATE INDEX task_succeeded_idx
    ON ocp_backup.task (server_name, cluster_id, (coalesce(finish_time, last_checked_at)))
    WHERE status = 'SUCCESSFUL';
CREATE INDEX task_failed_idx
    ON ocp_backup.task (server_name, cluster_id, (coalesce(finish_time, last_checked_at)))
    WHERE status = 'FAILED';
-- (A task running is looked for through task_cluster_idx: a call's new
-- task goes into no further index.)
CREATE INDEX invocation_refused_idx
    ON ocp_backup.invocation (server_name, cluster_id, started_at)
    WHERE NOT successful
      AND (outcome_unknown OR http_status NOT IN (0, 401, 403, 404, 407, 429, 502, 504));

-- Each cluster's latest successful backup, kept exact by the writers so
-- that "no good backup in 24 hours" over the fleet is one scan of it:
-- sync's record_backup_page when a page changed a job, record_task_status
-- after each task it reads, a trigger when a call is reconciled (reconcile
-- records the task it found), a trigger when calls are deleted (their tasks
-- go with them), rename_server with the rows, and triggers on TRUNCATE.
-- A row per cluster with a success; none without.
CREATE TABLE ocp_backup.cluster_success (
    server_name     text NOT NULL,
    cluster_id      bigint NOT NULL,
    last_success_at timestamptz NOT NULL,
    PRIMARY KEY (server_name, cluster_id)
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.cluster_success', '');
COMMENT ON TABLE ocp_backup.cluster_success IS
  'each cluster''s latest successful backup, from OCP''s history or a task started from SQL, as cluster_status.last_success_at shows it; kept by ocp_backup''s writers (after changing backup_history or task by hand, call ocp_backup.settle_last_success for the clusters changed)';
COMMENT ON COLUMN ocp_backup.cluster_success.server_name IS 'the foreign server (OCP endpoint)';
COMMENT ON COLUMN ocp_backup.cluster_success.cluster_id IS 'OCP''s cluster id';
COMMENT ON COLUMN ocp_backup.cluster_success.last_success_at IS 'the latest end of a DONE job of OCP''s history (its start when OCP gives no end) or of a task from SQL that ended SUCCESSFUL (when OCP last said so, when OCP gives no end; when the call ended, for a task reconcile found and nobody read)';

-- Recomputes the rows of cluster_success of the clusters (servers[i],
-- clusters[i]) from the history and the tasks, each with index probes.
CREATE FUNCTION ocp_backup.settle_last_success(servers text[], clusters bigint[])
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH k AS (
        SELECT DISTINCT u.server_name, u.cluster_id FROM unnest($1, $2) AS u(server_name, cluster_id)
    ), x AS (
        SELECT k.server_name, k.cluster_id, greatest(
                 (SELECT coalesce(h.finish_time, h.start_time) FROM ocp_backup.backup_history h
                   WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id
                     AND h.status = 'DONE'
                     AND coalesce(h.finish_time, h.start_time) IS NOT NULL
                   ORDER BY coalesce(h.finish_time, h.start_time) DESC LIMIT 1),
                 (SELECT coalesce(t.finish_time, t.last_checked_at) FROM ocp_backup.task t
                   WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                     AND t.status = 'SUCCESSFUL'
                     AND coalesce(t.finish_time, t.last_checked_at) IS NOT NULL
                   ORDER BY coalesce(t.finish_time, t.last_checked_at) DESC LIMIT 1),
                 (SELECT max(i.finished_at)
                    FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
                   WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                     AND t.status = 'SUCCESSFUL'
                     AND coalesce(t.finish_time, t.last_checked_at) IS NULL)) AS at
          FROM k
    ), gone AS (
        DELETE FROM ocp_backup.cluster_success s USING x
         WHERE s.server_name = x.server_name AND s.cluster_id = x.cluster_id AND x.at IS NULL
    )
    INSERT INTO ocp_backup.cluster_success AS s (server_name, cluster_id, last_success_at)
    SELECT x.server_name, x.cluster_id, x.at FROM x WHERE x.at IS NOT NULL
        ON CONFLICT (server_name, cluster_id) DO UPDATE
       SET last_success_at = excluded.last_success_at
     WHERE s.last_success_at IS DISTINCT FROM excluded.last_success_at
$$;
COMMENT ON FUNCTION ocp_backup.settle_last_success(text[], bigint[]) IS
  'recomputes ocp_backup.cluster_success for the clusters (servers[i], clusters[i]) from backup_history and task; for a DBA who changed those tables by hand (needs EXECUTE, granted to nobody)';
REVOKE ALL ON FUNCTION ocp_backup.settle_last_success(text[], bigint[]) FROM PUBLIC;
SELECT ocp_backup.settle_last_success(pg_catalog.array_agg(k.server_name), pg_catalog.array_agg(k.cluster_id))
  FROM (SELECT h.server_name, h.cluster_id FROM ocp_backup.backup_history h
        UNION SELECT t.server_name, t.cluster_id FROM ocp_backup.task t) k;

CREATE OR REPLACE FUNCTION ocp_backup.record_task_status(server_name text,
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
DECLARE
    cluster bigint;
BEGIN
    -- The task as the caller asked for it, through that server: a task id
    -- of another OCP may be the same number.
    UPDATE ocp_backup.task t
       SET status = $3, subtasks_total = $4, subtasks_done = $5,
           failed_subtask = $6, finish_time = $7,
           last_checked_at = pg_catalog.now(), last_error = NULL
     WHERE t.task_id OPERATOR(pg_catalog.=) $2
       AND t.server_name OPERATOR(pg_catalog.=) $1
    RETURNING t.cluster_id INTO cluster;
    IF $3 OPERATOR(pg_catalog.=) 'SUCCESSFUL' THEN
        PERFORM ocp_backup.settle_last_success(ARRAY[$1], ARRAY[cluster]);
    END IF;
END
$$;

-- Sync's history writer settles the cluster's last success when the page
-- changed a job (1.1's body otherwise).
CREATE OR REPLACE FUNCTION ocp_backup.record_backup_page(server_name text, cluster_id bigint, answer jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- A job in one of these has not ended; every other status is final.
    running constant text[] := '{BEGINNING,INITIALIZING,DOING,CANCELING}';
    known_finished boolean;
    newest_first boolean;
    oldest timestamptz;
    older_unfinished boolean;
    changed integer;
BEGIN
    -- What the page says about the pages after it, read before the page is
    -- stored: it holds a job already recorded as finished; it lists jobs
    -- newest first (OCP's order, not documented: without it, every page is
    -- read); and no job recorded unfinished is older than the page (that
    -- one must be read again).  Only then do the later pages hold nothing
    -- new.
    SELECT EXISTS (
               SELECT FROM jsonb_array_elements(answer->'data'->'contents') e
                 JOIN ocp_backup.backup_history h
                   ON h.server_name = $1 AND h.cluster_id = $2
                  AND h.tenant_id IS NOT DISTINCT FROM (e->>'tenantId')::bigint
                  AND h.job_id = (e->>'taskId')::bigint
                WHERE h.status <> ALL (running)),
           coalesce(bool_and(j.started <= j.previous OR j.previous IS NULL), true),
           min(j.started)
      INTO known_finished, newest_first, oldest
      FROM (SELECT (e->>'startTime')::timestamptz AS started,
                   lag((e->>'startTime')::timestamptz) OVER (ORDER BY n) AS previous
              FROM jsonb_array_elements(answer->'data'->'contents') WITH ORDINALITY AS l(e, n)) j;
    SELECT EXISTS (SELECT FROM ocp_backup.backup_history h
                    WHERE h.server_name = $1 AND h.cluster_id = $2
                      AND h.status = ANY (running) AND h.start_time < oldest)
      INTO older_unfinished;
    INSERT INTO ocp_backup.backup_history AS h
           (server_name, cluster_id, job_id, tenant_id, backup_set_id, backup_mode, backup_type,
            status, start_time, finish_time, error, backup_uri, first_seen_at, updated_at)
    SELECT DISTINCT ON ((e->>'tenantId')::bigint, (e->>'taskId')::bigint)
           $1, $2, (e->>'taskId')::bigint, (e->>'tenantId')::bigint, (e->>'backupSetId')::bigint,
           e->>'backupMode',
           CASE WHEN e->>'dataBackupTaskType' LIKE 'FULL%' THEN 'FULL'
                WHEN e->>'dataBackupTaskType' LIKE 'INC%' THEN 'INCREMENTAL'
                ELSE e->>'dataBackupTaskType' END,
           e->>'status', (e->>'startTime')::timestamptz, (e->>'finishTime')::timestamptz,
           e->>'errorMsg', e->>'backupUri', now(), now()
      FROM jsonb_array_elements(answer->'data'->'contents') e
     ORDER BY (e->>'tenantId')::bigint, (e->>'taskId')::bigint
        ON CONFLICT ON CONSTRAINT backup_history_job_key DO UPDATE
       SET backup_set_id = excluded.backup_set_id,
           backup_mode = excluded.backup_mode, backup_type = excluded.backup_type,
           status = excluded.status, start_time = excluded.start_time,
           finish_time = excluded.finish_time, error = excluded.error,
           backup_uri = excluded.backup_uri, updated_at = excluded.updated_at
     WHERE (h.backup_set_id, h.backup_mode, h.backup_type, h.status, h.start_time,
            h.finish_time, h.error, h.backup_uri)
           IS DISTINCT FROM
           (excluded.backup_set_id, excluded.backup_mode, excluded.backup_type,
            excluded.status, excluded.start_time, excluded.finish_time, excluded.error,
            excluded.backup_uri);
    -- The cluster's last success, when a job changed: a sync that finds
    -- nothing new settles nothing.
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed > 0 THEN
        PERFORM ocp_backup.settle_last_success(ARRAY[$1], ARRAY[$2]);
    END IF;
    RETURN NOT (known_finished AND newest_first AND NOT older_unfinished);
END
$$;

-- A reconciled call may have been given the task reconcile found.  A
-- statement trigger naming no column: the journal's columns stay free to
-- change type.
CREATE FUNCTION ocp_backup.settle_reconciled()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ocp_backup.settle_last_success(pg_catalog.array_agg(n.server_name), pg_catalog.array_agg(n.cluster_id))
       FROM settled_before o JOIN settled_after n ON n.id = o.id
      WHERE o.reconciled_at IS NULL AND n.reconciled_at IS NOT NULL
     HAVING pg_catalog.count(*) > 0;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ocp_backup.settle_reconciled() IS
  'the trigger that keeps ocp_backup.cluster_success exact when ocp_backup_reconcile settles calls';
REVOKE ALL ON FUNCTION ocp_backup.settle_reconciled() FROM PUBLIC;
CREATE TRIGGER invocation_reconciled AFTER UPDATE ON ocp_backup.invocation
    REFERENCING OLD TABLE AS settled_before NEW TABLE AS settled_after
    FOR EACH STATEMENT EXECUTE FUNCTION ocp_backup.settle_reconciled();
COMMENT ON TRIGGER invocation_reconciled ON ocp_backup.invocation IS
  'keeps ocp_backup.cluster_success exact when reconcile settles calls (and records their task)';

-- One row per cluster OCP lists or a counted call named.  Each value is
-- looked up for its cluster through the indexes above, so a question about
-- N clusters costs O(N) index probes, whatever the length of the history
-- and of the journal; the 24-hour question reads last_success_at only,
-- the other columns are looked up for the rows it returns.  The columns of
-- 1.1 keep their places and names; last_success_age is appended.
CREATE OR REPLACE VIEW ocp_backup.cluster_status AS
SELECT k.server_name,
       k.cluster_id,
       last_call.started_at AS last_invocation_at,
       last_call.successful AS last_invocation_successful,
       (SELECT t.status FROM ocp_backup.task t
         WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
         ORDER BY t.invocation_id DESC, t.task_id DESC LIMIT 1) AS last_task_status,
       success.last_success_at,
       CASE WHEN synced.synced
            THEN (SELECT count(*) FROM ocp_backup.backup_history h
                   WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id
                     AND h.status = 'DONE'
                     AND coalesce(h.finish_time, h.start_time) > now() - interval '7 days')
            ELSE (SELECT count(*) FROM ocp_backup.task t
                   WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                     AND t.status = 'SUCCESSFUL'
                     AND coalesce(t.finish_time, t.last_checked_at) > now() - interval '7 days')
       END AS successes_7d,
       CASE WHEN synced.synced
            THEN (SELECT count(*) FROM ocp_backup.backup_history h
                   WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id
                     AND h.status IN ('FAILED', 'CANCELED')
                     AND coalesce(h.finish_time, h.start_time) > now() - interval '7 days')
            ELSE (SELECT count(*) FROM ocp_backup.task t
                   WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                     AND t.status = 'FAILED'
                     AND coalesce(t.finish_time, t.last_checked_at) > now() - interval '7 days')
       END
       + (SELECT count(*) FROM ocp_backup.invocation i
           WHERE i.server_name = k.server_name AND i.cluster_id = k.cluster_id
             AND NOT i.successful
             AND (i.outcome_unknown OR i.http_status NOT IN (0, 401, 403, 404, 407, 429, 502, 504))
             AND i.started_at > now() - interval '7 days'
             AND NOT ocp_backup.refused_as_running(i.error, i.response)
             AND NOT EXISTS (SELECT FROM ocp_backup.task t WHERE t.invocation_id = i.id)) AS failures_7d,
       c.cluster_name,
       c.status AS ocp_status,
       c.missing_since,
       greatest((SELECT coalesce(h.finish_time, h.start_time) FROM ocp_backup.backup_history h
                  WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id
                    AND h.status = 'DONE' AND h.backup_type = 'FULL'
                    AND coalesce(h.finish_time, h.start_time) IS NOT NULL
                  ORDER BY coalesce(h.finish_time, h.start_time) DESC LIMIT 1),
                (SELECT coalesce(t.finish_time, t.last_checked_at)
                   FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
                  WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                    AND t.status = 'SUCCESSFUL' AND i.data_mode = 'FULL_BACKUP'
                    AND coalesce(t.finish_time, t.last_checked_at) IS NOT NULL
                  ORDER BY coalesce(t.finish_time, t.last_checked_at) DESC LIMIT 1),
                (SELECT max(i.finished_at)
                   FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
                  WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                    AND t.status = 'SUCCESSFUL' AND i.data_mode = 'FULL_BACKUP'
                    AND coalesce(t.finish_time, t.last_checked_at) IS NULL)) AS last_full_backup_at,
       last_failure.at AS last_failure_at,
       last_failure.error AS last_failure_error,
       EXISTS (SELECT FROM ocp_backup.backup_history h
                WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id
                  AND h.status IN ('BEGINNING', 'INITIALIZING', 'DOING', 'CANCELING'))
       OR EXISTS (SELECT FROM ocp_backup.task t
                   WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                     AND (t.status IS NULL OR t.status = 'RUNNING'))
       OR (ocp_backup.refused_as_running(last_call.error, last_call.response)
           AND last_call.started_at > coalesce(greatest(success.last_success_at, last_failure.at), '-infinity'))
       AS backup_running,
       now() - success.last_success_at AS last_success_age
  FROM (SELECT c.server_name, c.cluster_id FROM ocp_backup.cluster c
        UNION ALL
        SELECT j.server_name, j.cluster_id FROM ocp_backup.called_cluster j
         WHERE NOT EXISTS (SELECT FROM ocp_backup.cluster c
                            WHERE c.server_name = j.server_name AND c.cluster_id = j.cluster_id)) k
  LEFT JOIN ocp_backup.cluster c ON c.server_name = k.server_name AND c.cluster_id = k.cluster_id
  LEFT JOIN ocp_backup.cluster_success success
         ON success.server_name = k.server_name AND success.cluster_id = k.cluster_id
  LEFT JOIN LATERAL (
        SELECT i.started_at, i.successful, i.error, i.response FROM ocp_backup.invocation i
         WHERE i.server_name = k.server_name AND i.cluster_id = k.cluster_id
         ORDER BY i.started_at DESC, i.id DESC LIMIT 1) last_call ON true
  -- OFFSET 0: looked up once per cluster, not once per reference.
  LEFT JOIN LATERAL (
        SELECT EXISTS (SELECT FROM ocp_backup.backup_history h
                        WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id) AS synced
        OFFSET 0) synced ON true
  LEFT JOIN LATERAL (
        SELECT f.at, f.error FROM (
            (SELECT coalesce(h.finish_time, h.start_time) AS at, h.error FROM ocp_backup.backup_history h
              WHERE h.server_name = k.server_name AND h.cluster_id = k.cluster_id
                AND h.status IN ('FAILED', 'CANCELED')
                AND coalesce(h.finish_time, h.start_time) IS NOT NULL
              ORDER BY coalesce(h.finish_time, h.start_time) DESC LIMIT 1)
            UNION ALL
            (SELECT coalesce(t.finish_time, t.last_checked_at, i.finished_at),
                    'OCP task ' || t.task_id || ' failed' || coalesce(' in subtask ' || t.failed_subtask, '')
               FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
              WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
                AND t.status = 'FAILED'
              ORDER BY coalesce(t.finish_time, t.last_checked_at) DESC NULLS FIRST LIMIT 1)
            UNION ALL
            (SELECT i.started_at, i.error FROM ocp_backup.invocation i
              WHERE i.server_name = k.server_name AND i.cluster_id = k.cluster_id
                AND NOT i.successful
                AND (i.outcome_unknown OR i.http_status NOT IN (0, 401, 403, 404, 407, 429, 502, 504))
                AND NOT ocp_backup.refused_as_running(i.error, i.response)
                AND NOT EXISTS (SELECT FROM ocp_backup.task t WHERE t.invocation_id = i.id)
              ORDER BY i.started_at DESC LIMIT 1)) f
         ORDER BY f.at DESC NULLS LAST LIMIT 1) last_failure ON true;

COMMENT ON VIEW ocp_backup.cluster_status IS
  'one row per server and cluster that OCP lists or a call that reached OCP named (not 401, 403, 404, 407, 429, 502 or 504): the last call, the last success from OCP''s history or a task started from SQL and its age, the last full backup, the last failure, whether a backup runs, and 7-day counts; see each column';
COMMENT ON COLUMN ocp_backup.cluster_status.server_name IS 'the foreign server (OCP endpoint)';
COMMENT ON COLUMN ocp_backup.cluster_status.cluster_id IS 'OCP''s cluster id';
COMMENT ON COLUMN ocp_backup.cluster_status.last_invocation_at IS 'when the latest ocp_backup_now call for the cluster started, whatever its outcome; NULL when the journal has none';
COMMENT ON COLUMN ocp_backup.cluster_status.last_invocation_successful IS 'whether that latest call succeeded (false also for calls that never reached OCP or that OCP refused)';
COMMENT ON COLUMN ocp_backup.cluster_status.last_task_status IS 'OCP''s status (RUNNING, SUCCESSFUL, FAILED; NULL until read) of the latest task a call from SQL started';
COMMENT ON COLUMN ocp_backup.cluster_status.last_success_at IS 'the latest successful backup from either source: the end of a DONE job of OCP''s history (its start when OCP gives no end), or of a task from SQL that ended SUCCESSFUL (when OCP last said so when it gives no end time; when the call ended, for a task reconcile found and nobody read); NULL: never backed up';
COMMENT ON COLUMN ocp_backup.cluster_status.successes_7d IS 'DONE jobs of OCP''s history that ended in the last 7 days once the cluster is synced (the history holds the backups started from SQL too); before, tasks from SQL that ended SUCCESSFUL in the last 7 days';
COMMENT ON COLUMN ocp_backup.cluster_status.failures_7d IS 'FAILED or CANCELED jobs of OCP''s history that ended in the last 7 days once the cluster is synced (before, tasks from SQL that ended FAILED), plus the calls of the last 7 days that reached OCP, were refused and started no task; not counted: calls that never reached OCP or were answered 401, 403, 404, 407, 429, 502 or 504, and refusals because a backup was running (BAK31005)';
COMMENT ON COLUMN ocp_backup.cluster_status.cluster_name IS 'the cluster''s name in OCP; NULL when no sync has listed it';
COMMENT ON COLUMN ocp_backup.cluster_status.ocp_status IS 'OCP''s status of the cluster (RUNNING, STOPPED, ...) as the last sync read it';
COMMENT ON COLUMN ocp_backup.cluster_status.missing_since IS 'since when OCP no longer lists the cluster; NULL while it does';
COMMENT ON COLUMN ocp_backup.cluster_status.last_full_backup_at IS 'as last_success_at, for FULL jobs of OCP''s history and tasks of FULL_BACKUP calls only';
COMMENT ON COLUMN ocp_backup.cluster_status.last_failure_at IS 'the latest failure among those failures_7d counts, of any age: a FAILED or CANCELED job''s end (its start without one), a FAILED task''s end (when OCP last said so, without one), a refused call''s start';
COMMENT ON COLUMN ocp_backup.cluster_status.last_failure_error IS 'why that latest failure happened: OCP''s errorMsg of the job, "OCP task N failed in subtask S", or the journal''s error of the call';
COMMENT ON COLUMN ocp_backup.cluster_status.backup_running IS 'true while a job of OCP''s history is BEGINNING, INITIALIZING, DOING or CANCELING, a task from SQL is RUNNING or not read yet, or the latest call was refused because a backup was running (BAK31005) and nothing succeeded or failed since';
COMMENT ON COLUMN ocp_backup.cluster_status.last_success_age IS 'now() - last_success_at: how old the latest good backup is (NULL: never backed up), for alerts such as WHERE last_success_age > interval ''24 hours'' OR last_success_age IS NULL';

-- A deleted call's tasks go with it, as 1.1's foreign key cascaded, but in
-- one statement per DELETE: the foreign key's cascade ran a query for each
-- deleted row, nine tenths of a large purge even once the tasks were gone.
-- The same statement settles what the fleet views keep of the clusters
-- concerned, whoever deletes (purge_journal, a DBA).  A task's row is
-- written only by the writers, after its call's row, in the same
-- transaction.
ALTER TABLE ocp_backup.task DROP CONSTRAINT task_invocation_id_fkey;
CREATE FUNCTION ocp_backup.delete_calls_tasks()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    servers text[];
    clusters bigint[];
BEGIN
    WITH gone_tasks AS (
        DELETE FROM ocp_backup.task t USING deleted_calls d
         WHERE t.invocation_id OPERATOR(pg_catalog.=) d.id
        RETURNING t.server_name, t.cluster_id, t.status
    )
    SELECT pg_catalog.array_agg(g.server_name), pg_catalog.array_agg(g.cluster_id) INTO servers, clusters
      FROM (SELECT DISTINCT server_name, cluster_id FROM gone_tasks
             WHERE status OPERATOR(pg_catalog.=) 'SUCCESSFUL') g;
    IF servers IS NOT NULL THEN
        PERFORM ocp_backup.settle_last_success(servers, clusters);
    END IF;
    -- A cluster only calls named is no longer one once none that counts is left.
    DELETE FROM ocp_backup.called_cluster k
     USING (SELECT DISTINCT d.server_name, d.cluster_id FROM deleted_calls d) p
     WHERE k.server_name OPERATOR(pg_catalog.=) p.server_name
       AND k.cluster_id OPERATOR(pg_catalog.=) p.cluster_id
       -- Newest first: a purge leaves the recent calls, found at once.
       AND (SELECT i.started_at FROM ocp_backup.invocation i
             WHERE i.server_name OPERATOR(pg_catalog.=) k.server_name
               AND i.cluster_id OPERATOR(pg_catalog.=) k.cluster_id
               AND (i.outcome_unknown
                    OR i.http_status OPERATOR(pg_catalog.<>) ALL ('{0,401,403,404,407,429,502,504}'))
             ORDER BY i.started_at DESC LIMIT 1) IS NULL;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ocp_backup.delete_calls_tasks() IS
  'the trigger that deletes the tasks of deleted journal rows in one statement, and settles ocp_backup.cluster_success and called_cluster for their clusters';
REVOKE ALL ON FUNCTION ocp_backup.delete_calls_tasks() FROM PUBLIC;
CREATE TRIGGER invocation_deleted AFTER DELETE ON ocp_backup.invocation
    REFERENCING OLD TABLE AS deleted_calls
    FOR EACH STATEMENT EXECUTE FUNCTION ocp_backup.delete_calls_tasks();
COMMENT ON TRIGGER invocation_deleted ON ocp_backup.invocation IS
  'deletes the tasks of deleted journal rows, set-based, and settles the fleet views'' kept rows';

CREATE OR REPLACE FUNCTION ocp_backup.purge_journal(older_than interval)
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
    PERFORM @extschema@.ocp_backup_start_journal_writer();
    -- Their tasks go in the same statement (trigger invocation_deleted).
    WITH purged_rows AS (
        DELETE FROM ocp_backup.invocation WHERE started_at < now() - older_than RETURNING 1
    )
    SELECT count(*) INTO purged FROM purged_rows;
    RETURN purged;
END
$$;

-- A renamed server's rows of called_cluster and cluster_success follow it.
CREATE OR REPLACE FUNCTION ocp_backup.rename_server(old_name text, new_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE ocp_backup.invocation SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.task SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.cluster SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.tenant SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.backup_history SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.called_cluster SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.cluster_success SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'cannot rename ocp_backup server "%" to "%"', $1, $2
        USING ERRCODE = 'unique_violation',
              DETAIL = 'ocp_backup keeps tasks or fleet rows of a former server named "' OPERATOR(pg_catalog.||) $2 OPERATOR(pg_catalog.||) '" for the same ids.',
              HINT = 'Choose another name, or delete that server''s rows from ocp_backup.task, ocp_backup.cluster, ocp_backup.tenant, ocp_backup.backup_history, ocp_backup.called_cluster and ocp_backup.cluster_success first.';
END
$$;

-- TRUNCATE of the journal, the tasks or the history (a DBA starting over,
-- a test) leaves nothing stale in called_cluster and cluster_success.
CREATE FUNCTION ocp_backup.settle_after_truncate()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'invocation' THEN
        -- The tasks go with their calls, as they did through 1.1's foreign key.
        DELETE FROM ocp_backup.task;
        DELETE FROM ocp_backup.called_cluster;
    END IF;
    PERFORM ocp_backup.settle_last_success(pg_catalog.array_agg(s.server_name), pg_catalog.array_agg(s.cluster_id))
       FROM ocp_backup.cluster_success s
     HAVING pg_catalog.count(*) > 0;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ocp_backup.settle_after_truncate() IS
  'the trigger that keeps ocp_backup.called_cluster and cluster_success exact through TRUNCATE of the journal, the tasks or the history';
REVOKE ALL ON FUNCTION ocp_backup.settle_after_truncate() FROM PUBLIC;
CREATE TRIGGER invocation_truncated AFTER TRUNCATE ON ocp_backup.invocation
    FOR EACH STATEMENT EXECUTE FUNCTION ocp_backup.settle_after_truncate();
COMMENT ON TRIGGER invocation_truncated ON ocp_backup.invocation IS
  'empties ocp_backup.task and called_cluster and settles cluster_success when the journal is truncated';
CREATE TRIGGER task_truncated AFTER TRUNCATE ON ocp_backup.task
    FOR EACH STATEMENT EXECUTE FUNCTION ocp_backup.settle_after_truncate();
COMMENT ON TRIGGER task_truncated ON ocp_backup.task IS
  'settles ocp_backup.cluster_success when the tasks are truncated';
CREATE TRIGGER backup_history_truncated AFTER TRUNCATE ON ocp_backup.backup_history
    FOR EACH STATEMENT EXECUTE FUNCTION ocp_backup.settle_after_truncate();
COMMENT ON TRIGGER backup_history_truncated ON ocp_backup.backup_history IS
  'settles ocp_backup.cluster_success when the history is truncated';
