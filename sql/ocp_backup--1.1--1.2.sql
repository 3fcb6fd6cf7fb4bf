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
CREATE INDEX task_running_idx
    ON ocp_backup.task (server_name, cluster_id)
    WHERE status IS NULL OR status = 'RUNNING';
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

-- ===========================================================================
-- Recoverability (issue 28): what a DBA can restore today.  A point-in-time
-- restore needs the log archive running and current, which a data backup
-- says nothing about.  ocp_backup_sync reads each cluster's backup overview
-- (GET /api/v2/ob/clusters/{id}/backup/overview, ClusterBackupInfoDetail)
-- and its log backup tasks (GET .../backup/task/logBackupTasks,
-- LogBackupWrapperTask rows per tenant) and keeps the overview per cluster
-- and the latest log backup state per tenant; cluster_status gains five
-- columns and tenant_status answers per tenant.  OCP's samples are not
-- consistent with its reference (a status RUNNING, a fractional delay typed
-- Long, both timestamp forms, an undocumented agentServerIp): the writers
-- take all of them and ignore what they do not know.

CREATE TABLE ocp_backup.cluster_backup (
    server_name         text NOT NULL,
    cluster_id          bigint NOT NULL,
    last_data_backup_at timestamptz,
    log_checkpoint_at   timestamptz,
    log_delay           interval,
    backup_schedule     text,
    has_backup_strategy boolean,
    backup_size_bytes   bigint,
    backup_dimension    text,
    read_at             timestamptz,
    tenants_checkpoint_at timestamptz,
    tenants_delay       interval,
    read_error          text,
    read_failed_at      timestamptz,
    PRIMARY KEY (server_name, cluster_id)
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.cluster_backup', '');
COMMENT ON TABLE ocp_backup.cluster_backup IS
  'each cluster''s backup overview (OCP''s ClusterBackupInfoDetail) and a summary of its tenants'' log backup tasks, as ocp_backup_sync last read them, and why their last read failed';
COMMENT ON COLUMN ocp_backup.cluster_backup.server_name IS 'the foreign server (OCP endpoint) the overview was read through';
COMMENT ON COLUMN ocp_backup.cluster_backup.cluster_id IS 'OCP''s cluster id';
COMMENT ON COLUMN ocp_backup.cluster_backup.last_data_backup_at IS 'OCP''s lastDataBackupTime: the end of the cluster''s latest data backup';
COMMENT ON COLUMN ocp_backup.cluster_backup.log_checkpoint_at IS 'OCP''s latestLogBackupCheckpoint: the latest point the log archive reaches for every tenant; NULL when OCP gives none';
COMMENT ON COLUMN ocp_backup.cluster_backup.log_delay IS 'OCP''s logBackupDelaySeconds as an interval, as of read_at';
COMMENT ON COLUMN ocp_backup.cluster_backup.backup_schedule IS 'OCP''s backupScheduleStatus: NONE, NORMAL, PAUSED, WAITING or ABNORMAL';
COMMENT ON COLUMN ocp_backup.cluster_backup.has_backup_strategy IS 'OCP''s obClusterBackupStatus: true for HAS_BACKUP_STRATEGY, false for NO_BACKUP_STRATEGY, NULL for anything else';
COMMENT ON COLUMN ocp_backup.cluster_backup.backup_size_bytes IS 'OCP''s backupSize in bytes, read in its obStorageVolumeUnit (B, KB, MB, GB, TB, PB, powers of 1024); NULL when OCP gives no size or an unknown unit';
COMMENT ON COLUMN ocp_backup.cluster_backup.backup_dimension IS 'OCP''s backupDimension: CLUSTER or TENANT';
COMMENT ON COLUMN ocp_backup.cluster_backup.read_at IS 'when a sync last read the overview; the values are OCP''s as of then';
COMMENT ON COLUMN ocp_backup.cluster_backup.tenants_checkpoint_at IS 'the earliest checkpoint of the latest log backup tasks of the cluster''s tenants (ocp_backup.tenant_log_backup), NULL when one has none or there are none; kept by the sync that reads them';
COMMENT ON COLUMN ocp_backup.cluster_backup.tenants_delay IS 'the largest delay of those tasks; kept by the sync that reads them';
COMMENT ON COLUMN ocp_backup.cluster_backup.read_error IS 'why the latest sync could not read the cluster''s overview or log backup tasks (the other values are then those of read_at); NULL when it could';
COMMENT ON COLUMN ocp_backup.cluster_backup.read_failed_at IS 'when that read failed; NULL when the latest read succeeded';

-- What cluster_status reads as log_checkpoint_at, for the planner: without
-- it, "cannot be restored to within 15 minutes" over 10,000 clusters was
-- estimated at a third of them, costed past jit_above_cost, and compiled.
CREATE STATISTICS ocp_backup.cluster_backup_restorable
    ON (coalesce(log_checkpoint_at, tenants_checkpoint_at)) FROM ocp_backup.cluster_backup;
COMMENT ON STATISTICS ocp_backup.cluster_backup_restorable IS
  'the distribution of cluster_status.log_checkpoint_at, so that the planner estimates the clusters an RPO alert returns';

CREATE TABLE ocp_backup.tenant_log_backup (
    server_name    text NOT NULL,
    cluster_id     bigint NOT NULL,
    tenant_id      bigint NOT NULL,
    tenant_name    text,
    ob_tenant_id   bigint,
    status         text,
    checkpoint_at  timestamptz,
    delay          interval,
    error          text,
    backup_uri     text,
    created_at     timestamptz,
    modified_at    timestamptz,
    read_at        timestamptz NOT NULL,
    PRIMARY KEY (server_name, cluster_id, tenant_id)
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.tenant_log_backup', '');
COMMENT ON TABLE ocp_backup.tenant_log_backup IS
  'the latest log backup task (OCP''s LogBackupWrapperTask) of each tenant OCP lists one for, as ocp_backup_sync last read them; a tenant without a row has no log backup in OCP';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.server_name IS 'the foreign server (OCP endpoint) the task was read through';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.cluster_id IS 'OCP''s id of the tenant''s cluster';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.tenant_id IS 'OCP''s tenantId, as ocp_backup.tenant.tenant_id';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.tenant_name IS 'OCP''s tenantName';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.ob_tenant_id IS 'OCP''s obTenantId: OceanBase''s own tenant id';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.status IS 'OCP''s status of the log archive: STARTING, INPROGRESS, STOPPING, STOPPED, FAILED, INTERRUPTED, UNKNOWN (OCP 4.3''s list), or RUNNING as OCP''s samples show';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.checkpoint_at IS 'OCP''s checkpoint: the latest point the tenant can be restored to; NULL when OCP gives none';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.delay IS 'OCP''s delay (seconds, fractional ones taken) as an interval, as of read_at';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.error IS 'OCP''s errorMsg of the task';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.backup_uri IS 'OCP''s backupUri: where the log is archived, credentials masked';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.created_at IS 'OCP''s createTime of the task';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.modified_at IS 'OCP''s modifyTime of the task: of several tasks of a tenant, the latest modified is kept';
COMMENT ON COLUMN ocp_backup.tenant_log_backup.read_at IS 'when a sync last read the task';

-- Seconds as OCP sends them (typed Long, yet 77.6421 in its sample) as an
-- interval; NULL for anything that is not a JSON number.  Every name in it
-- is qualified and it has no SET clause, so that the writers' statements
-- inline it instead of planning a SQL function per row.
CREATE FUNCTION ocp_backup.ocp_seconds(value jsonb)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof($1) OPERATOR(pg_catalog.=) 'number'
                THEN pg_catalog.make_interval(secs => ($1 OPERATOR(pg_catalog.#>>) '{}')::double precision) END
$$;
COMMENT ON FUNCTION ocp_backup.ocp_seconds(jsonb) IS
  'a number of seconds as OCP sends it, whole or fractional, as an interval; NULL when it is not a number (internal)';

CREATE FUNCTION ocp_backup.record_backup_overview(server_name text, cluster_id bigint,
                                                  read_at timestamptz, answer jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d constant jsonb := answer->'data';
    units constant text[] := '{B,KB,MB,GB,TB,PB}';
    size numeric;
BEGIN
    IF jsonb_typeof(d) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'OCP sent no backup overview for cluster %', $2
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = 'The answer''s data is not an object.';
    END IF;
    IF jsonb_typeof(d->'backupSize') = 'number'
       AND array_position(units, d->>'obStorageVolumeUnit') IS NOT NULL THEN
        size := round((d->>'backupSize')::numeric
                      * 1024::numeric ^ (array_position(units, d->>'obStorageVolumeUnit') - 1));
        IF size < 0 OR size > 9223372036854775807 THEN
            size := NULL;
        END IF;
    END IF;
    INSERT INTO ocp_backup.cluster_backup AS b
           (server_name, cluster_id, last_data_backup_at, log_checkpoint_at, log_delay,
            backup_schedule, has_backup_strategy, backup_size_bytes, backup_dimension, read_at)
    VALUES ($1, $2, (d->>'lastDataBackupTime')::timestamptz,
            (d->>'latestLogBackupCheckpoint')::timestamptz,
            ocp_backup.ocp_seconds(d->'logBackupDelaySeconds'),
            d->>'backupScheduleStatus',
            CASE d->>'obClusterBackupStatus' WHEN 'HAS_BACKUP_STRATEGY' THEN true
                                             WHEN 'NO_BACKUP_STRATEGY' THEN false END,
            size, d->>'backupDimension', $3)
        ON CONFLICT ON CONSTRAINT cluster_backup_pkey DO UPDATE
       SET last_data_backup_at = excluded.last_data_backup_at,
           log_checkpoint_at = excluded.log_checkpoint_at, log_delay = excluded.log_delay,
           backup_schedule = excluded.backup_schedule,
           has_backup_strategy = excluded.has_backup_strategy,
           backup_size_bytes = excluded.backup_size_bytes,
           backup_dimension = excluded.backup_dimension, read_at = excluded.read_at,
           read_error = NULL, read_failed_at = NULL;
END
$$;
COMMENT ON FUNCTION ocp_backup.record_backup_overview(text, bigint, timestamptz, jsonb) IS
  'stores a cluster''s backup overview as OCP sent it (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.record_log_backup_page(server_name text, cluster_id bigint,
                                                  run_started timestamptz, answer jsonb,
                                                  last_page boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A tenant's latest task: the latest modified (then created, then
    -- listed last) of this page, replacing a row of an older sync or an
    -- older task of an earlier page of this one.
    INSERT INTO ocp_backup.tenant_log_backup AS l
           (server_name, cluster_id, tenant_id, tenant_name, ob_tenant_id, status,
            checkpoint_at, delay, error, backup_uri, created_at, modified_at, read_at)
    SELECT DISTINCT ON ((e->>'tenantId')::bigint)
           $1, $2, (e->>'tenantId')::bigint, e->>'tenantName', (e->>'obTenantId')::bigint,
           e->>'status', (e->>'checkpoint')::timestamptz, ocp_backup.ocp_seconds(e->'delay'),
           e->>'errorMsg', e->>'backupUri', (e->>'createTime')::timestamptz,
           (e->>'modifyTime')::timestamptz, $3
      FROM jsonb_array_elements(answer->'data'->'contents') WITH ORDINALITY AS r(e, n)
     WHERE jsonb_typeof(e->'tenantId') IN ('number', 'string')
     ORDER BY (e->>'tenantId')::bigint, (e->>'modifyTime')::timestamptz DESC NULLS LAST,
              (e->>'createTime')::timestamptz DESC NULLS LAST, n DESC
        ON CONFLICT ON CONSTRAINT tenant_log_backup_pkey DO UPDATE
       SET tenant_name = excluded.tenant_name, ob_tenant_id = excluded.ob_tenant_id,
           status = excluded.status, checkpoint_at = excluded.checkpoint_at,
           delay = excluded.delay, error = excluded.error, backup_uri = excluded.backup_uri,
           created_at = excluded.created_at, modified_at = excluded.modified_at,
           read_at = excluded.read_at
     WHERE l.read_at < excluded.read_at
        OR (coalesce(excluded.modified_at, '-infinity'), coalesce(excluded.created_at, '-infinity'))
           >= (coalesce(l.modified_at, '-infinity'), coalesce(l.created_at, '-infinity'));
    -- A tenant OCP no longer lists a task for has no log backup.  Then the
    -- cluster's summary of its tenants' tasks, which cluster_status reads
    -- when the overview gives no checkpoint.
    IF last_page THEN
        DELETE FROM ocp_backup.tenant_log_backup l
         WHERE l.server_name = $1 AND l.cluster_id = $2 AND l.read_at < $3;
        INSERT INTO ocp_backup.cluster_backup AS b
               (server_name, cluster_id, tenants_checkpoint_at, tenants_delay)
        SELECT $1, $2,
               CASE WHEN bool_and(l.checkpoint_at IS NOT NULL) THEN min(l.checkpoint_at) END,
               max(l.delay)
          FROM ocp_backup.tenant_log_backup l
         WHERE l.server_name = $1 AND l.cluster_id = $2
            ON CONFLICT ON CONSTRAINT cluster_backup_pkey DO UPDATE
           SET tenants_checkpoint_at = excluded.tenants_checkpoint_at,
               tenants_delay = excluded.tenants_delay
         WHERE (b.tenants_checkpoint_at, b.tenants_delay)
               IS DISTINCT FROM (excluded.tenants_checkpoint_at, excluded.tenants_delay);
    END IF;
END
$$;
COMMENT ON FUNCTION ocp_backup.record_log_backup_page(text, bigint, timestamptz, jsonb, boolean) IS
  'stores one page of a cluster''s log backup tasks, the latest per tenant; after the last, forgets the tenants OCP no longer lists one for and keeps the cluster''s summary of them in cluster_backup (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.record_backup_read_failure(server_name text, cluster_id bigint,
                                                      error text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO ocp_backup.cluster_backup AS b (server_name, cluster_id, read_error, read_failed_at)
    VALUES ($1, $2, $3, now())
        ON CONFLICT ON CONSTRAINT cluster_backup_pkey DO UPDATE
       SET read_error = excluded.read_error, read_failed_at = excluded.read_failed_at
$$;
COMMENT ON FUNCTION ocp_backup.record_backup_read_failure(text, bigint, text) IS
  'records why a sync could not read a cluster''s backup overview or log backup tasks, keeping what an earlier sync read (internal: callable by nobody)';

REVOKE ALL ON FUNCTION ocp_backup.record_backup_overview(text, bigint, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_log_backup_page(text, bigint, timestamptz, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_backup_read_failure(text, bigint, text) FROM PUBLIC;

-- cluster_status keeps its columns in their places and appends what a
-- restore needs, from one row per cluster: the overview's values, or, when
-- no sync could read the overview (or OCP gave no checkpoint), the summary
-- of the tenants' tasks the sync keeps beside them (the earliest
-- checkpoint, NULL when one tenant has none; the largest delay).  The
-- 24-hour question reads none of them: the join is removed.
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
       now() - success.last_success_at AS last_success_age,
       coalesce(backup.log_checkpoint_at, backup.tenants_checkpoint_at) AS log_checkpoint_at,
       coalesce(backup.log_delay, backup.tenants_delay) AS log_delay,
       backup.backup_schedule,
       backup.has_backup_strategy,
       backup.backup_size_bytes
  FROM (SELECT c.server_name, c.cluster_id FROM ocp_backup.cluster c
        UNION ALL
        SELECT j.server_name, j.cluster_id FROM ocp_backup.called_cluster j
         WHERE NOT EXISTS (SELECT FROM ocp_backup.cluster c
                            WHERE c.server_name = j.server_name AND c.cluster_id = j.cluster_id)) k
  LEFT JOIN ocp_backup.cluster c ON c.server_name = k.server_name AND c.cluster_id = k.cluster_id
  LEFT JOIN ocp_backup.cluster_success success
         ON success.server_name = k.server_name AND success.cluster_id = k.cluster_id
  LEFT JOIN ocp_backup.cluster_backup backup
         ON backup.server_name = k.server_name AND backup.cluster_id = k.cluster_id
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

COMMENT ON COLUMN ocp_backup.cluster_status.log_checkpoint_at IS 'the latest point the cluster can be restored to: OCP''s latestLogBackupCheckpoint from the backup overview (ocp_backup.cluster_backup), or, without one, the earliest checkpoint of its tenants'' latest log backup tasks (ocp_backup.tenant_log_backup, summed up in cluster_backup.tenants_checkpoint_at; NULL when one of them has none); NULL: OCP shows no log backup';
COMMENT ON COLUMN ocp_backup.cluster_status.log_delay IS 'how far the log archive lags, as OCP said at the last sync: the overview''s logBackupDelaySeconds, or, without it, the largest delay of its tenants'' latest log backup tasks; NULL: no log backup';
COMMENT ON COLUMN ocp_backup.cluster_status.backup_schedule IS 'OCP''s backupScheduleStatus from the backup overview: NONE, NORMAL, PAUSED, WAITING or ABNORMAL; NULL until a sync reads the overview';
COMMENT ON COLUMN ocp_backup.cluster_status.has_backup_strategy IS 'whether OCP has a backup strategy for the cluster: the overview''s obClusterBackupStatus (HAS_BACKUP_STRATEGY or NO_BACKUP_STRATEGY); NULL until a sync reads the overview';
COMMENT ON COLUMN ocp_backup.cluster_status.backup_size_bytes IS 'the overview''s backupSize in bytes, read in its obStorageVolumeUnit (powers of 1024); NULL when OCP gives none';

-- One row per tenant OCP lists: its last good data backup and its log
-- archive, so that "cannot be restored to within 15 minutes of now" and
-- "archive stopped, interrupted or failed" are each one WHERE.
CREATE VIEW ocp_backup.tenant_status AS
SELECT t.server_name,
       t.cluster_id,
       t.tenant_id,
       t.tenant_name,
       (SELECT coalesce(h.finish_time, h.start_time) FROM ocp_backup.backup_history h
         WHERE h.server_name = t.server_name AND h.cluster_id = t.cluster_id
           AND h.status = 'DONE' AND (h.tenant_id = t.tenant_id OR h.tenant_id IS NULL)
           AND coalesce(h.finish_time, h.start_time) IS NOT NULL
         ORDER BY coalesce(h.finish_time, h.start_time) DESC LIMIT 1) AS last_data_backup_at,
       l.status AS log_backup_status,
       l.checkpoint_at AS log_checkpoint_at,
       l.delay AS log_delay,
       l.error AS log_backup_error,
       now() - l.checkpoint_at AS log_checkpoint_age,
       l.backup_uri AS log_backup_uri,
       l.read_at AS log_read_at
  FROM ocp_backup.tenant t
  LEFT JOIN ocp_backup.tenant_log_backup l
         ON l.server_name = t.server_name AND l.cluster_id = t.cluster_id
        AND l.tenant_id = t.tenant_id
 WHERE t.missing_since IS NULL;
COMMENT ON VIEW ocp_backup.tenant_status IS
  'one row per tenant OCP lists (ocp_backup.tenant, as the last sync read it): its last good data backup and the state of its log archive, for point-in-time restores; see each column';
COMMENT ON COLUMN ocp_backup.tenant_status.server_name IS 'the foreign server (OCP endpoint) that lists the tenant';
COMMENT ON COLUMN ocp_backup.tenant_status.cluster_id IS 'OCP''s id of the tenant''s cluster';
COMMENT ON COLUMN ocp_backup.tenant_status.tenant_id IS 'OCP''s tenant id';
COMMENT ON COLUMN ocp_backup.tenant_status.tenant_name IS 'the tenant''s name in OCP; sys is the system tenant';
COMMENT ON COLUMN ocp_backup.tenant_status.last_data_backup_at IS 'the end (its start without one) of the latest DONE job of OCP''s data backup history (ocp_backup.backup_history) for the tenant or for its whole cluster; NULL: none';
COMMENT ON COLUMN ocp_backup.tenant_status.log_backup_status IS 'OCP''s status of the tenant''s latest log backup task (ocp_backup.tenant_log_backup): STARTING, INPROGRESS, STOPPING, STOPPED, FAILED, INTERRUPTED, UNKNOWN, or RUNNING as OCP''s samples show; NULL: OCP shows no log backup for the tenant';
COMMENT ON COLUMN ocp_backup.tenant_status.log_checkpoint_at IS 'that task''s checkpoint: the latest point the tenant can be restored to; NULL: no log backup, or no checkpoint yet';
COMMENT ON COLUMN ocp_backup.tenant_status.log_delay IS 'that task''s delay as an interval, as OCP said at the last sync; NULL: no log backup';
COMMENT ON COLUMN ocp_backup.tenant_status.log_backup_error IS 'that task''s errorMsg; NULL when OCP gives none';
COMMENT ON COLUMN ocp_backup.tenant_status.log_checkpoint_age IS 'now() - log_checkpoint_at: the data a restore now would lose (RPO), for alerts such as WHERE log_checkpoint_age > interval ''15 minutes'' OR log_checkpoint_age IS NULL';
COMMENT ON COLUMN ocp_backup.tenant_status.log_backup_uri IS 'that task''s backupUri, credentials masked';
COMMENT ON COLUMN ocp_backup.tenant_status.log_read_at IS 'when a sync last read that task';

COMMENT ON TYPE ocp_backup.sync_result IS
  'what ocp_backup_sync read from one server: counts (clusters_failed: clusters whose tenants, backups, backup overview or log backup tasks could not be read), and why the server, or its first failing cluster, failed';

-- A renamed server's backup overviews and log backup tasks follow it.
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
    UPDATE ocp_backup.cluster_backup SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
    UPDATE ocp_backup.tenant_log_backup SET server_name = $2 WHERE server_name OPERATOR(pg_catalog.=) $1;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'cannot rename ocp_backup server "%" to "%"', $1, $2
        USING ERRCODE = 'unique_violation',
              DETAIL = 'ocp_backup keeps tasks or fleet rows of a former server named "' OPERATOR(pg_catalog.||) $2 OPERATOR(pg_catalog.||) '" for the same ids.',
              HINT = 'Choose another name, or delete that server''s rows from ocp_backup.task, ocp_backup.cluster, ocp_backup.tenant, ocp_backup.backup_history, ocp_backup.called_cluster, ocp_backup.cluster_success, ocp_backup.cluster_backup and ocp_backup.tenant_log_backup first.';
END
$$;
