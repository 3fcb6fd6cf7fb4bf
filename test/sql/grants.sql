--
-- grants: what a role without the extension's rights can no longer do
-- (issue 23, round 2).  A role with no grants at all holds the advisory
-- keys 1.1 locked servers with: sync and reconcile go on; an overlapping run
-- skips the server with 55P03 instead of waiting.  A role with USAGE on the
-- wrapper cannot give its server a dropped server's name, so it cannot
-- rename, change or claim that server's rows.  PUBLIC executes exactly the
-- functions the README's "Least privilege" table names as anyone's.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
SET client_min_messages = warning;
DROP ROLE IF EXISTS grants_nobody;
DROP ROLE IF EXISTS grants_fdw;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 0}');
SELECT (sim_fleet('{"clusters": [{"id": 91, "name": "gr-a", "tenants": [{"id": 9101, "name": "sys"}]}]}')) ->> 'clusters' AS fleet_clusters;
CREATE SERVER grants_srv FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER grants_srv OPTIONS (username 'admin', password 'admin');
SELECT format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1)) AS conninfo \gset

-- A role with no grants at all holds, in a session of its own, every key
-- 1.1's sync and reconcile waited on for this server.
CREATE ROLE grants_nobody LOGIN;
SELECT dblink_connect('nobody', :'conninfo' || ' user=grants_nobody');
SELECT oid AS server_oid FROM pg_foreign_server WHERE srvname = 'grants_srv' \gset
SELECT * FROM dblink('nobody', format(
  'SELECT pg_advisory_lock(%s, %s), pg_advisory_lock(%s, %s), current_user',
  x'6f637062'::int + 1, :server_oid, x'6f637062'::int + 2, :server_oid)) AS t(a text, b text, who name);
-- Nor can it touch the rows a run claims the server with.
SELECT * FROM dblink('nobody', 'SELECT ocp_backup.claim_server_run(1, ''x'', ''sync'')') AS t(r text);
SELECT * FROM dblink('nobody', 'SELECT count(*) FROM ocp_backup.server_run') AS t(n bigint);
-- Sync and reconcile do not wait on it (the lock_timeout only keeps the
-- suite from hanging if they did: they would then fail with 55P03).
SET lock_timeout = '5s';
SELECT server_name, clusters, tenants, error_code, error FROM ocp_backup_sync('grants_srv');
SELECT ocp_backup_reconcile('grants_srv') AS settled;
RESET lock_timeout;
SELECT dblink_disconnect('nobody');

-- An overlapping run neither waits nor fails the statement: the server is
-- skipped, with 55P03 in its row (sync) or a WARNING (reconcile).
SELECT dblink_connect('other', :'conninfo');
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT clusters, error FROM ocp_backup_sync('grants_srv')$$) AS t(clusters int, error text);
SELECT * FROM dblink('other', $$SELECT ocp_backup_reconcile('grants_srv')$$) AS t(settled int);
SET lock_timeout = '5s';
\set VERBOSITY default
SELECT server_name, clusters, error_code, error FROM ocp_backup_sync('grants_srv');
SELECT ocp_backup_reconcile('grants_srv') AS settled;
\set VERBOSITY terse
RESET lock_timeout;
SELECT dblink_exec('other', 'COMMIT');
SELECT dblink_disconnect('other');
SELECT server_name, clusters, error_code FROM ocp_backup_sync('grants_srv');

