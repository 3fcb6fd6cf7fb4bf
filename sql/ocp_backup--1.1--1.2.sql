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
    WITH purged_rows AS (
        DELETE FROM ocp_backup.invocation WHERE started_at < now() - older_than RETURNING 1
    )
    SELECT count(*) INTO purged FROM purged_rows;
    RETURN purged;
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
