--
-- aksk_tls: AccessKey signatures, HTTPS with a throwaway CA, and
-- ocp_backup_check.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\getenv tls_url OCP_SIM_TLS_URL
\getenv ca_file OCP_SIM_CA_FILE
\getenv other_ca_file OCP_SIM_OTHER_CA_FILE
\getenv ak OCP_SIM_ACCESS_KEY_ID
\getenv sk OCP_SIM_ACCESS_KEY_SECRET
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
\set call 'SELECT * FROM ocp_backup_now(8, ''PHYSICAL_BACKUP'', ''FULL_BACKUP'', ''{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'')'
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 0.1}');

CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
-- One complete kind of credentials, never half of one or both.
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (access_key_id 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (access_key_secret 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', access_key_secret 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp
  OPTIONS (username 'admin', password 'admin', access_key_id 'x', access_key_secret 'y');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (access_key_id :'ak', access_key_secret :'sk');

-- Signed requests, checked by the simulator's own signature code; at
-- debug5 nothing secret reaches the server log (the server_log suite reads it).
SET log_min_messages = debug5;
SELECT cluster_id, successful FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
-- A body with non-ASCII characters is signed over its exact UTF-8 bytes.
SELECT cluster_id, successful FROM ocp_backup_now(9, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
  '{"configName": "备份-é", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/数据/"}}');
RESET log_min_messages;
SELECT r ->> 'auth' AS auth,
       r -> 'headers' ->> 'authorization' ~ ('^OCP-ACCESS-KEY-HMACSHA1 ' || :'ak' || ':[A-Za-z0-9+/]{27}=$') AS signed,
       r -> 'headers' ->> 'date' ~ '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT$' AS rfc1123_date,
       r ->> 'body' ~ '备份' AS utf8_body
  FROM sim_requests() r ORDER BY (r ->> 'seq')::int;

-- The endpoint, step by step; the authenticated step is a signed GET with a
-- query string.
SELECT server_name, reachable, tls_verified, authenticated, round_trip_ms > 0 AS timed,
       abs(clock_skew_ms) < 5000 AS clock_ok, problem
  FROM ocp_backup_check();
SELECT r ->> 'method' AS method, r ->> 'path' AS path, r ->> 'auth' AS auth
  FROM sim_requests() r ORDER BY (r ->> 'seq')::int DESC LIMIT 2;

-- A wrong secret: 28000, OCP's message and trace id, and what to check.
ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (SET access_key_secret 'wrong-secret');
SELECT sim_reset();
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT server_name, reachable, authenticated, problem FROM ocp_backup_check('ocp');

-- OCP's clock 20 minutes away from ours: the signature is refused, and
-- ocp_backup_check shows the skew.
ALTER USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (SET access_key_secret :'sk');
SELECT sim_config('{"clock_skew_seconds": 1200}');
SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT reachable, authenticated, round(clock_skew_ms / 60000) AS skew_minutes FROM ocp_backup_check();
SELECT sim_config('{"clock_skew_seconds": 0}');

-- The secrets appear in no error and no journal row (the refused calls'
-- rows come from the journal writer).
SELECT journal_writer_caught_up();
SELECT count(*) FILTER (WHERE cluster_id = 8 AND http_status = 401) AS refused_rows,
       count(*) FILTER (WHERE request::text ~ :'sk' OR error ~ :'sk' OR error ~ 'wrong-secret'
                           OR response::text ~ :'sk') AS leaks
  FROM ocp_backup.invocation;

-- A mapping missing, a server unreachable: reported in the row, not raised.
DROP USER MAPPING FOR CURRENT_USER SERVER ocp;
SELECT server_name, reachable, authenticated, problem FROM ocp_backup_check('ocp');
CREATE SERVER nowhere FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1');
SELECT server_name, url, reachable, tls_verified, authenticated, round_trip_ms,
       regexp_replace(problem, 'after [0-9]+ ms', 'after N ms') AS problem
  FROM ocp_backup_check('nowhere');
DROP SERVER nowhere;
DROP SERVER ocp;

-- HTTPS: certificate and host name are verified by default.
CREATE SERVER tls FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'tls_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls OPTIONS (username 'admin', password 'admin');
SELECT try(:'call');
SELECT reachable, tls_verified, authenticated, problem FROM ocp_backup_check('tls');
ALTER SERVER tls OPTIONS (ADD ca_file :'other_ca_file');
SELECT try(:'call');
ALTER SERVER tls OPTIONS (SET ca_file 'relative/ca.pem');
ALTER SERVER tls OPTIONS (SET ca_file '/nonexistent/ca.pem');
SELECT try(:'call');
ALTER SERVER tls OPTIONS (SET ca_file :'ca_file');
SELECT cluster_id, successful FROM ocp_backup_now(10, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT reachable, tls_verified, authenticated, clock_skew_ms IS NOT NULL AS clock_read, problem
  FROM ocp_backup_check('tls');
-- The certificate is for 127.0.0.1, not for localhost.
SELECT set_config('test.localhost_url', replace(:'tls_url', '127.0.0.1', 'localhost'), false) IS NOT NULL AS url_made;
DO $$ BEGIN
  EXECUTE format('ALTER SERVER tls OPTIONS (SET url %L)', current_setting('test.localhost_url'));
END $$;
SELECT try(:'call');
-- verify_tls 'false' turns both checks off, and ocp_backup_check says so.
ALTER SERVER tls OPTIONS (DROP ca_file, ADD verify_tls 'false');
SELECT cluster_id, successful FROM ocp_backup_now(11, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT reachable, tls_verified, authenticated, problem FROM ocp_backup_check('tls');
ALTER SERVER tls OPTIONS (SET verify_tls 'maybe');
DROP SERVER tls CASCADE;
