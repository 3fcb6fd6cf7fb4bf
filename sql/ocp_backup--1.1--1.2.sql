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

-- ---------------------------------------------------------------------
-- Safe to grant, round 2 (issue 23, items 2, 7, 10 and 11).  Nothing a
-- user's view or function may depend on is dropped here: functions change
-- with CREATE OR REPLACE, so views over them and BEGIN ATOMIC functions
-- calling them, and the grants made on them, carry over.
-- ---------------------------------------------------------------------

-- Overlapping runs of ocp_backup_sync and ocp_backup_reconcile on one
-- server.  1.1 serialized them with advisory locks, which any role can take
-- and hold, keeping every run waiting.  Now a run claims the server with a
-- row lock on a table only the extension's owner can write, and an
-- overlapping run does not wait for it: it skips the server with 55P03.
CREATE TABLE ocp_backup.server_run (
    server_id  oid NOT NULL,
    work       text NOT NULL,
    PRIMARY KEY (server_id, work)
);
COMMENT ON TABLE ocp_backup.server_run IS
  'one row per server and fleet-wide work (sync, reconcile), row-locked by the run that has the server (internal: only the extension''s owner writes it)';
COMMENT ON COLUMN ocp_backup.server_run.server_id IS 'the foreign server''s OID';
COMMENT ON COLUMN ocp_backup.server_run.work IS 'sync or reconcile';

