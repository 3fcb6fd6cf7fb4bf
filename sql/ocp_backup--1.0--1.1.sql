-- ocp_backup 1.0 -> 1.1.  Every row of the journal and every grant is kept.

\echo Use "ALTER EXTENSION ocp_backup UPDATE TO '1.1'" to load this file. \quit

-- 1.1 adds the server options proxy and no_proxy.
COMMENT ON FOREIGN DATA WRAPPER ocp_backup IS
  'OCP endpoints: server options url, connect_timeout_ms, timeout_ms, ca_file, verify_tls, retries, retry_backoff_ms, proxy, no_proxy; user mapping options username and password, or access_key_id and access_key_secret';

-- 1.1 journals tenant backups and which calls' outcome is unknown, and
-- what ocp_backup_reconcile found of them.  Columns go at the end, where a
-- fresh 1.1 install has them too.
ALTER TABLE ocp_backup.invocation
    ADD COLUMN tenant_id bigint,
    ADD COLUMN outcome_unknown boolean NOT NULL DEFAULT false,
    ADD COLUMN reconciled_at timestamptz,
    ADD COLUMN reconciliation text,
    ADD COLUMN ocp_account text;
CREATE INDEX invocation_unsettled_idx ON ocp_backup.invocation (server_name, started_at)
    WHERE outcome_unknown AND reconciled_at IS NULL;
COMMENT ON COLUMN ocp_backup.invocation.tenant_id IS 'the tenant the backup was requested for; NULL for the whole cluster';
COMMENT ON COLUMN ocp_backup.invocation.outcome_unknown IS 'true when the request may have reached OCP but no answer of OCP was read (a timeout after sending, a dropped connection, a cancel, a crash)';
COMMENT ON COLUMN ocp_backup.invocation.reconciled_at IS 'when ocp_backup_reconcile settled a call whose outcome was unknown';
COMMENT ON COLUMN ocp_backup.invocation.reconciliation IS 'what ocp_backup_reconcile found in OCP: the task taken to be the call''s, or that OCP lists none';
COMMENT ON COLUMN ocp_backup.invocation.ocp_account IS 'the OCP account the call authenticated as: its user mapping''s username or access key id (not a secret)';
-- 1.0 failed calls with no answer of OCP's read (no JSON response) may
-- have reached OCP, unless 1.0's error says no connection was made.
UPDATE ocp_backup.invocation
   SET outcome_unknown = true
 WHERE NOT successful AND response IS NULL AND error IS NOT NULL
   AND error NOT LIKE 'could not resolve %'
   AND error NOT LIKE 'could not connect to OCP server %'
   AND error NOT LIKE 'could not establish a TLS connection %'
   AND error NOT LIKE 'could not read the CA bundle %'
   AND error NOT LIKE 'the TLS certificate of OCP server % is not trusted%';

-- OCP's answer is kept exactly as received: jsonb rewrites it, and refuses
-- numbers numeric cannot hold.
ALTER TABLE ocp_backup.invocation ALTER COLUMN response TYPE json USING response::text::json;
COMMENT ON COLUMN ocp_backup.invocation.response IS 'OCP''s answer exactly as received, when it was JSON';

-- A task id is OCP's: two OCP servers may hand out the same one.
ALTER TABLE ocp_backup.task
    DROP CONSTRAINT task_pkey,
    ADD CONSTRAINT task_pkey PRIMARY KEY (server_name, task_id);

-- ocp_backup_now gains tenant_id.  A new signature is a new function: the
-- grants DBAs made on the old one are copied to it, with their grantors,
-- before it is dropped.  A view or function of a user's that depends on
-- 1.0's ocp_backup_now keeps it from being dropped: the README's upgrade
-- notes say to drop it before the update and create it again after.
CREATE FUNCTION ocp_backup_now(cluster_id bigint,
                               backup_mode text,
                               data_mode text,
                               storage jsonb,
                               server text DEFAULT NULL,
                               tenant_id bigint DEFAULT NULL)
RETURNS SETOF ocp_backup.backup_result
AS 'MODULE_PATHNAME', 'ocp_backup_now'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) IS
  'asks OCP to back up a cluster, or one tenant of it, now; returns one row per started task and journals the call';
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) FROM PUBLIC;
DO $$
DECLARE
    granted record;
    initial aclitem[];
    owner oid;
    old_acl aclitem[];
    caller name := current_user;
    copied aclitem[] := '{}';
    -- The grantees copied WITH GRANT OPTION: grantors of the next grants.
    holders oid[] := '{}';
    progress boolean := true;
