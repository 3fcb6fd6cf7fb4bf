--
-- validation: bad options are refused at CREATE/ALTER time, bad arguments
-- before anything is sent.
--
\getenv sim_url OCP_SIM_URL

-- Server options.
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup;
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'ftp://127.0.0.1/');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'ocp.example.net:8080');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://admin:pw@127.0.0.1:8080');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/api/v2');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/?x=1');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', timeout_ms '0');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', connect_timeout_ms 'soon');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', timeout_ms '86400001');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', verbose 'true');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', retries '11');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', retries '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', retries 'twice');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', retry_backoff_ms '0');
-- A secret on a server would be readable by every role.
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', password 'x');
CREATE FOREIGN DATA WRAPPER other_fdw VALIDATOR ocp_backup.fdw_validator OPTIONS (url 'http://x');
SELECT count(*) AS servers FROM pg_foreign_server;

CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
ALTER SERVER ocp OPTIONS (ADD timeout_ms 'long');
ALTER SERVER ocp OPTIONS (DROP url);
ALTER SERVER ocp OPTIONS (ADD timeout_ms '10000', ADD connect_timeout_ms '2000');
ALTER SERVER ocp OPTIONS (ADD retries '0', ADD retry_backoff_ms '250');
ALTER SERVER ocp OPTIONS (DROP retries, DROP retry_backoff_ms);
SELECT srvname, array_length(srvoptions, 1) AS options FROM pg_foreign_server;

-- User mapping options.
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp;
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (password 'admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password '');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin', url 'http://x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin', token 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin');
ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (DROP password);

\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'

SELECT sim_reset();

-- NULL arguments are errors, never zero rows.
SELECT * FROM ocp_backup_now(NULL, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(8, NULL, 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', NULL, :'storage');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', NULL);

SELECT * FROM ocp_backup_now(0, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(-8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(8, 'physical_backup', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'DIFFERENTIAL', :'storage');

-- The storage object.
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '[]');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '"nfs0907"');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": 7}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": "/obbackup/"}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": {"storageUrl": "/obbackup/"}}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_TAPE", "storageUrl": "/obbackup/"}}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE"}}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": null}}');

-- Read-only transactions cannot write the journal, so nothing is sent.
BEGIN TRANSACTION READ ONLY;
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
ROLLBACK;

-- None of the above reached OCP, and none was journaled.
SELECT count(*) AS requests_received FROM sim_requests();
SELECT count(*) AS journal_rows FROM ocp_backup.invocation;

DROP SERVER ocp CASCADE;