CREATE FUNCTION ocp_backup.claim_server_run(server_id oid, server_name text, work text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Bounds only the wait of a server's very first run on the row an
-- overlapping first run is inserting; no other statement here waits.
SET lock_timeout = '1s'
AS $$
BEGIN
    LOOP
        BEGIN
            PERFORM FROM ocp_backup.server_run r
             WHERE r.server_id OPERATOR(pg_catalog.=) $1 AND r.work OPERATOR(pg_catalog.=) $3
               FOR UPDATE NOWAIT;
            IF FOUND THEN
                RETURN;
            END IF;
            -- The server's first run: its row is made, and held, by this one.
            INSERT INTO ocp_backup.server_run (server_id, work) VALUES ($1, $3)
                ON CONFLICT DO NOTHING;
            IF FOUND THEN
                RETURN;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            RAISE EXCEPTION 'another ocp_backup_%() of OCP server "%" is running', $3, $2
                USING ERRCODE = 'lock_not_available',
                      DETAIL = 'Overlapping runs of a server do not wait for each other: this one skipped the server.',
                      HINT = 'Run it again once the other run has ended, or schedule the runs further apart.';
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ocp_backup.claim_server_run(oid, text, text) IS
  'claims a server for a sync or reconcile run until the transaction ends, without waiting: 55P03 when an overlapping run has it (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.claim_server_run(oid, text, text) FROM PUBLIC;

-- PUBLIC executes only what the README's "Least privilege" table names as
-- anyone's: ocp_backup_read_tasks, which refuses (42501) a role without
-- EXECUTE on ocp_backup_task.  The event trigger's function runs without an
-- EXECUTE check; the journal writer is started by every C entry point of
-- the extension, and by ocp_backup_refresh and purge_journal for a role
-- granted ocp_backup_start_journal_writer (the owner is).
REVOKE ALL ON FUNCTION ocp_backup_start_journal_writer() FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.follow_server_rename() FROM PUBLIC;

CREATE OR REPLACE FUNCTION ocp_backup_refresh(max_tasks integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    servers text[];
    task_ids bigint[];
    outcome record;
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
    -- ocp_backup_read_tasks starts it too, for any caller.
    IF pg_catalog.has_function_privilege('@extschema@.ocp_backup_start_journal_writer()', 'EXECUTE') THEN
        PERFORM @extschema@.ocp_backup_start_journal_writer();
    END IF;
    -- SKIP LOCKED: overlapping runs (a slow pg_cron job) share the work.
    SELECT pg_catalog.array_agg(l.server_name ORDER BY l.last_checked_at NULLS FIRST, l.task_id, l.server_name),
           pg_catalog.array_agg(l.task_id ORDER BY l.last_checked_at NULLS FIRST, l.task_id, l.server_name)
      INTO servers, task_ids
      FROM (SELECT t.task_id, t.server_name, t.last_checked_at FROM ocp_backup.task t
             WHERE t.status IS NULL OR t.status NOT IN ('SUCCESSFUL', 'FAILED')
             ORDER BY t.last_checked_at NULLS FIRST, t.task_id
             LIMIT max_tasks
             FOR UPDATE SKIP LOCKED) l;
    IF task_ids IS NULL THEN
        RETURN 0;
    END IF;
    -- Read concurrently; each status read is recorded in ocp_backup.task.
    -- One unreachable server or unknown task does not stop the others, and
    -- a server throttling (429) keeps its tasks for the next run.
    FOR outcome IN
        SELECT r.server_name, r.task_id, r.error, r.postponed
          FROM @extschema@.ocp_backup_read_tasks(servers, task_ids) r
    LOOP
        CONTINUE WHEN outcome.postponed;
        IF outcome.error IS NOT NULL THEN
            UPDATE ocp_backup.task SET last_checked_at = now(), last_error = outcome.error
             WHERE task_id = outcome.task_id AND server_name = outcome.server_name;
        END IF;
        checked := checked + 1;
    END LOOP;
    RETURN checked;
END
$$;

-- A dropped server's rows stay its own.  Rows name servers (what a DBA
-- joins on and what pg_dump keeps; an OID is neither), so when an
-- ocp_backup server is dropped while rows carry its name, the name is
-- noted here, and only the journal's owner (or a superuser) may give it to
-- a server again: by creating or renaming a server to it, or with
-- ocp_backup.adopt_dropped_server.  Another role's CREATE SERVER or ALTER
-- SERVER ... RENAME TO that name is refused (42501), so it can neither
-- rename, change nor claim those rows.
CREATE TABLE ocp_backup.dropped_server (
    server_name  text PRIMARY KEY,
    dropped_at   timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.dropped_server', '');
COMMENT ON TABLE ocp_backup.dropped_server IS
  'names of dropped ocp_backup servers whose rows ocp_backup keeps: only the journal''s owner may give such a name to a server again';
COMMENT ON COLUMN ocp_backup.dropped_server.server_name IS 'the dropped server''s name, which its rows carry';
COMMENT ON COLUMN ocp_backup.dropped_server.dropped_at IS 'when the server was dropped (for servers dropped before 1.2: when the extension was updated)';
-- Rows of servers dropped before 1.2.
INSERT INTO ocp_backup.dropped_server (server_name, dropped_at)
SELECT n.server_name, pg_catalog.now()
  FROM (SELECT i.server_name FROM ocp_backup.invocation i
        UNION SELECT t.server_name FROM ocp_backup.task t
        UNION SELECT c.server_name FROM ocp_backup.cluster c
        UNION SELECT t.server_name FROM ocp_backup.tenant t
        UNION SELECT h.server_name FROM ocp_backup.backup_history h) n
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_foreign_server s
                    WHERE s.srvname::text OPERATOR(pg_catalog.=) n.server_name);

CREATE FUNCTION ocp_backup.note_dropped_servers()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The catalog row is gone: any server whose name rows carry is noted
    -- (a server of another wrapper with such a name cannot exist).
    INSERT INTO ocp_backup.dropped_server AS d (server_name, dropped_at)
    SELECT DISTINCT o.address_names[1], pg_catalog.now()
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.object_type OPERATOR(pg_catalog.=) 'server'
       AND (EXISTS (SELECT FROM ocp_backup.invocation i WHERE i.server_name OPERATOR(pg_catalog.=) o.address_names[1])
            OR EXISTS (SELECT FROM ocp_backup.task t WHERE t.server_name OPERATOR(pg_catalog.=) o.address_names[1])
            OR EXISTS (SELECT FROM ocp_backup.cluster c WHERE c.server_name OPERATOR(pg_catalog.=) o.address_names[1])
            OR EXISTS (SELECT FROM ocp_backup.tenant t WHERE t.server_name OPERATOR(pg_catalog.=) o.address_names[1])
            OR EXISTS (SELECT FROM ocp_backup.backup_history h WHERE h.server_name OPERATOR(pg_catalog.=) o.address_names[1]))
        ON CONFLICT (server_name) DO UPDATE SET dropped_at = excluded.dropped_at;
END
$$;
COMMENT ON FUNCTION ocp_backup.note_dropped_servers() IS
  'the event trigger that notes the name of a dropped server whose rows ocp_backup keeps (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.note_dropped_servers() FROM PUBLIC;
CREATE EVENT TRIGGER ocp_backup_note_dropped_servers ON sql_drop
    WHEN TAG IN ('DROP SERVER', 'DROP FOREIGN DATA WRAPPER', 'DROP OWNED')
    EXECUTE FUNCTION ocp_backup.note_dropped_servers();
COMMENT ON EVENT TRIGGER ocp_backup_note_dropped_servers IS
  'notes the names of dropped servers whose rows ocp_backup keeps, so that no other role''s server takes them';

-- Called from C, which knows whether the role creating or renaming the
-- server may take a dropped server's rows (the journal's owner may).
CREATE FUNCTION ocp_backup.take_server_name(server_name text, may_adopt boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM ocp_backup.dropped_server d
     WHERE d.server_name OPERATOR(pg_catalog.=) $1 FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT may_adopt THEN
        RAISE EXCEPTION 'the name "%" is that of a dropped ocp_backup server whose rows ocp_backup keeps', $1
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A server of that name would take the journal, task and fleet rows of the server "'
                           OPERATOR(pg_catalog.||) $1 OPERATOR(pg_catalog.||) '" dropped before.',
                  HINT = 'Choose another name, or ask the owner of the extension to give the rows to a new server: SELECT ocp_backup.adopt_dropped_server(''' OPERATOR(pg_catalog.||) pg_catalog.replace($1, '''', '''''') OPERATOR(pg_catalog.||) ''');';
    END IF;
    DELETE FROM ocp_backup.dropped_server d WHERE d.server_name OPERATOR(pg_catalog.=) $1;
END
$$;
COMMENT ON FUNCTION ocp_backup.take_server_name(text, boolean) IS
  'lets a server created or renamed take a name, refusing that of a dropped server''s rows unless may_adopt (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.take_server_name(text, boolean) FROM PUBLIC;

CREATE FUNCTION ocp_backup.adopt_dropped_server(server_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM ocp_backup.dropped_server d WHERE d.server_name OPERATOR(pg_catalog.=) $1;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ocp_backup.adopt_dropped_server(text) IS
  'lets any role''s server created or renamed with this name take a dropped server''s rows; true when the name was a dropped server''s (the extension owner''s)';
REVOKE ALL ON FUNCTION ocp_backup.adopt_dropped_server(text) FROM PUBLIC;

CREATE FUNCTION ocp_backup.guard_server_name()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'ocp_backup_guard_server_name'
LANGUAGE C;
COMMENT ON FUNCTION ocp_backup.guard_server_name() IS
  'the event trigger that refuses a new ocp_backup server the name of a dropped server''s rows, unless created by the extension''s owner (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.guard_server_name() FROM PUBLIC;
CREATE EVENT TRIGGER ocp_backup_guard_server_name ON ddl_command_end
    WHEN TAG IN ('CREATE SERVER')
    EXECUTE FUNCTION ocp_backup.guard_server_name();
COMMENT ON EVENT TRIGGER ocp_backup_guard_server_name IS
  'keeps the name of a dropped server''s rows from any new server but the extension owner''s';

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

-- Nightly runs that tell the truth (issue 25, items 2 and 3).
-- ---------------------------------------------------------------------

-- What links a call to the session, or pg_cron job, that made it: the
-- session's application_name (a background worker's type when it set
-- none: pg_cron's jobs run as "pg_cron") and its pid, which pg_cron
-- records as cron.job_run_details.job_pid.  At the end, as a fresh 1.2
-- has them too.
ALTER TABLE ocp_backup.invocation
    ADD COLUMN application_name text,
    ADD COLUMN backend_pid integer;
COMMENT ON COLUMN ocp_backup.invocation.application_name IS
  'the calling session''s application_name; for a background worker that set none, its type (pg_cron''s jobs: pg_cron); NULL for rows of calls made before 1.2';
COMMENT ON COLUMN ocp_backup.invocation.backend_pid IS
  'the process id of the calling backend: pg_cron records it as cron.job_run_details.job_pid; NULL for rows of calls made before 1.2';

-- What ocp_backup_now does when a backup did not start.  A type of its
-- own, not text: a fifth positional argument of text is the server of
-- 1.1's forms, and only they match it.
CREATE TYPE ocp_backup_on_failure AS ENUM ('warning', 'error');
COMMENT ON TYPE ocp_backup_on_failure IS
  'what ocp_backup_now does when a backup did not start: warning (rows and a WARNING, the statement succeeds) or error (the statement raises OB002 once every cluster was tried and journaled)';

-- 1.1's two forms stay as they are (users' views and grants depend on
-- them) and remain the only ones a call without on_failure matches: the
-- new forms take it as their fifth argument, required.  A trailing
-- defaulted on_failure would make every call that omits it match two
-- functions equally.  After it, the single form takes tenant_id before
-- server: 1.1's sixth argument is tenant_id, so an untyped sixth argument
-- (NULL) leans neither way and the fifth decides (an untyped literal goes
-- to text, 1.1's server, rather than to the enum).
CREATE FUNCTION ocp_backup_now(cluster_id bigint,
                               backup_mode text,
                               data_mode text,
                               storage jsonb,
                               on_failure ocp_backup_on_failure,
                               tenant_id bigint DEFAULT NULL,
                               server text DEFAULT NULL)
RETURNS SETOF ocp_backup.backup_result
AS 'MODULE_PATHNAME', 'ocp_backup_now_on_failure'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, ocp_backup_on_failure, bigint, text) IS
  'ocp_backup_now(cluster_id, ...) with on_failure: ''error'' raises OB002 when OCP started no backup, after the call was journaled; ''warning'' is the form without it';
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, ocp_backup_on_failure, bigint, text) FROM PUBLIC;

