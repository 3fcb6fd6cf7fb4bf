--
-- proxy: the proxy and no_proxy server options, the proxy variables of the
-- server's environment ignored, and a url with a path prefix.
--
-- The launcher provides, besides the usual simulators: OCP_PROXY_URL, a
-- test/proxy.py forward proxy; OCP_SIM_PREFIX_URL, a simulator serving
-- under a path prefix (test/ocp_sim.py --path-prefix /ocp), with the URL
-- ending in that prefix; and a server started with http_proxy, https_proxy
-- and all_proxy pointing at a test/proxy.py proxy (the same or another),
-- and no no_proxy.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\getenv tls_url OCP_SIM_TLS_URL
\getenv ca_file OCP_SIM_CA_FILE
\getenv ak OCP_SIM_ACCESS_KEY_ID
\getenv sk OCP_SIM_ACCESS_KEY_SECRET
\getenv proxy_url OCP_PROXY_URL
\getenv prefix_url OCP_SIM_PREFIX_URL
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'

-- The output lines of a program run by the server, in the server's
-- environment.
CREATE FUNCTION program_lines(command text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp.program_out') IS NULL THEN
    CREATE TEMP TABLE program_out (n serial, line text);
  END IF;
  TRUNCATE program_out;
  EXECUTE format('COPY program_out (line) FROM PROGRAM %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
                 command, E'\x01', E'\x02');
  RETURN QUERY SELECT line FROM program_out ORDER BY n;
END $$;

-- A variable of the server's environment; NULL when unset.
CREATE FUNCTION server_env(name text) RETURNS text LANGUAGE sql AS $$
  SELECT line FROM program_lines('printenv ' || sim_shell_quote(name) || ' || true') line LIMIT 1 $$;

-- A control call to a proxy or simulator; curl itself never uses a proxy.
CREATE FUNCTION control(method text, url text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT program_lines('curl -sS --noproxy ''*'' --max-time 10 -X ' || method || ' '
                       || sim_shell_quote(url)) $$;

-- scheme://host:port of a URL.
CREATE FUNCTION origin(url text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT substring(url FROM '^[a-z]+://[^/]+') $$;

-- The requests a proxy saw since proxy_mark() for the simulator at sim_url
-- (forwarded, or a tunnel to it), control calls left out.
CREATE TABLE proxy_mark (proxy text PRIMARY KEY, seq int NOT NULL);
CREATE FUNCTION proxy_mark(proxy text) RETURNS text LANGUAGE sql AS $$
  INSERT INTO proxy_mark
  SELECT proxy, coalesce(max((line::jsonb ->> 'seq')::int), 0)
    FROM control('GET', proxy || '/__proxy/requests') line
  ON CONFLICT (proxy) DO UPDATE SET seq = excluded.seq
  RETURNING 'proxy log marked' $$;
CREATE FUNCTION proxied(proxy text, sim_url text, OUT method text, OUT target text, OUT status int)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT r ->> 'method',
         replace(r ->> 'target', substring(origin(sim_url) FROM '://(.*)$'), 'SIM'),
         (r ->> 'status')::int
    FROM control('GET', proxy || '/__proxy/requests?since='
                        || coalesce((SELECT seq FROM proxy_mark m WHERE m.proxy = proxied.proxy), 0)) line,
         LATERAL (SELECT line::jsonb) AS j(r)
   WHERE (r ->> 'target' LIKE origin(sim_url) || '/%'
          OR r ->> 'target' = substring(origin(sim_url) FROM '://(.*)$'))
     AND r ->> 'target' NOT LIKE '%/__sim/%'
   ORDER BY (r ->> 'seq')::int $$;

-- The prefixed simulator: its control API is not under the prefix.
CREATE TABLE prefix_sim (url text NOT NULL);
INSERT INTO prefix_sim VALUES (:'prefix_url');
CREATE FUNCTION prefix_sim_reset() RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN s::jsonb ->> 'ok' = 'true' THEN 'prefixed simulator reset' ELSE s END
    FROM control('POST', origin((SELECT url FROM prefix_sim)) || '/__sim/reset') s $$;
-- What it received since its last reset; task ids masked.
CREATE FUNCTION prefix_sim_requests(OUT method text, OUT path text, OUT auth text)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT r ->> 'method', regexp_replace(r ->> 'path', '/[0-9]{5,}$', '/ID'), r ->> 'auth'
    FROM control('GET', origin((SELECT url FROM prefix_sim)) || '/__sim/requests') line,
         LATERAL (SELECT line::jsonb) AS j(r)
   ORDER BY (r ->> 'seq')::int $$;

--
-- Validation.  A proxy URL is scheme, host and optional port: no path, no
-- query, and no credentials, which are never shown.
--
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy 'socks5://127.0.0.1:1080');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy '127.0.0.1:3128');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy 'http://proxy.example:3128/squid');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy 'http://proxy.example:3128/?x=1');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy '');
SELECT try($$CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', proxy 'http://puser:S3cr3t@proxy.example:3128')$$);
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy 'http://S3cr3t@proxy.example:3128');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy 'http://:S3cr3t@proxy.example:3128/x?y');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', proxy 'socks5://u:S3cr3t@proxy.example:1080');
SELECT try(format($$CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080', proxy %L)$$,
                  E'http://proxy.example:3128\r\nX-Injected: S3cr3t'));
