--
-- server_choice: which server a call uses, and what it needs there.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
SELECT sim_reset();

-- No server at all.
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');

-- The only server of the wrapper is the default.
CREATE SERVER first FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
-- ... but a user mapping is needed, with a hint showing how to make one.
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
CREATE USER MAPPING FOR CURRENT_USER SERVER first OPTIONS (username 'admin', password 'admin');
SELECT cluster_id, successful FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT server_name, cluster_id FROM journal();

-- Two servers: the choice must be made.
CREATE SERVER second FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER second OPTIONS (username 'operator', password 'op-secret');
SELECT * FROM ocp_backup_now(9, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT cluster_id, successful FROM ocp_backup_now(9, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'second');
SELECT cluster_id, successful FROM ocp_backup_now(cluster_id => 10, backup_mode => 'PHYSICAL_BACKUP',
  data_mode => 'FULL_BACKUP', storage => :'storage', server => 'first');
SET ocp_backup.default_server = 'second';
SELECT cluster_id, successful FROM ocp_backup_now(14, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
-- The argument wins over the setting.
SELECT cluster_id, successful FROM ocp_backup_now(15, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'first');
SELECT server_name, cluster_id FROM journal(4);
SELECT r ->> 'auth' AS auth, r ->> 'path' AS path FROM sim_requests() r;

SET ocp_backup.default_server = 'gone';
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET ocp_backup.default_server;
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'missing');

-- A server of another wrapper is not ours.
CREATE FOREIGN DATA WRAPPER plain_fdw;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER plain_fdw;
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'elsewhere');

-- A role needs EXECUTE, USAGE on the server, and a mapping (its own or PUBLIC).
CREATE ROLE ocp_operator LOGIN;
SET ROLE ocp_operator;
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'first');
RESET ROLE;
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) TO ocp_operator;
SET ROLE ocp_operator;
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'first');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER first TO ocp_operator;
SET ROLE ocp_operator;
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'first');
RESET ROLE;
CREATE USER MAPPING FOR PUBLIC SERVER first OPTIONS (username 'operator', password 'op-secret');
SET ROLE ocp_operator;
SELECT cluster_id, successful FROM ocp_backup_now(16, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'first');
-- The journal records the caller, though the caller cannot read or write it.
SELECT count(*) FROM ocp_backup.invocation;
RESET ROLE;
SELECT invoked_by, server_name, cluster_id FROM journal();
SELECT r ->> 'auth' AS auth FROM sim_requests() r ORDER BY (r ->> 'seq')::int DESC LIMIT 1;

DROP SERVER first CASCADE;
DROP SERVER second CASCADE;
DROP SERVER elsewhere;
DROP FOREIGN DATA WRAPPER plain_fdw;
REVOKE EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) FROM ocp_operator;
DROP ROLE ocp_operator;