CREATE FUNCTION ocp_backup_now(cluster_ids bigint[],
                               backup_mode text,
                               data_mode text,
                               storage jsonb,
                               on_failure ocp_backup_on_failure,
                               server text DEFAULT NULL)
RETURNS SETOF ocp_backup.backup_result
AS 'MODULE_PATHNAME', 'ocp_backup_now_clusters_on_failure'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;
COMMENT ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, ocp_backup_on_failure, text) IS
  'ocp_backup_now(cluster_ids, ...) with on_failure: ''error'' raises OB002, naming the clusters and why, once every cluster was tried and journaled';
REVOKE ALL ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, ocp_backup_on_failure, text) FROM PUBLIC;

-- Whoever was granted a 1.1 form is granted its on_failure form, as the
-- DBA's grant (not the extension's: pg_init_privs keeps a fresh install's).
DO $$
DECLARE
    pair record;
    granted record;
    initial aclitem[];
BEGIN
    FOR pair IN
        SELECT '@extschema@.ocp_backup_now(bigint, text, text, jsonb, text, bigint)'::pg_catalog.regprocedure AS old,
               '@extschema@.ocp_backup_now(bigint, text, text, jsonb, @extschema@.ocp_backup_on_failure, bigint, text)'::pg_catalog.regprocedure AS new
        UNION ALL
        SELECT '@extschema@.ocp_backup_now(bigint[], text, text, jsonb, text)'::pg_catalog.regprocedure,
               '@extschema@.ocp_backup_now(bigint[], text, text, jsonb, @extschema@.ocp_backup_on_failure, text)'::pg_catalog.regprocedure
    LOOP
        SELECT p.proacl INTO initial FROM pg_catalog.pg_proc p
         WHERE p.oid OPERATOR(pg_catalog.=) pair.new;
        FOR granted IN
            SELECT a.grantee, a.is_grantable
              FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
             WHERE p.oid OPERATOR(pg_catalog.=) pair.old
               AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
               AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
             ORDER BY a.grantee
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', pair.new,
                                      CASE WHEN granted.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                           ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(granted.grantee)) END,
                                      CASE WHEN granted.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        -- Grants made by an extension script count as the extension's own
        -- (pg_init_privs): these are the DBA's, so the initial privileges
        -- stay those of a fresh install, and (PostgreSQL 17 on) so do the
        -- shared dependencies that record them.
        UPDATE pg_catalog.pg_init_privs ip
           SET initprivs = initial
         WHERE ip.objoid OPERATOR(pg_catalog.=) pair.new
           AND ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass;
        DELETE FROM pg_catalog.pg_shdepend d
         WHERE d.dbid OPERATOR(pg_catalog.=) (SELECT db.oid FROM pg_catalog.pg_database db
                                               WHERE db.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
           AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.objid OPERATOR(pg_catalog.=) pair.new
           AND d.deptype OPERATOR(pg_catalog.=) 'i'
           AND d.refobjid OPERATOR(pg_catalog.<>) ALL (SELECT a.grantee FROM pg_catalog.aclexplode(initial) a);
    END LOOP;
END
$$;

-- Waiting without holding back vacuum: procedures that commit after each
-- task they read and sleep with no xid and no snapshot.  Granted to nobody,
-- like ocp_backup_wait; they read tasks through ocp_backup_task, whose
-- EXECUTE the caller needs too.
CREATE PROCEDURE ocp_backup_await(task_ids bigint[],
                                  timeout interval DEFAULT '1 hour',
                                  poll interval DEFAULT '10 seconds',
                                  server text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'ocp_backup_await'
LANGUAGE C;
COMMENT ON PROCEDURE ocp_backup_await(bigint[], interval, interval, text) IS
  'waits until every task of the array has ended, committing each status it reads (NOTICEs tell of each change) and sleeping between polls with no transaction held; raises OB001 when timeout runs out and OB003 when a task ended FAILED';
REVOKE ALL ON PROCEDURE ocp_backup_await(bigint[], interval, interval, text) FROM PUBLIC;

CREATE PROCEDURE ocp_backup_await(task_id bigint,
                                  timeout interval DEFAULT '1 hour',
                                  poll interval DEFAULT '10 seconds',
                                  server text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'ocp_backup_await_task'
LANGUAGE C;
COMMENT ON PROCEDURE ocp_backup_await(bigint, interval, interval, text) IS
  'waits until the task has ended, as ocp_backup_wait does but committing each status it reads and holding no transaction while it sleeps; raises OB001 when timeout runs out and OB003 when the task ended FAILED';
REVOKE ALL ON PROCEDURE ocp_backup_await(bigint, interval, interval, text) FROM PUBLIC;

CREATE PROCEDURE ocp_backup_await_invocations(invocation_ids bigint[],
                                              timeout interval DEFAULT '1 hour',
                                              poll interval DEFAULT '10 seconds')
AS 'MODULE_PATHNAME', 'ocp_backup_await_invocations'
LANGUAGE C;
COMMENT ON PROCEDURE ocp_backup_await_invocations(bigint[], interval, interval) IS
  'waits, as ocp_backup_await does, for every task the calls of those journal rows started (a fleet call''s invocation ids), each through its call''s server; reads ocp_backup.task with the caller''s rights';
REVOKE ALL ON PROCEDURE ocp_backup_await_invocations(bigint[], interval, interval) FROM PUBLIC;

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
-- them without reading the journal: written with the journal row by the
-- SQL writer (in the call's own transaction, or the journal writer's replay),
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

-- A failed call was refused only because a backup of the cluster (or
-- tenant) was running already when OCP said BAK31005, as the journal's
-- error words each refused object ("OCP did not start a backup: CODE:
-- hint"), or as the code of OCP's error envelope: written out in the view
-- below where it is needed (a function would need EXECUTE of every role
-- that reads the view).

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
    IF pg_catalog.has_function_privilege('@extschema@.ocp_backup_start_journal_writer()', 'EXECUTE') THEN
        PERFORM @extschema@.ocp_backup_start_journal_writer();
    END IF;
    -- Their tasks go in the same statement (trigger invocation_deleted).
    WITH purged_rows AS (
        DELETE FROM ocp_backup.invocation WHERE started_at < now() - older_than RETURNING 1
    )
    SELECT count(*) INTO purged FROM purged_rows;
    RETURN purged;
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

REVOKE ALL ON FUNCTION ocp_backup.ocp_seconds(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_backup_overview(text, bigint, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_log_backup_page(text, bigint, timestamptz, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_backup_read_failure(text, bigint, text) FROM PUBLIC;

-- One row per cluster OCP lists or a counted call named.  Each value is
-- looked up for its cluster through the indexes above, so a question about
-- N clusters costs O(N) index probes, whatever the length of the history
-- and of the journal; the 24-hour question reads last_success_at only,
-- the other columns are looked up for the rows it returns.  The columns of
-- 1.1 keep their places and names; appended are last_success_age and what
-- a restore needs, from one row per cluster: the overview's values, or, when
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
             AND NOT (COALESCE(array_length(string_to_array(i.error, 'OCP did not start a backup: '), 1) > 1
                    AND array_length(string_to_array(i.error, 'OCP did not start a backup: '), 1)
                        = array_length(string_to_array(i.error, 'OCP did not start a backup: BAK31005: '), 1), false)
                OR COALESCE((i.response -> 'error' ->> 'code') = 'BAK31005', false))
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
       OR ((COALESCE(array_length(string_to_array(last_call.error, 'OCP did not start a backup: '), 1) > 1
                    AND array_length(string_to_array(last_call.error, 'OCP did not start a backup: '), 1)
                        = array_length(string_to_array(last_call.error, 'OCP did not start a backup: BAK31005: '), 1), false)
                OR COALESCE((last_call.response -> 'error' ->> 'code') = 'BAK31005', false))
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
                AND NOT (COALESCE(array_length(string_to_array(i.error, 'OCP did not start a backup: '), 1) > 1
                    AND array_length(string_to_array(i.error, 'OCP did not start a backup: '), 1)
                        = array_length(string_to_array(i.error, 'OCP did not start a backup: BAK31005: '), 1), false)
                OR COALESCE((i.response -> 'error' ->> 'code') = 'BAK31005', false))
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

-- A renamed server's rows follow it: the journal, the tasks, the fleet's
-- tables and what the fleet views keep (called_cluster, cluster_success,
-- the backup overviews and the log backup tasks).
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

-- The options, declared once: the wrapper's comment names none (the list
-- it named went stale, lacking proxy and no_proxy in 1.0 and max_parallel
-- in 1.1); the validator's hint lists a server's or a user mapping's valid
-- options, from the one table in src/options.c.
COMMENT ON FOREIGN DATA WRAPPER ocp_backup IS
  'OCP endpoints: a server per OCP, a user mapping per role holding its credentials; README.md (section Configuration) describes their options, and an unknown option is refused with a hint listing the valid ones';