BEGIN
    SELECT p.proacl INTO initial FROM pg_catalog.pg_proc p
     WHERE p.oid = '@extschema@.ocp_backup_now(bigint, text, text, jsonb, text, bigint)'::pg_catalog.regprocedure;
    SELECT p.proowner, p.proacl INTO owner, old_acl FROM pg_catalog.pg_proc p
     WHERE p.oid = '@extschema@.ocp_backup_now(bigint, text, text, jsonb, text)'::pg_catalog.regprocedure;
    -- Each grant keeps its grantor, so that REVOKE ... CASCADE still reaches
    -- the grants a grantee WITH GRANT OPTION made: made as the grantor (SET
    -- ROLE; PostgreSQL 15's GRANTED BY names only the current role), in
    -- dependency order, the owner's first, then each grant once its
    -- grantor holds the grant option on the new function.
    WHILE progress LOOP
        progress := false;
        FOR granted IN
            SELECT a.grantor, a.grantee, a.is_grantable
              FROM pg_catalog.aclexplode(old_acl) a
             WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE' AND a.grantee OPERATOR(pg_catalog.<>) owner
               AND NOT pg_catalog.makeaclitem(a.grantee, a.grantor, 'EXECUTE', a.is_grantable) OPERATOR(pg_catalog.=) ANY (copied)
               AND (a.grantor OPERATOR(pg_catalog.=) owner
                    OR a.grantor OPERATOR(pg_catalog.=) ANY (holders))
             ORDER BY a.grantor, a.grantee
        LOOP
            IF granted.grantor OPERATOR(pg_catalog.<>) owner THEN
                EXECUTE pg_catalog.format('SET ROLE %I', pg_catalog.pg_get_userbyid(granted.grantor));
            END IF;
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.ocp_backup_now(bigint, text, text, jsonb, text, bigint) TO %s%s',
                                      CASE WHEN granted.grantee = 0 THEN 'PUBLIC'
                                           ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(granted.grantee)) END,
                                      CASE WHEN granted.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
            EXECUTE pg_catalog.format('SET ROLE %I', caller);
            copied := copied OPERATOR(pg_catalog.||)
                      pg_catalog.makeaclitem(granted.grantee, granted.grantor, 'EXECUTE', granted.is_grantable);
            IF granted.is_grantable THEN
                holders := holders OPERATOR(pg_catalog.||) granted.grantee;
            END IF;
            progress := true;
        END LOOP;
    END LOOP;
    -- Grants made by an extension script count as the extension's own
    -- (pg_init_privs), which pg_dump leaves out: these are the DBA's, so the
    -- function's initial privileges stay those of a fresh install.
    UPDATE pg_catalog.pg_init_privs ip
       SET initprivs = initial
     WHERE ip.objoid = '@extschema@.ocp_backup_now(bigint, text, text, jsonb, text, bigint)'::pg_catalog.regprocedure
       AND ip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass;
    -- From PostgreSQL 17 on, initial privileges have shared dependencies
    -- too ('i'), which would keep the grantees from being dropped.
    DELETE FROM pg_catalog.pg_shdepend d
     WHERE d.dbid = (SELECT db.oid FROM pg_catalog.pg_database db
                      WHERE db.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
       AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND d.objid = '@extschema@.ocp_backup_now(bigint, text, text, jsonb, text, bigint)'::pg_catalog.regprocedure
       AND d.deptype OPERATOR(pg_catalog.=) 'i'
       AND d.refobjid <> ALL (SELECT a.grantee FROM pg_catalog.aclexplode(initial) a);
END
$$;
DROP FUNCTION ocp_backup_now(bigint, text, text, jsonb, text);

-- A whole fleet in one call.  Granted to nobody: a DBA grants it apart,
-- as in a fresh install.
CREATE FUNCTION ocp_backup_now(cluster_ids bigint[],
                               backup_mode text,
                               data_mode text,
                               storage jsonb,
                               server text DEFAULT NULL)
RETURNS SETOF ocp_backup.backup_result
AS 'MODULE_PATHNAME', 'ocp_backup_now_clusters'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;
COMMENT ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, text) IS
  'asks OCP to back up every cluster of the array now, concurrently up to the server''s max_parallel; returns their rows (a failed cluster''s says why) and journals each call';
REVOKE ALL ON FUNCTION ocp_backup_now(bigint[], text, text, jsonb, text) FROM PUBLIC;

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

-- Journal rows a crash left in the call logs are written by a background
-- worker that, without ocp_backup in shared_preload_libraries, the first
-- use of an ocp_backup function starts: the SQL ones start it through this.
CREATE FUNCTION ocp_backup_start_journal_writer()
RETURNS void
AS 'MODULE_PATHNAME', 'ocp_backup_start_journal_writer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ocp_backup_start_journal_writer() IS
  'starts the journal writer of this database if call logs hold rows it has not written (ocp_backup_refresh and purge_journal call it)';

