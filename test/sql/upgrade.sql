--
-- upgrade: ALTER EXTENSION ocp_backup UPDATE from 1.0, on every PostgreSQL
-- major the suites run on.  ocp_backup_now gains an argument, so the update
-- replaces it: the grants made on 1.0's must be made again on 1.1's, be a
-- DBA's own (not the extension's initial privileges, which pg_dump leaves
-- out), and not keep their grantee from being dropped.  make check-upgrade compares
-- the whole catalog with a fresh install, and dumps and restores.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
CREATE DATABASE upgrade_check;
CREATE ROLE upgrade_grantee;
\c upgrade_check
SET client_min_messages = warning;
CREATE EXTENSION ocp_backup VERSION '1.0';
RESET client_min_messages;
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text) TO upgrade_grantee WITH GRANT OPTION;
-- A role that may create where the functions live could plant overloads:
-- the update warns.
GRANT CREATE ON SCHEMA public TO upgrade_grantee;
ALTER EXTENSION ocp_backup UPDATE;
REVOKE CREATE ON SCHEMA public FROM upgrade_grantee;
SELECT extversion FROM pg_extension WHERE extname = 'ocp_backup';
SELECT has_function_privilege('upgrade_grantee', 'ocp_backup_now(bigint, text, text, jsonb, text, bigint)',
                              'EXECUTE WITH GRANT OPTION') AS grant_kept;
-- The initial privileges are a fresh install's: the owner's alone.
SELECT ip.initprivs = ARRAY[makeaclitem(p.proowner, p.proowner, 'EXECUTE', false)] AS initial_as_fresh
  FROM pg_init_privs ip JOIN pg_proc p ON p.oid = ip.objoid
 WHERE ip.objoid = 'ocp_backup_now(bigint, text, text, jsonb, text, bigint)'::regprocedure
   AND ip.classoid = 'pg_proc'::regclass;
-- The grantee can be dropped once its grants are revoked.
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) FROM upgrade_grantee;
-- (1.2 granted it the form with on_failure too, as the DBA's grant.)
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, ocp_backup_on_failure, bigint, text) FROM upgrade_grantee;
SELECT count(*) AS dependencies_left FROM pg_shdepend
 WHERE refobjid = 'upgrade_grantee'::regrole
   AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database());
DROP ROLE upgrade_grantee;
\c contrib_regression
DROP DATABASE upgrade_check;
