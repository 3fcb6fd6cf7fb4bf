\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
-- call_log_xact: each line of a call log names the (sub)transaction that
-- inserts the call's row.  A copy of a log (a base backup taken while the
-- call's transaction was open) never brings back a row whose transaction
-- committed, purged since or not; a row whose transaction rolled back is
-- written.
--
-- A database of its own: its purges touch no other suite's rows.
CREATE DATABASE ocpb_call_log;
\c ocpb_call_log
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'

-- The lines of a call, as a base backup would copy them with its
-- transaction open.
CREATE TEMP TABLE copied (n bigint, line text);
SELECT current_setting('data_directory') || '/pg_ocp_backup/' || oid AS call_log_dir
  FROM pg_database WHERE datname = current_database() \gset
SELECT set_config('test.call_log_dir', :'call_log_dir', false) IS NOT NULL AS call_log_dir_named;
BEGIN;
SELECT successful FROM ocp_backup_now(51, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT pg_current_xact_id() AS call_xact \gset
-- The log this backend holds: the row before sending, and with the answer.
INSERT INTO copied
  SELECT t.n, t.line FROM pg_ls_dir(:'call_log_dir') f,
         regexp_split_to_table(pg_read_file(:'call_log_dir' || '/' || f), E'\n') WITH ORDINALITY t(line, n)
   WHERE f LIKE '%.jsonl' AND t.line LIKE '%"cluster_id": 51,%';
SELECT count(*) AS lines,
       bool_and(line LIKE '{"ocp_backup_xact": ' || :'call_xact' || ', %') AS named_by_its_transaction,
       bool_and((line::jsonb ->> 'ocp_backup_xact')::xid8 = :'call_xact') AS a_json_key
  FROM copied;
COMMIT;
SELECT ocp_backup.purge_journal('0') > 0 AS purged;
SELECT count(*) AS rows_of_51_purged FROM ocp_backup.invocation WHERE cluster_id = 51;

-- The copy, back in the call log directory (under another name first: a
-- writer may take a log the moment it is there), with a rolled-back
-- transaction's line and lines of transactions that never wrote their row.
BEGIN;
SELECT pg_current_xact_id() AS aborted_xact \gset
ROLLBACK;
BEGIN;
SELECT pg_current_xact_id() AS committed_xact \gset
COMMIT;
CREATE FUNCTION planted_row(xact text, cluster_id int) RETURNS text LANGUAGE sql AS $$
  SELECT format('{"ocp_backup_xact": %s, "id": %s, "started_at": %s, "finished_at": %s, '
                '"invoked_by": "planted", "server_name": "ocp", "cluster_id": %s, '
                '"backup_mode": "PHYSICAL_BACKUP", "data_mode": "FULL_BACKUP", "request": {}, '
                '"successful": false, "task_ids": [], "outcome_unknown": false}',
                xact, nextval('ocp_backup.invocation_id_seq'), to_json(now()), to_json(now()), cluster_id)
$$;
INSERT INTO copied VALUES
  (101, planted_row(:'aborted_xact', 52)),      -- rolled back: written
  (102, planted_row(:'committed_xact', 53)),    -- committed, its row is not there: purged
  (103, planted_row('1099511627776', 54)),      -- a transaction this server never reached: written
  (104, planted_row('1', 55));                  -- no status to tell: set aside
DO $$ BEGIN
  EXECUTE format('COPY (SELECT line FROM copied ORDER BY n) TO %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
                 current_setting('test.call_log_dir') || '/0-copied.new', E'\x01', E'\x02');
END $$;
SELECT format('cat >/dev/null; mv %1$s/0-copied.new %1$s/0-copied.jsonl', :'call_log_dir') AS plant,
       format('cat >/dev/null; mv %1$s/0-copied.jsonl.aside %1$s/1-moved-back.jsonl', :'call_log_dir') AS move_back \gset
COPY (SELECT 1) TO PROGRAM :'plant';
\c
SELECT ocp_backup.purge_journal('1000 years') AS purged_now;
SELECT journal_writer_caught_up();
SELECT cluster_id, count(*) AS rows FROM ocp_backup.invocation
 WHERE cluster_id BETWEEN 51 AND 55 GROUP BY 1 ORDER BY 1;
SELECT f AS call_log_files FROM pg_ls_dir(:'call_log_dir') f WHERE f <> 'writer.lock' ORDER BY 1;
-- The set-aside row without its transaction: moved back, it is written.
SELECT line::jsonb ->> 'cluster_id' AS aside_cluster, line::jsonb ? 'ocp_backup_xact' AS names_a_transaction
  FROM regexp_split_to_table(pg_read_file(:'call_log_dir' || '/0-copied.jsonl.aside'), E'\n') line
 WHERE line <> '';
COPY (SELECT 1) TO PROGRAM :'move_back';
\c
SELECT ocp_backup.purge_journal('1000 years') AS purged_now;
SELECT journal_rows_eventually('cluster_id = 55') AS moved_back_row;
SELECT journal_writer_caught_up();

-- A call in a savepoint rolled back names the subtransaction, whose row
-- went with it: the transaction commits, and the writer still writes it.
BEGIN;
SAVEPOINT before_call;
SELECT successful FROM ocp_backup_now(56, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
ROLLBACK TO SAVEPOINT before_call;
COMMIT;
SELECT journal_rows_eventually('cluster_id = 56') AS rolled_back_savepoint_row;
SELECT journal_writer_caught_up();
SELECT count(*) AS requests_of_56 FROM sim_requests() r WHERE r ->> 'path' LIKE '%/clusters/56/%';
\c contrib_regression
DROP DATABASE ocpb_call_log WITH (FORCE);
