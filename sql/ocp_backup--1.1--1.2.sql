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