-- Refuses in a read-only transaction before asking OCP.
-- The reads of ocp_backup_refresh, concurrent: EXECUTE stays with PUBLIC,
-- since the function checks the right it needs, EXECUTE on ocp_backup_task.
CREATE FUNCTION ocp_backup_read_tasks(server_names text[], task_ids bigint[],
                                      OUT server_name text, OUT task_id bigint,
                                      OUT status text, OUT error text,
                                      OUT postponed boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ocp_backup_read_tasks'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ocp_backup_read_tasks(text[], bigint[]) IS
  'reads the tasks (server_names[i], task_ids[i]) concurrently, up to each server''s max_parallel, and records their status like ocp_backup_task; postponed when a 429 left the task for the next run (needs EXECUTE on ocp_backup_task)';

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
    PERFORM @extschema@.ocp_backup_start_journal_writer();
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

-- Starts the journal writer for rows a crash left.
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
    WITH purged_rows AS (
        DELETE FROM ocp_backup.invocation WHERE started_at < now() - older_than RETURNING 1
    )
    SELECT count(*) INTO purged FROM purged_rows;
    RETURN purged;
END
$$;

-- The fleet as OCP knows it, mirrored by ocp_backup_sync: its clusters,
-- their tenants, and each cluster's data-backup jobs, those OCP's own
-- backup schedule ran included.  Rows OCP stops listing are marked, never
-- deleted: the journal and the history may still refer to them.
CREATE TABLE ocp_backup.cluster (
    server_name    text NOT NULL,
    cluster_id     bigint NOT NULL,
    cluster_name   text,
    ob_cluster_id  bigint,
    ob_version     text,
    cluster_type   text,
    status         text,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    last_seen_by   text NOT NULL,
    missing_since  timestamptz,
    PRIMARY KEY (server_name, cluster_id)
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.cluster', '');
COMMENT ON TABLE ocp_backup.cluster IS
  'OCP''s clusters, as ocp_backup_sync last read them';
COMMENT ON COLUMN ocp_backup.cluster.server_name IS 'the foreign server (OCP endpoint) that lists the cluster';
COMMENT ON COLUMN ocp_backup.cluster.cluster_id IS 'OCP''s cluster id, the one ocp_backup_now takes';
COMMENT ON COLUMN ocp_backup.cluster.cluster_name IS 'the cluster''s name in OCP';
COMMENT ON COLUMN ocp_backup.cluster.ob_cluster_id IS 'OceanBase''s own cluster id';
COMMENT ON COLUMN ocp_backup.cluster.ob_version IS 'the OceanBase version';
COMMENT ON COLUMN ocp_backup.cluster.cluster_type IS 'PRIMARY or STANDBY';
COMMENT ON COLUMN ocp_backup.cluster.status IS 'OCP''s status of the cluster: RUNNING, STOPPED, ...';
COMMENT ON COLUMN ocp_backup.cluster.first_seen_at IS 'when a sync first read the cluster';
COMMENT ON COLUMN ocp_backup.cluster.last_seen_at IS 'when a sync last read the cluster';
COMMENT ON COLUMN ocp_backup.cluster.last_seen_by IS 'the OCP account (username or access key id) of the sync that last read the cluster: only a sync as that account can find it gone';
COMMENT ON COLUMN ocp_backup.cluster.missing_since IS 'since when OCP no longer lists the cluster; NULL while it does';

CREATE TABLE ocp_backup.tenant (
    server_name    text NOT NULL,
    cluster_id     bigint NOT NULL,
    tenant_id      bigint NOT NULL,
    tenant_name    text,
    mode           text,
    status         text,
    ob_version     text,
    locked         boolean,
    read_only      boolean,
    create_time    timestamptz,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    last_seen_by   text NOT NULL,
    missing_since  timestamptz,
    PRIMARY KEY (server_name, cluster_id, tenant_id)
);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.tenant', '');
COMMENT ON TABLE ocp_backup.tenant IS
  'the tenants of OCP''s clusters, as ocp_backup_sync last read them';
COMMENT ON COLUMN ocp_backup.tenant.server_name IS 'the foreign server (OCP endpoint) that lists the tenant';
COMMENT ON COLUMN ocp_backup.tenant.cluster_id IS 'OCP''s id of the tenant''s cluster';
COMMENT ON COLUMN ocp_backup.tenant.tenant_id IS 'OCP''s tenant id, the one ocp_backup_now takes as tenant_id';
COMMENT ON COLUMN ocp_backup.tenant.tenant_name IS 'the tenant''s name; sys is the system tenant';
COMMENT ON COLUMN ocp_backup.tenant.mode IS 'MYSQL or ORACLE';
COMMENT ON COLUMN ocp_backup.tenant.status IS 'OCP''s status of the tenant: NORMAL, CREATING, ...';
COMMENT ON COLUMN ocp_backup.tenant.ob_version IS 'the OceanBase version';
COMMENT ON COLUMN ocp_backup.tenant.locked IS 'whether the tenant is locked';
COMMENT ON COLUMN ocp_backup.tenant.read_only IS 'whether the tenant is read-only';
COMMENT ON COLUMN ocp_backup.tenant.create_time IS 'when the tenant was created';
COMMENT ON COLUMN ocp_backup.tenant.first_seen_at IS 'when a sync first read the tenant';
COMMENT ON COLUMN ocp_backup.tenant.last_seen_at IS 'when a sync last read the tenant';
COMMENT ON COLUMN ocp_backup.tenant.last_seen_by IS 'the OCP account (username or access key id) of the sync that last read the tenant';
COMMENT ON COLUMN ocp_backup.tenant.missing_since IS 'since when OCP no longer lists the tenant; NULL while it does';

CREATE TABLE ocp_backup.backup_history (
    server_name    text NOT NULL,
    cluster_id     bigint NOT NULL,
    job_id         bigint NOT NULL,
    tenant_id      bigint,
    backup_set_id  bigint,
    backup_mode    text,
    backup_type    text,
    status         text,
    start_time     timestamptz,
    finish_time    timestamptz,
    error          text,
    backup_uri     text,
    first_seen_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- OceanBase numbers a tenant's backup jobs on its own.
    CONSTRAINT backup_history_job_key
        UNIQUE NULLS NOT DISTINCT (server_name, cluster_id, tenant_id, job_id)
);
CREATE INDEX backup_history_finished_idx
    ON ocp_backup.backup_history (server_name, cluster_id, status, finish_time);
SELECT pg_catalog.pg_extension_config_dump('ocp_backup.backup_history', '');
COMMENT ON TABLE ocp_backup.backup_history IS
  'OCP''s data-backup jobs of each cluster, those of OCP''s own schedule included, as ocp_backup_sync last read them';
COMMENT ON COLUMN ocp_backup.backup_history.server_name IS 'the foreign server (OCP endpoint) the job was read through';
COMMENT ON COLUMN ocp_backup.backup_history.cluster_id IS 'OCP''s id of the cluster backed up';
COMMENT ON COLUMN ocp_backup.backup_history.job_id IS 'OceanBase''s backup job id (OCP''s taskId of the job, not an OCP task instance id), unique per cluster and tenant';
COMMENT ON COLUMN ocp_backup.backup_history.tenant_id IS 'the tenant backed up, when OCP names one';
COMMENT ON COLUMN ocp_backup.backup_history.backup_set_id IS 'the backup set the job wrote';
COMMENT ON COLUMN ocp_backup.backup_history.backup_mode IS 'OCP''s backupMode of the job, e.g. PHYSICAL_BACKUP';
COMMENT ON COLUMN ocp_backup.backup_history.backup_type IS 'FULL or INCREMENTAL';
COMMENT ON COLUMN ocp_backup.backup_history.status IS 'BEGINNING, INITIALIZING, DOING, DONE, FAILED, CANCELING, CANCELED, OVERDUE or UNKNOWN';
COMMENT ON COLUMN ocp_backup.backup_history.start_time IS 'when the job started';
COMMENT ON COLUMN ocp_backup.backup_history.finish_time IS 'when the job ended; NULL while it runs';
COMMENT ON COLUMN ocp_backup.backup_history.error IS 'OCP''s error message of a failed job';
COMMENT ON COLUMN ocp_backup.backup_history.backup_uri IS 'where the backup was written';
COMMENT ON COLUMN ocp_backup.backup_history.first_seen_at IS 'when a sync first read the job';
COMMENT ON COLUMN ocp_backup.backup_history.updated_at IS 'when a sync last saw the job change';

CREATE TYPE ocp_backup.sync_result AS (
    server_name    text,
    clusters       integer,
    clusters_missing integer,
    clusters_failed integer,
    tenants        integer,
    backup_jobs    integer,
    error_code     text,
    error          text
);
COMMENT ON TYPE ocp_backup.sync_result IS
  'what ocp_backup_sync read from one server: counts (clusters_failed: clusters whose tenants or backups could not be read), and why the server, or its first failing cluster, failed';

-- The sync's writes, as the journal's owner: granted to nobody and called
-- from C through fmgr with what the C code itself read from OCP, so no role
-- can write OCP's inventory with made-up rows.  Names resolve under the
-- pinned search_path only.  Each takes one page of OCP's answer as it came.
-- A sync reads what the OCP account of its user mapping may see (seen_by:
-- its username or access key id): only a sync as the same account
-- concludes that a cluster or tenant it saw before is gone.  run_started
-- tells this run's rows from older ones, whatever the transaction.
CREATE FUNCTION ocp_backup.record_cluster_page(server_name text, seen_by text,
                                               run_started timestamptz, answer jsonb,
                                               last_page boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing integer := 0;
BEGIN
    -- One row per id, sorted, so that overlapping syncs lock rows in one
    -- order and a page listing a cluster twice cannot fail the upsert.
    INSERT INTO ocp_backup.cluster AS c
           (server_name, cluster_id, cluster_name, ob_cluster_id, ob_version, cluster_type,
            status, first_seen_at, last_seen_at, last_seen_by)
    SELECT DISTINCT ON ((e->>'id')::bigint)
           $1, (e->>'id')::bigint, e->>'name', (e->>'obClusterId')::bigint, e->>'obVersion',
           e->>'type', e->>'status', $3, $3, $2
      FROM jsonb_array_elements(answer->'data'->'contents') e
     ORDER BY (e->>'id')::bigint
        ON CONFLICT ON CONSTRAINT cluster_pkey DO UPDATE
       SET cluster_name = excluded.cluster_name, ob_cluster_id = excluded.ob_cluster_id,
           ob_version = excluded.ob_version, cluster_type = excluded.cluster_type,
           status = excluded.status, last_seen_at = excluded.last_seen_at,
           last_seen_by = excluded.last_seen_by, missing_since = NULL;
    IF last_page THEN
        UPDATE ocp_backup.cluster c SET missing_since = now()
         WHERE c.server_name = $1 AND c.last_seen_by = $2 AND c.last_seen_at < $3
           AND c.missing_since IS NULL;
        -- The tenants of a cluster OCP no longer lists are gone with it.
        UPDATE ocp_backup.tenant t SET missing_since = c.missing_since
          FROM ocp_backup.cluster c
         WHERE c.server_name = $1 AND c.missing_since IS NOT NULL
           AND t.server_name = c.server_name AND t.cluster_id = c.cluster_id
           AND t.missing_since IS NULL;
        SELECT count(*) INTO missing FROM ocp_backup.cluster c
         WHERE c.server_name = $1 AND c.missing_since IS NOT NULL;
    END IF;
    RETURN missing;
END
$$;
COMMENT ON FUNCTION ocp_backup.record_cluster_page(text, text, timestamptz, jsonb, boolean) IS
  'stores one page of OCP''s cluster list; after the last, marks the clusters it no longer lists, and their tenants, and returns how many clusters are so marked (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.listed_clusters(server_name text, seen_by text)
RETURNS bigint[]
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- VOLATILE: it must see what the sync wrote in this very statement.
    SELECT coalesce(array_agg(c.cluster_id ORDER BY c.cluster_id), '{}')
      FROM ocp_backup.cluster c
     WHERE c.server_name = $1 AND c.last_seen_by = $2 AND c.missing_since IS NULL
$$;
COMMENT ON FUNCTION ocp_backup.listed_clusters(text, text) IS
  'the ids of the clusters OCP lists through a server to an OCP account, as the sync just read them (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.record_tenant_page(server_name text, seen_by text,
                                              run_started timestamptz, cluster_id bigint,
                                              answer jsonb, last_page boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO ocp_backup.tenant AS t
           (server_name, cluster_id, tenant_id, tenant_name, mode, status, ob_version,
            locked, read_only, create_time, first_seen_at, last_seen_at, last_seen_by)
    SELECT DISTINCT ON ((e->>'id')::bigint)
           $1, $4, (e->>'id')::bigint, e->>'name', e->>'mode', e->>'status', e->>'obVersion',
           (e->>'locked')::boolean, (e->>'readonly')::boolean, (e->>'createTime')::timestamptz,
           $3, $3, $2
      FROM jsonb_array_elements(answer->'data'->'contents') e
     ORDER BY (e->>'id')::bigint
        ON CONFLICT ON CONSTRAINT tenant_pkey DO UPDATE
       SET tenant_name = excluded.tenant_name, mode = excluded.mode, status = excluded.status,
           ob_version = excluded.ob_version, locked = excluded.locked,
           read_only = excluded.read_only, create_time = excluded.create_time,
           last_seen_at = excluded.last_seen_at, last_seen_by = excluded.last_seen_by,
           missing_since = NULL;
    IF last_page THEN
        UPDATE ocp_backup.tenant t SET missing_since = now()
         WHERE t.server_name = $1 AND t.cluster_id = $4 AND t.last_seen_by = $2
           AND t.last_seen_at < $3 AND t.missing_since IS NULL;
    END IF;
END
$$;
COMMENT ON FUNCTION ocp_backup.record_tenant_page(text, text, timestamptz, bigint, jsonb, boolean) IS
  'stores one page of a cluster''s tenants; after the last, marks the tenants OCP no longer lists (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.record_backup_page(server_name text, cluster_id bigint, answer jsonb)
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
    RETURN NOT (known_finished AND newest_first AND NOT older_unfinished);
END
$$;
COMMENT ON FUNCTION ocp_backup.record_backup_page(text, bigint, jsonb) IS
  'stores one page of a cluster''s data-backup jobs; false once older pages hold nothing new (internal: callable by nobody)';

REVOKE ALL ON FUNCTION ocp_backup.record_cluster_page(text, text, timestamptz, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.listed_clusters(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_tenant_page(text, text, timestamptz, bigint, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.record_backup_page(text, bigint, jsonb) FROM PUBLIC;

CREATE FUNCTION ocp_backup_sync(server text DEFAULT NULL)
RETURNS SETOF ocp_backup.sync_result
AS 'MODULE_PATHNAME', 'ocp_backup_sync'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ocp_backup_sync(text) IS
  'reads OCP''s clusters, tenants and data-backup history from a server, or every server the caller may use, into ocp_backup.cluster, tenant and backup_history; one row per server';
REVOKE ALL ON FUNCTION ocp_backup_sync(text) FROM PUBLIC;

-- Settling the calls whose outcome is unknown, as the journal's owner.
-- OCP creates a backup task when the request arrives: between the call's
-- start and its deadline (its timeout, and the connection attempts and
-- waits of its retries); margin allows for the clocks of PostgreSQL and
-- OCP to differ.  A call is looked at only once that window has passed,
-- and only as the OCP account that made it (whose tasks show the call's);
-- 1.0 journaled no account, so its rows are looked at as any account.
CREATE FUNCTION ocp_backup.unsettled_calls(server_name text, account text, since interval,
                                           margin interval, deadline interval)
RETURNS bigint[]
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- VOLATILE: it must see what this very statement settled on other
    -- servers.  One row [invocation id, cluster id] per call, oldest first.
    SELECT coalesce(array_agg(ARRAY[i.id, i.cluster_id] ORDER BY i.id), '{}')
      FROM ocp_backup.invocation i
     WHERE i.server_name = $1 AND i.outcome_unknown AND i.reconciled_at IS NULL
       AND (i.ocp_account = $2 OR i.ocp_account IS NULL)
       AND i.started_at >= now() - $3
       AND greatest(i.finished_at, i.started_at + $5) + $4 < now()
$$;
COMMENT ON FUNCTION ocp_backup.unsettled_calls(text, text, interval, interval, interval) IS
  'the journal rows of a server and OCP account whose outcome is unknown, not yet reconciled and past their window, as [id, cluster id] rows (internal: callable by nobody)';

CREATE FUNCTION ocp_backup.reconcile_call(server_name text, invocation_id bigint,
                                          margin interval, deadline interval, creator text,
                                          pages jsonb[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    call ocp_backup.invocation;
    window_from timestamptz;
    window_to timestamptz;
    candidates bigint[];
    exact_count integer;
    exact_id bigint;
    exact_name text;
    exact_status text;
    exact_created timestamptz;
BEGIN
    SELECT * INTO call FROM ocp_backup.invocation i
     WHERE i.id = $2 AND i.server_name = $1 AND i.outcome_unknown AND i.reconciled_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;  -- settled meanwhile by an overlapping run
    END IF;
    window_from := call.started_at - margin;
    window_to := greatest(call.finished_at, call.started_at + deadline) + margin;
    -- Every page read: OCP documents neither the task list's order nor a
    -- filter on creation time.  The candidates are the tasks of the
    -- cluster created in the window, but for those OCP's schedule started
    -- and those a journal row already has: they are certainly not this
    -- call's.  The call's is the one candidate that is also a manual backup
    -- of its cluster (and tenant, or none) by its account.
    WITH found AS (
        SELECT DISTINCT ON ((e->>'id')::bigint)
               (e->>'id')::bigint AS task_id, e->>'name' AS name, e->>'status' AS status,
               (e->>'createTime')::timestamptz AS created,
               e->>'name' ILIKE '%backup%'
               AND (e->'cluster'->>'id')::bigint IS NOT DISTINCT FROM call.cluster_id
               AND (e->'tenant'->>'id')::bigint IS NOT DISTINCT FROM call.tenant_id
               AND (creator IS NULL OR lower(e->'creator'->>'name') = lower(creator)) AS exact
          FROM unnest(pages) p, jsonb_array_elements(p->'data'->'contents') e
         WHERE (e->>'createTime')::timestamptz BETWEEN window_from AND window_to
           AND coalesce((e->'cluster'->>'id')::bigint, call.cluster_id) = call.cluster_id
           AND coalesce(e->>'type', 'MANUAL') NOT IN ('SCHEDULED', 'SYS_SCHEDULED')
           AND NOT EXISTS (SELECT FROM ocp_backup.task t
                            WHERE t.server_name = call.server_name
                              AND t.task_id = (e->>'id')::bigint)
    )
    SELECT array_agg(f.task_id ORDER BY f.task_id), count(*) FILTER (WHERE f.exact),
           (array_agg(f.task_id) FILTER (WHERE f.exact))[1],
           (array_agg(f.name) FILTER (WHERE f.exact))[1],
           (array_agg(f.status) FILTER (WHERE f.exact))[1],
           (array_agg(f.created) FILTER (WHERE f.exact))[1]
      INTO candidates, exact_count, exact_id, exact_name, exact_status, exact_created
      FROM found f;
    IF exact_count = 1 THEN
        INSERT INTO ocp_backup.task (task_id, invocation_id, server_name, cluster_id, status)
        VALUES (exact_id, call.id, call.server_name, call.cluster_id, exact_status);
        UPDATE ocp_backup.invocation i
           SET reconciled_at = now(),
               reconciliation = format('OCP task %s (%s), created at %s, is taken to be this call''s',
                                       exact_id, exact_name, exact_created)
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
       SET reconciliation = format('not settled: OCP task(s) %s of cluster %s, created between %s and %s, may be this call''s; %s match its account, cluster and tenant: look in OCP',
                                   array_to_string(candidates, ', '), call.cluster_id,
                                   window_from, window_to, exact_count)
     WHERE i.id = call.id;
    RETURN false;
END
$$;
COMMENT ON FUNCTION ocp_backup.reconcile_call(text, bigint, interval, interval, text, jsonb[]) IS
  'settles a call whose outcome is unknown from every page of OCP''s task list of its cluster; true once settled, false when it is left for a DBA, with a note (internal: callable by nobody)';

REVOKE ALL ON FUNCTION ocp_backup.unsettled_calls(text, text, interval, interval, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.reconcile_call(text, bigint, interval, interval, text, jsonb[]) FROM PUBLIC;

CREATE FUNCTION ocp_backup_reconcile(server text DEFAULT NULL, since interval DEFAULT '7 days',
                                     margin interval DEFAULT '2 minutes')
RETURNS integer
AS 'MODULE_PATHNAME', 'ocp_backup_reconcile'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ocp_backup_reconcile(text, interval, interval) IS
  'settles journal rows whose outcome is unknown by looking for their task in OCP''s task list (margin: the clock difference allowed between PostgreSQL and OCP); returns how many it settled';
REVOKE ALL ON FUNCTION ocp_backup_reconcile(text, interval, interval) FROM PUBLIC;

-- One row per cluster OCP lists or the journal has seen: a cluster never
-- backed up appears too, with NULLs, for it is the one a DBA looks for.
-- Backups come from both sources, OCP's own history (its schedule's
-- backups included) and the tasks started from SQL.  Once a cluster's
-- history is synced it holds the backups started from SQL as well, so the
-- 7-day counts take it instead of the tasks; calls that started no task
-- count as failures either way.  The latest success and failure take
-- every source.
-- The first eight columns are 1.0's, in 1.0's order.
CREATE OR REPLACE VIEW ocp_backup.cluster_status AS
WITH clusters AS (
    SELECT c.server_name, c.cluster_id FROM ocp_backup.cluster c
    UNION
    SELECT i.server_name, i.cluster_id FROM ocp_backup.invocation i
), outcomes AS (
    SELECT h.server_name, h.cluster_id, 'history' AS source,
           CASE WHEN h.status = 'DONE' THEN 'success'
                WHEN h.status IN ('FAILED', 'CANCELED') THEN 'failure'
                WHEN h.status IN ('BEGINNING', 'INITIALIZING', 'DOING', 'CANCELING') THEN 'running'
           END AS outcome,
           h.backup_type = 'FULL' AS full_backup,
           coalesce(h.finish_time, h.start_time) AS at,
           h.error
      FROM ocp_backup.backup_history h
    UNION ALL
    -- A task not read yet has not ended as far as anyone knows.
    SELECT t.server_name, t.cluster_id, 'task',
           CASE WHEN t.status = 'SUCCESSFUL' THEN 'success'
                WHEN t.status = 'FAILED' THEN 'failure'
                WHEN t.status = 'RUNNING' OR t.status IS NULL THEN 'running'
           END,
           i.data_mode = 'FULL_BACKUP',
           coalesce(t.finish_time, t.last_checked_at, i.finished_at),
           CASE WHEN t.status = 'FAILED'
                THEN 'OCP task ' || t.task_id || ' failed' || coalesce(' in subtask ' || t.failed_subtask, '')
           END
      FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
    UNION ALL
    SELECT i.server_name, i.cluster_id, 'call', 'failure', i.data_mode = 'FULL_BACKUP',
           i.started_at, i.error
      FROM ocp_backup.invocation i
     WHERE NOT i.successful
       AND NOT EXISTS (SELECT FROM ocp_backup.task t WHERE t.invocation_id = i.id)
), counted AS (
    SELECT o.*
      FROM outcomes o
     WHERE o.source <> 'task'
        OR NOT EXISTS (SELECT FROM ocp_backup.backup_history h
                        WHERE h.server_name = o.server_name AND h.cluster_id = o.cluster_id)
)
SELECT k.server_name,
       k.cluster_id,
       calls.last_invocation_at,
       calls.last_invocation_successful,
       (SELECT t.status FROM ocp_backup.task t
         WHERE t.server_name = k.server_name AND t.cluster_id = k.cluster_id
         ORDER BY t.invocation_id DESC, t.task_id DESC LIMIT 1) AS last_task_status,
       (SELECT max(o.at) FROM outcomes o
         WHERE o.server_name = k.server_name AND o.cluster_id = k.cluster_id
           AND o.outcome = 'success') AS last_success_at,
       (SELECT count(*) FROM counted o
         WHERE o.server_name = k.server_name AND o.cluster_id = k.cluster_id
           AND o.outcome = 'success' AND o.at > now() - interval '7 days') AS successes_7d,
       (SELECT count(*) FROM counted o
         WHERE o.server_name = k.server_name AND o.cluster_id = k.cluster_id
           AND o.outcome = 'failure' AND o.at > now() - interval '7 days') AS failures_7d,
       c.cluster_name,
       c.status AS ocp_status,
       c.missing_since,
       (SELECT max(o.at) FROM outcomes o
         WHERE o.server_name = k.server_name AND o.cluster_id = k.cluster_id
           AND o.outcome = 'success' AND o.full_backup) AS last_full_backup_at,
       last_failure.at AS last_failure_at,
       last_failure.error AS last_failure_error,
       EXISTS (SELECT FROM outcomes o
                WHERE o.server_name = k.server_name AND o.cluster_id = k.cluster_id
                  AND o.outcome = 'running') AS backup_running
  FROM clusters k
  LEFT JOIN ocp_backup.cluster c ON c.server_name = k.server_name AND c.cluster_id = k.cluster_id
  LEFT JOIN LATERAL (
        SELECT max(i.started_at) AS last_invocation_at,
               (array_agg(i.successful ORDER BY i.started_at DESC, i.id DESC))[1] AS last_invocation_successful
          FROM ocp_backup.invocation i
         WHERE i.server_name = k.server_name AND i.cluster_id = k.cluster_id) calls ON true
  LEFT JOIN LATERAL (
        SELECT o.at, o.error FROM outcomes o
         WHERE o.server_name = k.server_name AND o.cluster_id = k.cluster_id
           AND o.outcome = 'failure'
         ORDER BY o.at DESC NULLS LAST LIMIT 1) last_failure ON true;
COMMENT ON VIEW ocp_backup.cluster_status IS
  'per server and cluster that OCP lists or the journal has seen: the last call, the last success from OCP''s history or a task started from SQL, the last full backup, the last failure, whether a backup runs, and 7-day counts';

-- A renamed server keeps its rows: the journal, the tasks and the fleet
-- name servers as they are called now, which is what a DBA joins on and
-- what pg_dump keeps (an OID is not).  Only C can read the old name of
-- ALTER SERVER ... RENAME TO; the rows are renamed as the journal's owner,
-- since the server's owner need not own the journal.
CREATE FUNCTION ocp_backup.rename_server(old_name text, new_name text)
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
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'cannot rename ocp_backup server "%" to "%"', $1, $2
        USING ERRCODE = 'unique_violation',
              DETAIL = 'ocp_backup keeps tasks or fleet rows of a former server named "' OPERATOR(pg_catalog.||) $2 OPERATOR(pg_catalog.||) '" for the same ids.',
              HINT = 'Choose another name, or delete that server''s rows from ocp_backup.task, ocp_backup.cluster, ocp_backup.tenant and ocp_backup.backup_history first.';
END
$$;
COMMENT ON FUNCTION ocp_backup.rename_server(text, text) IS
  'renames a server in the journal, the tasks and the fleet tables, for ALTER SERVER ... RENAME TO (internal: callable by nobody)';
REVOKE ALL ON FUNCTION ocp_backup.rename_server(text, text) FROM PUBLIC;

CREATE FUNCTION ocp_backup.follow_server_rename()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'ocp_backup_follow_server_rename'
LANGUAGE C;
COMMENT ON FUNCTION ocp_backup.follow_server_rename() IS
  'the event trigger that renames an ocp_backup server''s rows with it';
CREATE EVENT TRIGGER ocp_backup_follow_server_rename ON ddl_command_end
    WHEN TAG IN ('ALTER SERVER')
    EXECUTE FUNCTION ocp_backup.follow_server_rename();
COMMENT ON EVENT TRIGGER ocp_backup_follow_server_rename IS
  'keeps an ocp_backup server''s journal, tasks and fleet rows under its name through ALTER SERVER ... RENAME TO';
