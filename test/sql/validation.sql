--
-- validation: bad options are refused at CREATE/ALTER time, bad arguments
-- before anything is sent.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all

-- Runs statement, a format() string with one %L, once per control character:
-- the character takes the place of the # in value.  Each is refused with
-- HV024, and the message says where the character is, never what the value
-- is (it may be a secret; every value here holds S3cr3t).
CREATE FUNCTION try_control_chars(statement text, value text,
                                  OUT control text, OUT shows_value boolean, OUT error text)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT c.name, strpos(e, 'S3cr3t') > 0, e
    FROM (VALUES (1, 'CR', E'\r'), (2, 'LF', E'\n'), (3, 'TAB', E'\t'),
                 (4, 'ESC', E'\x1b'), (5, 'DEL', E'\x7f')) c(n, name, ch),
         LATERAL try(format(statement, replace(value, '#', c.ch))) e
   ORDER BY c.n $$;

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
-- max_parallel: requests in flight at once per server, 1 to 64.
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', max_parallel '0');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', max_parallel '65');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', max_parallel 'many');
CREATE SERVER fine FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', max_parallel '64');
DROP SERVER fine;
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', retry_backoff_ms '0');
-- A secret on a server would be readable by every role.
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', password 'x');
CREATE FOREIGN DATA WRAPPER other_fdw VALIDATOR ocp_backup.fdw_validator OPTIONS (url 'http://x');
-- Credentials in a URL are never shown, whichever check refuses it.
SELECT try($$CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://admin:S3cr3t@127.0.0.1:8080')$$);
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://S3cr3t@127.0.0.1:8080');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://admin:S3@cr3t@127.0.0.1:8080');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://admin:S3cr3t@127.0.0.1:8080/api/v2?x=1');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'ftp://admin:S3cr3t@127.0.0.1/');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'admin:S3cr3t@127.0.0.1:8080');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http:/admin:S3cr3t@127.0.0.1:8080');
-- No value may hold a control character: a CR LF would add an HTTP header.
SELECT * FROM try_control_chars(
  $$CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url %L)$$,
  'http://S3cr3t.example.net#:8080');
SELECT * FROM try_control_chars(
  $$CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', ca_file %L)$$,
  '/etc/ssl/S3cr3t#.pem');
SELECT count(*) AS servers FROM pg_foreign_server;

CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
ALTER SERVER ocp OPTIONS (ADD timeout_ms 'long');
ALTER SERVER ocp OPTIONS (DROP url);
ALTER SERVER ocp OPTIONS (ADD timeout_ms '10000', ADD connect_timeout_ms '2000');
ALTER SERVER ocp OPTIONS (ADD retries '0', ADD retry_backoff_ms '250');
ALTER SERVER ocp OPTIONS (DROP retries, DROP retry_backoff_ms);
SELECT try($$ALTER SERVER ocp OPTIONS (SET url 'http://admin:S3cr3t@127.0.0.1:8080')$$);
SELECT * FROM try_control_chars($$ALTER SERVER ocp OPTIONS (SET url %L)$$,
                                'http://S3cr3t.example.net:8080#');
SELECT * FROM try_control_chars($$ALTER SERVER ocp OPTIONS (ADD ca_file %L)$$,
                                '/etc/ssl/S3cr3t#.pem');
SELECT srvname, array_length(srvoptions, 1) AS options FROM pg_foreign_server;
SELECT count(*) AS options_with_control_chars
  FROM pg_foreign_server, unnest(srvoptions) o WHERE o ~ '[\x01-\x1f\x7f]';

-- User mapping options.
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp;
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (password 'admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password '');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin', url 'http://x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin', token 'x');
-- A CR LF in access_key_id would become a header of its own.
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER ocp
             OPTIONS (access_key_id E'AK:x\r\nX-Injected: yes', access_key_secret 'sk')$$);
SELECT * FROM try_control_chars(
  $$CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username %L, password 'admin')$$,
  'S3cr3t#admin');
SELECT * FROM try_control_chars(
  $$CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password %L)$$,
  'S3cr3t#pw');
SELECT * FROM try_control_chars(
  $$CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (access_key_id %L, access_key_secret 'sk')$$,
  'AK-S3cr3t#X-Injected: yes');
SELECT * FROM try_control_chars(
  $$CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (access_key_id 'AK', access_key_secret %L)$$,
  'S3cr3t#sk');
SELECT count(*) AS user_mappings FROM pg_user_mappings;
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT * FROM try_control_chars(
  $$ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (SET username %L)$$,
  'S3cr3t#admin');
SELECT * FROM try_control_chars(
  $$ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (SET password %L)$$,
  'S3cr3t#pw');
SELECT * FROM try_control_chars(
  $$ALTER USER MAPPING FOR CURRENT_USER SERVER ocp
      OPTIONS (DROP username, DROP password, ADD access_key_id %L, ADD access_key_secret 'sk')$$,
  'AK-S3cr3t#X-Injected: yes');
SELECT * FROM try_control_chars(
  $$ALTER USER MAPPING FOR CURRENT_USER SERVER ocp
      OPTIONS (DROP username, DROP password, ADD access_key_id 'AK', ADD access_key_secret %L)$$,
  'S3cr3t#sk');
SELECT umoptions FROM pg_user_mappings WHERE srvname = 'ocp';
ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (DROP password);

\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'

SELECT sim_reset();

-- NULL arguments are errors, never zero rows.
-- (An untyped NULL could be either form's first argument: it is typed here.)
SELECT * FROM ocp_backup_now(NULL::bigint, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
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
DROP FUNCTION try_control_chars(text, text);
