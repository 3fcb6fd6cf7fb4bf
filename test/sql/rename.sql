--
-- rename: ALTER SERVER ... RENAME TO keeps the server's journal, tasks and
-- fleet rows under its new name; refresh follows its tasks through it; a
-- name a former server's rows still hold is refused whole; a server's
-- owner who is no superuser renames through the journal owner's function
-- with planted names around, and stays no superuser.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 0}');
SELECT (sim_fleet('{"clusters": [{"id": 71, "name": "ren-a", "tenants": [{"id": 1001, "name": "sys"}], "history": [{"taskId": 7, "status": "DONE", "started_ago": 7200, "finished_ago": 3600}]}]}')) ->> 'clusters' AS fleet_clusters;
CREATE SERVER ren_before FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER ren_before OPTIONS (username 'admin', password 'admin');
SELECT count(*) AS started FROM ocp_backup_now(71, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ren_before');
SELECT clusters, backup_jobs FROM ocp_backup_sync('ren_before');

ALTER SERVER ren_before RENAME TO ren_after;
SELECT server_name, count(*) FROM ocp_backup.invocation WHERE cluster_id = 71 GROUP BY 1;
SELECT server_name, count(*) FROM ocp_backup.task WHERE cluster_id = 71 GROUP BY 1;
SELECT server_name, cluster_name FROM ocp_backup.cluster WHERE cluster_id = 71;
SELECT server_name, count(*) FROM ocp_backup.tenant WHERE cluster_id = 71 GROUP BY 1;
SELECT server_name, count(*) FROM ocp_backup.backup_history WHERE cluster_id = 71 GROUP BY 1;
SELECT server_name, cluster_name, last_invocation_successful, successes_7d FROM ocp_backup.cluster_status WHERE cluster_id = 71;
-- Followed through the new name.
SELECT ocp_backup_refresh() > 0 AS refreshed;
SELECT server_name, status FROM ocp_backup.task WHERE cluster_id = 71;
-- Other changes of the server and servers of other wrappers are left alone.
ALTER SERVER ren_after OPTIONS (ADD timeout_ms '5000');
CREATE FOREIGN DATA WRAPPER ren_other;
CREATE SERVER ren_other_server FOREIGN DATA WRAPPER ren_other;
ALTER SERVER ren_other_server RENAME TO ren_after_too;
SELECT count(*) AS untouched FROM ocp_backup.invocation WHERE server_name = 'ren_after';

-- A former server's rows hold the name: the rename is refused whole.
CREATE SERVER ren_former FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER ren_former OPTIONS (username 'admin', password 'admin');
SELECT clusters FROM ocp_backup_sync('ren_former');
DROP SERVER ren_former CASCADE;
\set VERBOSITY default
ALTER SERVER ren_after RENAME TO ren_former;
\set VERBOSITY terse
SELECT srvname FROM pg_foreign_server WHERE srvname LIKE 'ren\_%' ORDER BY 1;
SELECT server_name, count(*) FROM ocp_backup.cluster WHERE cluster_id = 71 GROUP BY 1 ORDER BY 1;

-- A server owned by a role that is no superuser, renamed by it with its
-- own functions and operator planted ahead of pg_catalog.
CREATE ROLE ren_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER ocp_backup TO ren_owner;
CREATE SCHEMA ren_plants AUTHORIZATION ren_owner;
CREATE TABLE ren_trace (planted text, ran_as text);
GRANT INSERT ON ren_trace TO PUBLIC;
SET ROLE ren_owner;
CREATE SERVER ren_owned FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
RESET ROLE;
CREATE USER MAPPING FOR CURRENT_USER SERVER ren_owned OPTIONS (username 'admin', password 'admin');
SELECT count(*) AS started FROM ocp_backup_now(72, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ren_owned');
SET ROLE ren_owner;
CREATE FUNCTION ren_plants.plant(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.ren_trace VALUES (what, current_user);
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE ren_owner SUPERUSER';
  END IF;
END $$;
CREATE FUNCTION ren_plants.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM ren_plants.plant('='); RETURN pg_catalog.texteq(a, b); END $$;
CREATE OPERATOR ren_plants.= (LEFTARG = text, RIGHTARG = text, FUNCTION = ren_plants.text_eq);
CREATE FUNCTION ren_plants.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM ren_plants.plant('now'); RETURN pg_catalog.now(); END $$;
SET search_path = ren_plants, public, pg_catalog;
ALTER SERVER ren_owned RENAME TO ren_owned_renamed;
RESET search_path;
RESET ROLE;
SELECT srvname FROM pg_foreign_server WHERE srvname LIKE 'ren\_owned%';
SELECT server_name, count(*) FROM ocp_backup.invocation WHERE cluster_id = 72 GROUP BY 1;
SELECT rolsuper FROM pg_roles WHERE rolname = 'ren_owner';
SELECT count(*) AS planted_ran FROM ren_trace;

DROP SERVER ren_owned_renamed CASCADE;
DROP SCHEMA ren_plants CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER ocp_backup FROM ren_owner;
DROP ROLE ren_owner;
DROP TABLE ren_trace;
DROP SERVER ren_after CASCADE;
DROP FOREIGN DATA WRAPPER ren_other CASCADE;
