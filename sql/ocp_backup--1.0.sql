-- ocp_backup 1.0: trigger OceanBase cluster backups through the OCP REST API.

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
  'OCP endpoints: server options url, connect_timeout_ms, timeout_ms, ca_file, verify_tls; user mapping options username and password, or access_key_id and access_key_secret';

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
REVOKE ALL ON FUNCTION ocp_backup_check(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ocp_backup.fdw_validator(text[], oid) FROM PUBLIC;