-- A dropped server's rows.
SELECT count(*) AS started FROM ocp_backup_now(91, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'grants_srv');
DROP SERVER grants_srv CASCADE;
SELECT server_name FROM ocp_backup.dropped_server WHERE server_name LIKE 'grants%';
-- A role with USAGE on the wrapper, no more, takes neither its name nor its rows.
CREATE ROLE grants_fdw;
GRANT USAGE ON FOREIGN DATA WRAPPER ocp_backup, dblink_fdw TO grants_fdw;
SET ROLE grants_fdw;
\set VERBOSITY default
CREATE SERVER grants_srv FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
\set VERBOSITY terse
ALTER SERVER grants_srv RENAME TO grants_taken;
CREATE SERVER grants_mine FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
ALTER SERVER grants_mine RENAME TO grants_srv;
-- Servers of other wrappers may have any name.
CREATE SERVER grants_srv FOREIGN DATA WRAPPER dblink_fdw;
DROP SERVER grants_srv;
-- Nor can it adopt them itself.
SELECT ocp_backup.adopt_dropped_server('grants_srv');
RESET ROLE;
SELECT srvname FROM pg_foreign_server WHERE srvname LIKE 'grants%' ORDER BY 1;
SELECT 'invocation' AS rows_of, server_name, count(*) FROM ocp_backup.invocation WHERE cluster_id = 91 GROUP BY 2
UNION ALL SELECT 'task', server_name, count(*) FROM ocp_backup.task WHERE cluster_id = 91 GROUP BY 2
UNION ALL SELECT 'cluster', server_name, count(*) FROM ocp_backup.cluster WHERE cluster_id = 91 GROUP BY 2
UNION ALL SELECT 'tenant', server_name, count(*) FROM ocp_backup.tenant WHERE cluster_id = 91 GROUP BY 2
ORDER BY 1, 2;
-- The extension's owner gives them to a new server, explicitly.
SELECT ocp_backup.adopt_dropped_server('grants_srv') AS adopted;
SET ROLE grants_fdw;
ALTER SERVER grants_mine RENAME TO grants_srv;
RESET ROLE;
SELECT count(*) AS followed FROM ocp_backup.invocation WHERE cluster_id = 91 AND server_name = 'grants_srv';
SELECT count(*) AS still_dropped FROM ocp_backup.dropped_server WHERE server_name = 'grants_srv';
-- Its owner, no superuser, drops it: the name is noted again.
SET ROLE grants_fdw;
DROP SERVER grants_srv;
RESET ROLE;
SELECT server_name FROM ocp_backup.dropped_server WHERE server_name LIKE 'grants%';
-- DROP OWNED drops servers too, and notes their names.
SELECT ocp_backup.adopt_dropped_server('grants_srv') AS adopted;
SET ROLE grants_fdw;
CREATE SERVER grants_srv FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
RESET ROLE;
DROP OWNED BY grants_fdw;
SELECT server_name FROM ocp_backup.dropped_server WHERE server_name LIKE 'grants%';

-- PUBLIC executes only ocp_backup_read_tasks, as the README's "Least
-- privilege" table says; every other function of the extension is the
-- owner's until granted.  The event triggers' functions run without an
-- EXECUTE check.
SELECT p.oid::regprocedure AS function, p.proacl,
       EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_executes
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
 ORDER BY p.oid::regprocedure::text;
-- A role granted purge_journal needs no right on the journal writer.
GRANT USAGE ON SCHEMA ocp_backup TO grants_nobody;
GRANT EXECUTE ON FUNCTION ocp_backup.purge_journal(interval) TO grants_nobody;
GRANT SELECT, DELETE ON ocp_backup.invocation TO grants_nobody;
SET ROLE grants_nobody;
SELECT ocp_backup.purge_journal('100 years') AS purged;
RESET ROLE;
REVOKE ALL ON SCHEMA ocp_backup FROM grants_nobody;
REVOKE ALL ON FUNCTION ocp_backup.purge_journal(interval) FROM grants_nobody;
REVOKE ALL ON ocp_backup.invocation FROM grants_nobody;
SET ROLE grants_nobody;
SELECT try($$SELECT ocp_backup_start_journal_writer()$$) AS start_journal_writer;
SELECT try($$SELECT * FROM ocp_backup_read_tasks('{x}', '{1}')$$) AS read_tasks;
RESET ROLE;

DROP ROLE grants_fdw;
DROP ROLE grants_nobody;
DELETE FROM ocp_backup.dropped_server WHERE server_name LIKE 'grants%';
DROP EXTENSION dblink;