-- no_proxy: host names, IP addresses and ranges, separated by commas and
-- spaces, or "*" alone; and only with a proxy.
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', proxy 'http://127.0.0.1:3128', no_proxy 'ocp.example;rm -rf');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', proxy 'http://127.0.0.1:3128', no_proxy '*.example.net');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', proxy 'http://127.0.0.1:3128', no_proxy 'localhost, *');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', proxy 'http://127.0.0.1:3128', no_proxy ' , ');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url', no_proxy '127.0.0.1');
-- Both belong on the server.
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp
  OPTIONS (username 'admin', password 'admin', proxy 'http://127.0.0.1:3128');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp
  OPTIONS (username 'admin', password 'admin', no_proxy 'localhost');
CREATE FOREIGN DATA WRAPPER other_fdw VALIDATOR ocp_backup.fdw_validator OPTIONS (proxy 'http://x');
-- Accepted.
ALTER SERVER ocp OPTIONS (ADD proxy 'http://127.0.0.1:3128/',
  ADD no_proxy 'localhost, .internal.example,10.0.0.0/8 ::1 ocp-1.example');
ALTER SERVER ocp OPTIONS (SET proxy 'https://proxy.example:8443', SET no_proxy '*');
-- Dropping the proxy alone would leave no_proxy meaningless.
ALTER SERVER ocp OPTIONS (DROP proxy);
ALTER SERVER ocp OPTIONS (DROP proxy, DROP no_proxy);
SELECT srvname, regexp_replace(srvoptions::text, ':[0-9]+', ':PORT', 'g') AS options
  FROM pg_foreign_server ORDER BY srvname;

-- A url may have a path prefix, sent and signed before /api/v2/...; it is
-- refused when libcurl or a gateway would not send it as written.
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp/../x');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/./ocp');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp//x');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp;v=1');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp%zz');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp/api/v2/');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp?x=1');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:8080/ocp#top');
CREATE SERVER bad FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://admin:S3cr3t@127.0.0.1:8080/ocp');
CREATE SERVER p1 FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1/ocp');
CREATE SERVER p2 FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'https://127.0.0.1:1/ocp/');
CREATE SERVER p3 FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1/gw/ocp-4.2_x~y/%E5%A4%87');
CREATE SERVER p4 FOREIGN DATA WRAPPER ocp_backup OPTIONS (url 'http://127.0.0.1:1/');
SELECT server_name, url FROM ocp_backup_check('p1')
UNION ALL SELECT server_name, url FROM ocp_backup_check('p2')
UNION ALL SELECT server_name, url FROM ocp_backup_check('p3')
UNION ALL SELECT server_name, url FROM ocp_backup_check('p4');
DROP SERVER p1, p2, p3, p4;
SELECT count(*) AS servers FROM pg_foreign_server;

