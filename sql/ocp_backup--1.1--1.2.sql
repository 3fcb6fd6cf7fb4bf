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

-- Reconcile (issue 25, item 1): decided from what OCP documents.  A row of
-- OCP's task list is a BasicTaskInstance (id, name, cluster, tenant,
-- creator, status, startTime, finishTime, subtasks): no createTime and no
-- type, which only a task's detail carries.  ocp_backup_reconcile reads the
-- lists of the calls' clusters, then the detail of every listed task that
-- may be a call's, concurrently; these decide from both.  Tasks journaled
-- under any server that reaches the same OCP are no call's; a task whose
-- time or identity cannot be established leaves the call unsettled, never
-- settled as "none".

-- An OCP date-time as timestamptz, NULL when it is absent or unreadable:
-- what OCP sends is read leniently, never raised on.
CREATE FUNCTION ocp_backup.ocp_time(value text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL
       OR value OPERATOR(pg_catalog.!~) '^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d(:?\d\d)?)$' THEN
        RETURN NULL;
    END IF;
    RETURN value::timestamptz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ocp_backup.ocp_time(text) IS
  'an OCP date-time (2021-08-25T15:09:31.74+08:00 or 2021-09-16T17:25:02.993+0800) as timestamptz; NULL when absent or unreadable (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.ocp_time(text) FROM PUBLIC;

-- An OCP id (a JSON number, or a string of digits beyond 2^53) as bigint;
-- NULL when it is neither.  Inlined where it is used (no SET clause: every
-- name in it is pg_catalog-qualified), for it runs once per listed task.
CREATE FUNCTION ocp_backup.ocp_id(value jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof($1) OPERATOR(pg_catalog.=) ANY (ARRAY['number', 'string'])
                 AND ($1 OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.~) '^[0-9]{1,18}$'
                THEN ($1 OPERATOR(pg_catalog.#>>) '{}')::pg_catalog.int8 END
$$;
COMMENT ON FUNCTION ocp_backup.ocp_id(jsonb) IS
  'an OCP id, a JSON number or string of digits, as bigint; NULL otherwise (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.ocp_id(jsonb) FROM PUBLIC;

-- The listed tasks whose detail the calls need, of every cluster at once
-- (pages[i] is a page of the list of cluster page_clusters[i]): those no
-- server reaching the same OCP has journaled, and that started no earlier
-- than the window of the cluster's earliest call opens (a task starts after
-- it is created, so one started before cannot be a call's).  A row without
-- a readable startTime is kept.  [cluster id, task id] rows.
CREATE FUNCTION ocp_backup.reconcile_candidates(same_ocp text[], invocation_ids bigint[],
                                                margin interval, pages jsonb[],
                                                page_clusters bigint[])
RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH opens AS MATERIALIZED (
        SELECT i.cluster_id, pg_catalog.min(i.started_at) OPERATOR(pg_catalog.-) $3 AS window_from
          FROM ocp_backup.invocation i
         WHERE i.id OPERATOR(pg_catalog.=) ANY ($2)
         GROUP BY i.cluster_id
    ), listed AS MATERIALIZED (
        SELECT DISTINCT p.cluster_id, ocp_backup.ocp_id(e OPERATOR(pg_catalog.->) 'id') AS task_id,
               ocp_backup.ocp_time(e OPERATOR(pg_catalog.->>) 'startTime') AS started
          FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5)) p (page, cluster_id),
               pg_catalog.jsonb_array_elements(
                   CASE WHEN pg_catalog.jsonb_typeof(p.page #> '{data,contents}') OPERATOR(pg_catalog.=) 'array'
                        THEN p.page #> '{data,contents}' ELSE '[]' END) e
    )
    SELECT coalesce(pg_catalog.array_agg(ARRAY[l.cluster_id, l.task_id]
                                         ORDER BY l.cluster_id, l.task_id), '{}')
      FROM listed l JOIN opens o ON o.cluster_id OPERATOR(pg_catalog.=) l.cluster_id
     WHERE l.task_id IS NOT NULL
       AND (l.started IS NULL OR l.started OPERATOR(pg_catalog.>=) o.window_from)
       AND NOT EXISTS (SELECT FROM ocp_backup.task t
                        WHERE t.server_name OPERATOR(pg_catalog.=) ANY ($1)
                          AND t.task_id OPERATOR(pg_catalog.=) l.task_id)
$$;
COMMENT ON FUNCTION ocp_backup.reconcile_candidates(text[], bigint[], interval, jsonb[], bigint[]) IS
  'the tasks of OCP''s task list pages whose detail reconciling those calls needs, as [cluster id, task id] rows: not journaled under the servers reaching the same OCP, and not started before the window of the cluster''s earliest call (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.reconcile_candidates(text[], bigint[], interval, jsonb[], bigint[]) FROM PUBLIC;

DROP FUNCTION ocp_backup.reconcile_call(text, bigint, interval, interval, text, jsonb[]);
CREATE FUNCTION ocp_backup.reconcile_call(server_name text, invocation_id bigint,
                                          margin interval, deadline interval, creator text,
                                          same_ocp text[], pages jsonb[], details jsonb[],
                                          unread jsonb, held bigint[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Planned once per session: custom plans for each call's arrays cost more
-- than the call (a run decides thousands).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    call ocp_backup.invocation;
    window_from timestamptz;
    window_to timestamptz;
    candidates bigint[];
    unknown text[];
    exact_count integer;
    exact_id bigint;
    exact_name text;
    exact_status text;
    exact_created timestamptz;
    unchecked text := '';
BEGIN
    -- A row another transaction holds is left for a later run, not waited on.
    SELECT * INTO call FROM ocp_backup.invocation i
     WHERE i.id = $2 AND i.server_name = $1 AND i.outcome_unknown AND i.reconciled_at IS NULL
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;  -- settled meanwhile, or being settled by another run
    END IF;
    window_from := call.started_at - margin;
    window_to := greatest(call.finished_at, call.started_at + deadline) + margin;
    -- Every page read: OCP documents neither the task list's order nor a
    -- filter on creation time.  A list row has no createTime and no type:
    -- those come from the task's detail.  A task started before the window
    -- opens was created before it too, and is not looked at further.  The
    -- candidates are the tasks of the cluster created in the window, but
    -- for those OCP's schedule started and those a journal row of any
    -- server reaching this OCP already has.  A task whose creation time or
    -- identity cannot be established (its detail unread or without
    -- createTime, its row being journaled by a transaction still open) may
    -- be the call's: it leaves the call unsettled.  The call's task is the
    -- one candidate that is also a manual backup of its cluster (and
    -- tenant, or none) by its account.
    WITH listed AS MATERIALIZED (
        SELECT DISTINCT ON (ocp_backup.ocp_id(e->'id'))
               ocp_backup.ocp_id(e->'id') AS task_id, e AS row,
               ocp_backup.ocp_time(e->>'startTime') AS started
          FROM unnest(pages) p,
               jsonb_array_elements(CASE WHEN jsonb_typeof(p #> '{data,contents}') = 'array'
                                         THEN p #> '{data,contents}' ELSE '[]' END) e
    ), looked AS MATERIALIZED (
        SELECT l.task_id, l.row, d.detail,
               ocp_backup.ocp_time(d.detail->>'createTime') AS created
          FROM listed l
          LEFT JOIN LATERAL (SELECT x->'data' AS detail FROM unnest(details) x
                              WHERE ocp_backup.ocp_id(x #> '{data,id}') = l.task_id
                              LIMIT 1) d ON true
         WHERE (l.started IS NULL OR l.started >= window_from)
           -- A probe of the task table's key per listed task, not a join
           -- over the whole table: a run decides thousands of calls.
           AND NOT coalesce((SELECT true FROM ocp_backup.task t
                              WHERE t.server_name = ANY (same_ocp) AND t.task_id = l.task_id
                              LIMIT 1), false)
    ), judged AS (
        SELECT k.task_id, coalesce(k.detail->>'name', k.row->>'name') AS name,
               coalesce(k.detail->>'status', k.row->>'status') AS status, k.created,
               CASE WHEN k.task_id IS NULL THEN 'a listed task without a readable id'
                    WHEN k.task_id = ANY (held) THEN format('task %s, being journaled by a transaction still open', k.task_id)
                    WHEN k.detail IS NULL THEN format('task %s, whose detail was not read (%s)', k.task_id,
                                                      coalesce(unread->>k.task_id::text, 'no answer'))
                    WHEN k.created IS NULL THEN format('task %s, whose detail gives no readable createTime', k.task_id)
               END AS unknown,
               k.created BETWEEN window_from AND window_to
               AND coalesce(k.detail->>'type', 'MANUAL') NOT IN ('SCHEDULED', 'SYS_SCHEDULED')
               AND coalesce(ocp_backup.ocp_id(coalesce(k.detail, k.row) #> '{cluster,id}'), call.cluster_id) = call.cluster_id
               AS candidate,
               k.detail->>'name' ILIKE '%backup%'
               AND ocp_backup.ocp_id(k.detail #> '{cluster,id}') IS NOT DISTINCT FROM call.cluster_id
               AND ocp_backup.ocp_id(k.detail #> '{tenant,id}') IS NOT DISTINCT FROM call.tenant_id
               AND (creator IS NULL OR lower(k.detail #>> '{creator,name}') = lower(creator)) AS exact
          FROM looked k
    )
    SELECT array_agg(j.task_id ORDER BY j.task_id) FILTER (WHERE j.unknown IS NULL AND j.candidate),
           array_agg(j.unknown ORDER BY j.task_id) FILTER (WHERE j.unknown IS NOT NULL),
           count(*) FILTER (WHERE j.unknown IS NULL AND j.candidate AND j.exact),
           (array_agg(j.task_id) FILTER (WHERE j.unknown IS NULL AND j.candidate AND j.exact))[1],
           (array_agg(j.name) FILTER (WHERE j.unknown IS NULL AND j.candidate AND j.exact))[1],
           (array_agg(j.status) FILTER (WHERE j.unknown IS NULL AND j.candidate AND j.exact))[1],
           (array_agg(j.created) FILTER (WHERE j.unknown IS NULL AND j.candidate AND j.exact))[1]
      INTO candidates, unknown, exact_count, exact_id, exact_name, exact_status, exact_created
      FROM judged j;
    IF unknown IS NOT NULL THEN
        -- Not settled: a task OCP lists may be the call's, and could not be
        -- looked at; a later run looks again.
        UPDATE ocp_backup.invocation i
           SET reconciliation = format('not settled: OCP lists %s; it may be this call''s (cluster %s, created between %s and %s): a later ocp_backup_reconcile() looks again',
                                       array_to_string(unknown, '; '), call.cluster_id,
                                       window_from, window_to)
         WHERE i.id = call.id;
        RETURN false;
    END IF;
    IF creator IS NULL THEN
        unchecked := format('; its creator was not checked: the OCP user of access key %s is not known here',
                            coalesce(call.ocp_account, '(none journaled)'));
    END IF;
    IF exact_count = 1 THEN
        INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id, status)
        VALUES (exact_id, call.id, call.server_name, call.cluster_id, exact_status);
        UPDATE ocp_backup.invocation i
           SET reconciled_at = now(),
               reconciliation = format('OCP task %s (%s), created at %s, is taken to be this call''s%s',
                                       exact_id, exact_name, exact_created, unchecked)
         WHERE i.id = call.id;
        RETURN true;
    END IF;
    IF candidates IS NULL THEN
        UPDATE ocp_backup.invocation i
           SET reconciled_at = now(),
               reconciliation = format('OCP lists no backup task of cluster %s created between %s and %s',
                                       call.cluster_id, window_from, window_to)
         WHERE i.id = call.id;
        RETURN true;
    END IF;
    -- Not settled: which task is the call's is for a DBA to tell.
    UPDATE ocp_backup.invocation i
       SET reconciliation = format('not settled: OCP task(s) %s of cluster %s, created between %s and %s, may be this call''s; %s match its account, cluster and tenant: look in OCP%s',
                                   array_to_string(candidates, ', '), call.cluster_id,
                                   window_from, window_to, exact_count, unchecked)
     WHERE i.id = call.id;
    RETURN false;
END
$$;
COMMENT ON FUNCTION ocp_backup.reconcile_call(text, bigint, interval, interval, text, text[], jsonb[], jsonb[], jsonb, bigint[]) IS
  'settles a call whose outcome is unknown from every page of OCP''s task list of its cluster and the details of the tasks that may be its own; true once settled, false when it is left, with a note (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.reconcile_call(text, bigint, interval, interval, text, text[], jsonb[], jsonb[], jsonb, bigint[]) FROM PUBLIC;