--
-- Calls through the proxy: Basic, then AK/SK, which the simulator verifies
-- over the Host and path it receives from the proxy.
--
ALTER SERVER ocp OPTIONS (ADD proxy :'proxy_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT proxy_mark(:'proxy_url');
SELECT cluster_id, successful FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT reachable, authenticated, problem FROM ocp_backup_check();
ALTER USER MAPPING FOR CURRENT_USER SERVER ocp
  OPTIONS (DROP username, DROP password, ADD access_key_id :'ak', ADD access_key_secret :'sk');
SELECT cluster_id, successful FROM ocp_backup_now(9, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT reachable, authenticated, problem FROM ocp_backup_check();
SELECT * FROM proxied(:'proxy_url', :'sim_url');
SELECT method, path, auth = 'aksk:' || :'ak' AS signed_and_verified, auth LIKE 'basic:%' AS basic
  FROM sim_wire() ORDER BY seq;

-- With no_proxy naming the simulator's host, the proxy is bypassed; the
-- change applies to the very next call of this session.
ALTER SERVER ocp OPTIONS (ADD no_proxy '127.0.0.1');
SELECT sim_reset();
SELECT proxy_mark(:'proxy_url');
SELECT cluster_id, successful FROM ocp_backup_now(10, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
SELECT count(*) AS proxied FROM proxied(:'proxy_url', :'sim_url');
SELECT method, path, auth = 'aksk:' || :'ak' AS signed_and_verified FROM sim_wire() ORDER BY seq;
-- Host names match as written: localhost is not 127.0.0.1.
ALTER SERVER ocp OPTIONS (SET no_proxy 'localhost, ocp.example');
SELECT proxy_mark(:'proxy_url');
SELECT cluster_id, successful FROM ocp_backup_now(11, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
SELECT * FROM proxied(:'proxy_url', :'sim_url');

-- https:// OCP is reached through a tunnel: the proxy sees only the host
-- and port, OCP's certificate is verified end to end.
CREATE SERVER tls FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'tls_url', ca_file :'ca_file', proxy :'proxy_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls OPTIONS (access_key_id :'ak', access_key_secret :'sk');
SELECT proxy_mark(:'proxy_url');
SELECT cluster_id, successful FROM ocp_backup_now(12, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'tls');
SELECT reachable, tls_verified, authenticated, problem FROM ocp_backup_check('tls');
SELECT * FROM proxied(:'proxy_url', :'tls_url');

-- A proxy that is not there: the call fails to connect, and nothing is
-- sent around it.
CREATE SERVER no_proxy_there FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url :'sim_url', proxy 'http://127.0.0.1:1', connect_timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER no_proxy_there OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT left(try($$SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'no_proxy_there')$$), 5) AS sqlstate;
SELECT count(*) AS requests_received FROM sim_wire();
DROP SERVER no_proxy_there CASCADE;

--
-- The server's environment names a proxy for every scheme; a server
-- without the proxy option ignores it, for http:// and https:// alike.
--
SELECT v AS variable, server_env(v) IS NOT NULL AS set_in_server
  FROM unnest(ARRAY['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy', 'NO_PROXY']) v;
SELECT coalesce(server_env('http_proxy'), '') AS env_proxy \gset
SELECT proxy_mark(:'env_proxy');
ALTER SERVER ocp OPTIONS (DROP proxy, DROP no_proxy);
ALTER SERVER tls OPTIONS (DROP proxy);
SELECT sim_reset();
SELECT cluster_id, successful FROM ocp_backup_now(13, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'ocp');
SELECT reachable, authenticated FROM ocp_backup_check('ocp');
SELECT cluster_id, successful FROM ocp_backup_now(14, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'tls');
SELECT reachable, tls_verified, authenticated FROM ocp_backup_check('tls');
SELECT count(*) AS proxied_http FROM proxied(:'env_proxy', :'sim_url');
SELECT count(*) AS proxied_https FROM proxied(:'env_proxy', :'tls_url');
SELECT method, path, auth = 'aksk:' || :'ak' AS signed_and_verified FROM sim_wire() ORDER BY seq;
DROP SERVER tls CASCADE;

--
-- A path prefix: requests go to {prefix}/api/v2/..., and AK/SK signs the
-- path as sent, prefix included (the simulator checks the signature over
-- the path it receives).  With or without a trailing slash.
--
\set prefix_url_slash :prefix_url /
CREATE SERVER prefixed FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'prefix_url_slash');
CREATE USER MAPPING FOR CURRENT_USER SERVER prefixed OPTIONS (username 'admin', password 'admin');
SELECT prefix_sim_reset();
SELECT cluster_id, successful FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'prefixed');
SELECT url = :'prefix_url' AS url_without_slash, reachable, authenticated, problem
  FROM ocp_backup_check('prefixed');
ALTER SERVER prefixed OPTIONS (SET url :'prefix_url');
ALTER USER MAPPING FOR CURRENT_USER SERVER prefixed
  OPTIONS (DROP username, DROP password, ADD access_key_id :'ak', ADD access_key_secret :'sk');
SELECT cluster_id, successful FROM ocp_backup_now(9, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'prefixed');
SELECT task_id > 0 AS task_read, status IS NOT NULL AS has_status
  FROM ocp_backup_task((SELECT task_ids[1] FROM ocp_backup.invocation ORDER BY id DESC LIMIT 1), 'prefixed');
SELECT reachable, authenticated, problem FROM ocp_backup_check('prefixed');
-- Through the proxy as well.
ALTER SERVER prefixed OPTIONS (ADD proxy :'proxy_url');
SELECT proxy_mark(:'proxy_url');
SELECT cluster_id, successful FROM ocp_backup_now(10, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage', 'prefixed');
SELECT * FROM proxied(:'proxy_url', :'prefix_url');
SELECT method, path,
       CASE WHEN auth = 'aksk:' || :'ak' THEN 'signed and verified' ELSE auth END AS auth
  FROM prefix_sim_requests();
-- Without the prefix the simulator has no such path: 404, which reads as an
-- unknown cluster.
SELECT origin(:'prefix_url') AS prefix_origin \gset
CREATE SERVER unprefixed FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'prefix_origin');
CREATE USER MAPPING FOR CURRENT_USER SERVER unprefixed OPTIONS (username 'admin', password 'admin');
SELECT left(try($$SELECT * FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}', 'unprefixed')$$), 5) AS sqlstate;

DROP SERVER ocp CASCADE;
DROP SERVER prefixed CASCADE;
DROP SERVER unprefixed CASCADE;
DROP FUNCTION prefix_sim_requests(), prefix_sim_reset(), proxied(text, text), proxy_mark(text),
  origin(text), control(text, text), server_env(text), program_lines(text);
DROP TABLE proxy_mark, prefix_sim;
