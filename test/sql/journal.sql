--
-- journal: exactly one row per call that reached for OCP, whatever the
-- caller's transaction does afterwards; and no privilege leaks.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
\set storage '{"configName": "nfs0907", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}'
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 0.05}');

-- COMMIT: the row is there, once.
BEGIN;
SELECT invocation_id AS committed_id FROM ocp_backup_now(20, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
COMMIT;
SELECT journal_rows_eventually('id = ' || :committed_id);

-- ROLLBACK: the row comes back by itself, once.
BEGIN;
SELECT invocation_id AS rolled_back_id FROM ocp_backup_now(21, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
ROLLBACK;
SELECT journal_rows_eventually('id = ' || :rolled_back_id);
SELECT cluster_id, successful, cardinality(task_ids) AS tasks FROM ocp_backup.invocation WHERE id = :rolled_back_id;

-- ROLLBACK TO SAVEPOINT: only the rows of the rolled-back subtransaction are
-- left to the journal writer; the others commit with the transaction.
BEGIN;
SELECT invocation_id AS before_savepoint_id FROM ocp_backup_now(22, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
SAVEPOINT s1;
SELECT invocation_id AS in_savepoint_id FROM ocp_backup_now(23, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
ROLLBACK TO SAVEPOINT s1;
SELECT invocation_id AS after_savepoint_id FROM ocp_backup_now(24, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
COMMIT;
SELECT journal_rows_eventually('id = ' || :before_savepoint_id) AS before_savepoint,
       journal_rows_eventually('id = ' || :in_savepoint_id) AS in_savepoint,
       journal_rows_eventually('id = ' || :after_savepoint_id) AS after_savepoint;

-- An error later in the same transaction.
BEGIN;
SELECT invocation_id AS doomed_id FROM ocp_backup_now(25, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
SELECT 1 / 0;
COMMIT;
SELECT journal_rows_eventually('id = ' || :doomed_id);

-- An error raised by ocp_backup_now itself: the row records it.
SELECT last_value AS last_id FROM ocp_backup.invocation_id_seq \gset
SELECT * FROM ocp_backup_now(99, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT journal_rows_eventually('id = ' || :last_id + 1);
SELECT cluster_id, http_status, successful, error FROM ocp_backup.invocation WHERE id = :last_id + 1;

-- Caught inside PL/pgSQL, the error's row survives the exception block too.
DO $$
BEGIN
  PERFORM * FROM ocp_backup_now(99, 'PHYSICAL_BACKUP', 'FULL_BACKUP',
    '{"configName": "c", "obBackupStorageBaseInfo": {"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/"}}');
EXCEPTION WHEN undefined_object THEN
  RAISE NOTICE 'caught %', SQLSTATE;
END $$;
SELECT journal_rows_eventually('id = ' || :last_id + 2);

-- Cancelled (statement_timeout) while OCP hangs: the request left, so the
-- call's row comes back, saying it was interrupted.
SELECT sim_fault('{"kind": "hang"}');
SET statement_timeout = '500ms';
SELECT * FROM ocp_backup_now(29, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET statement_timeout;
SELECT journal_rows_eventually('cluster_id = 29');
SELECT cluster_id, http_status, successful, task_ids, error, finished_at = started_at AS unfinished
  FROM ocp_backup.invocation WHERE cluster_id = 29;

-- Terminated (pg_terminate_backend) while OCP hangs: the same.
SELECT sim_fault('{"kind": "hang"}');
\! psql -X -q -c "SELECT * FROM ocp_backup_now(30, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{\"configName\": \"c\", \"obBackupStorageBaseInfo\": {\"backupStorageType\": \"BACKUP_STORAGE_FILE\", \"storageUrl\": \"/\"}}')" contrib_regression >/dev/null 2>&1 &
-- Until the request has reached the simulator (so it was recorded first).
SELECT wait_for($$EXISTS (SELECT FROM sim_requests() r WHERE r ->> 'path' LIKE '%/clusters/30/%')$$) AS request_reached_ocp;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE query LIKE 'SELECT * FROM ocp_backup_now(30,%' AND state = 'active';
SELECT journal_rows_eventually('cluster_id = 30');
SELECT cluster_id, http_status, successful, error IS NOT NULL AS has_error
  FROM ocp_backup.invocation WHERE cluster_id = 30;

-- An answer cJSON reads but PostgreSQL's JSON does not take (a number with
-- a leading zero): the call works, its row is written, without the answer.
-- One with a number numeric cannot hold is JSON all the same: the row keeps
-- it, exactly as received.
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":31}],\"taskIdList\":[4000031]}]},\"duration\":01,\"status\":200,\"successful\":true,\"traceId\":\"00000000000000d1\"}"}');
SELECT task_id, successful FROM ocp_backup_now(31, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT sim_fault('{"kind": "raw", "status": 200, "body": "{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":32}],\"taskIdList\":[4000032]}]},\"duration\":1e99999,\"status\":200,\"successful\":true,\"traceId\":\"00000000000000d2\"}"}');
SELECT task_id, successful FROM ocp_backup_now(32, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT cluster_id, successful, task_ids, trace_id, response IS NULL AS answer_not_kept,
       position('"duration":1e99999,"status"' IN response::text) > 0 AS answer_as_received
  FROM ocp_backup.invocation WHERE cluster_id IN (31, 32) ORDER BY id;

-- The journal INSERT itself fails (here a trigger refuses it, as long as
-- this session says so) after OCP started the backup: the call errors, and
-- the complete row, prepared before the INSERT, comes back by itself.
CREATE FUNCTION refuse_journal_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('test.refuse_journal', true) = 'on' THEN
    RAISE EXCEPTION 'journal row refused by a trigger';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_journal_row BEFORE INSERT ON ocp_backup.invocation
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_row();
SET test.refuse_journal = 'on';
SELECT * FROM ocp_backup_now(33, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
RESET test.refuse_journal;
SELECT journal_rows_eventually('cluster_id = 33');
SELECT cluster_id, http_status, successful, cardinality(task_ids) AS tasks, error
  FROM ocp_backup.invocation WHERE cluster_id = 33;
SELECT count(*) AS task_rows FROM ocp_backup.task
 WHERE task_id = ANY (SELECT unnest(task_ids) FROM ocp_backup.invocation WHERE cluster_id = 33);
DROP TRIGGER refuse_journal_row ON ocp_backup.invocation;
DROP FUNCTION refuse_journal_row();

-- Every call above reached the simulator once, and has exactly one row.
SELECT count(*) AS requests FROM sim_requests();
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids
  FROM ocp_backup.invocation WHERE id >= :committed_id;

-- Logged rows that no worker could write yet (say, max_worker_processes was
-- reached) are picked up by the next call in a new session, and replaying
-- the same row twice writes it once.
SELECT set_config('test.call_log_file', current_setting('data_directory') || '/pg_ocp_backup/'
                  || oid || '/0-0-0.jsonl', false) IS NOT NULL AS call_log_file_named
  FROM pg_database WHERE datname = current_database();
SELECT set_config('test.leftover', (to_jsonb(i) - 'id' || '{"id": 900000}')::text, false)
       IS NOT NULL AS leftover_made
  FROM ocp_backup.invocation i WHERE id = :committed_id;
DO $$ BEGIN
  EXECUTE format('COPY (SELECT %L UNION ALL SELECT %L) TO %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
                 current_setting('test.leftover'), current_setting('test.leftover'),
                 current_setting('test.call_log_file'), E'\x01', E'\x02');
END $$;
\c
SELECT count(*) AS tasks FROM ocp_backup_now(26, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT journal_rows_eventually('id = 900000');

-- Privileges.  PUBLIC can run nothing and read nothing.
CREATE ROLE ocp_nobody LOGIN;
CREATE ROLE ocp_operator LOGIN;
CREATE ROLE ocp_reporter LOGIN;
SET ROLE ocp_nobody;
SELECT * FROM ocp_backup_now(27, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT * FROM ocp_backup_check();
SELECT count(*) FROM ocp_backup.invocation;
SELECT ocp_backup.purge_journal('1 day');
-- The PUBLIC mapping's password is visible only to the server's owner.
SELECT srvname, usename, umoptions FROM pg_user_mappings;
RESET ROLE;

-- A least-privilege operator: EXECUTE, USAGE on the server, and a mapping.
GRANT EXECUTE ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) TO ocp_operator;
GRANT USAGE ON FOREIGN SERVER ocp TO ocp_operator;
CREATE USER MAPPING FOR ocp_operator SERVER ocp OPTIONS (username 'admin', password 'admin');
-- A reporting role: reads the journal, nothing else.
GRANT USAGE ON SCHEMA ocp_backup TO ocp_reporter;
GRANT SELECT ON ocp_backup.invocation TO ocp_reporter;

SET ROLE ocp_operator;
SELECT invocation_id AS operator_id FROM ocp_backup_now(28, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage') \gset
-- Journaled, though the operator cannot touch the journal.
INSERT INTO ocp_backup.invocation (started_at, finished_at, invoked_by, server_name, cluster_id,
  backup_mode, data_mode, request, successful) VALUES (now(), now(), 'x', 'x', 1, 'x', 'x', '{}', true);
SELECT srvname, usename, umoptions IS NOT NULL AS sees_options FROM pg_user_mappings ORDER BY usename;
RESET ROLE;
SET ROLE ocp_reporter;
SELECT invoked_by, cluster_id, successful FROM ocp_backup.invocation WHERE id = :operator_id;
UPDATE ocp_backup.invocation SET successful = false WHERE id = :operator_id;
DELETE FROM ocp_backup.invocation WHERE id = :operator_id;
SELECT ocp_backup.purge_journal('0');
SELECT srvname, usename, umoptions FROM pg_user_mappings ORDER BY usename;
RESET ROLE;

-- A call log the writer cannot read, and a row the journal refuses, are
-- set aside (*.aside, with a WARNING in the server log): the other rows
-- and files are still written.  Planted here ahead of a rolled-back call's
-- own file (the writer takes files in name order).
SELECT current_setting('data_directory') || '/pg_ocp_backup/' || oid AS call_log_dir
  FROM pg_database WHERE datname = current_database() \gset
SELECT :'call_log_dir' || '/0-poisoned.jsonl' AS poisoned, :'call_log_dir' || '/1-unreadable.jsonl' AS unreadable,
       nextval('ocp_backup.invocation_id_seq') AS planted_id \gset
SELECT format('{"id": %s, "started_at": %s, "finished_at": %s, '
              '"invoked_by": "planted", "server_name": "ocp", "cluster_id": 77, "backup_mode": "PHYSICAL_BACKUP", '
              '"data_mode": "FULL_BACKUP", "request": {}, "successful": false, "task_ids": [], '
              '"outcome_unknown": false}', :planted_id, to_json(now()), to_json(now())) AS planted_row \gset
COPY (VALUES ('not a journal row'), (:'planted_row')) TO :'poisoned';
COPY (SELECT 'x') TO :'unreadable';
SELECT format('cat >/dev/null; chmod 000 %s', :'unreadable') AS make_unreadable,
       format('cat >/dev/null; rm -f %s/*.aside', :'call_log_dir') AS remove_aside \gset
COPY (SELECT 1) TO PROGRAM :'make_unreadable';
BEGIN;
SELECT successful FROM ocp_backup_now(34, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
ROLLBACK;
SELECT journal_rows_eventually('cluster_id = 34') AS rolled_back_call,
       journal_rows_eventually('id = ' || :planted_id) AS planted_row;
SELECT invoked_by, cluster_id FROM ocp_backup.invocation WHERE id = :planted_id;
-- (The writer removes a log a moment after its rows are visible.)
SELECT journal_writer_caught_up();
SELECT f AS call_log_files FROM pg_ls_dir(:'call_log_dir') f WHERE f <> 'writer.lock' ORDER BY 1;
SELECT pg_read_file(:'poisoned' || '.aside') AS set_aside;
COPY (SELECT 1) TO PROGRAM :'remove_aside';

-- A log whose rows are all in the journal already, replayed while WAL's
-- insert position is at the very start of a page: the writer writes nothing
-- and removes the log, rather than setting it aside (asking to flush WAL
-- up to that position once failed: it lies past the page's header, which
-- no WAL has reached).  Other WAL may come between the aligning and the
-- replay, so it is tried until the position held through a replay.
CREATE FUNCTION wal_at_page_start() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  page int := current_setting('wal_block_size')::int;
  room int;
BEGIN
  FOR i IN 1..20 LOOP
    room := page - ((pg_current_wal_insert_lsn() - '0/0'::pg_lsn) % page)::int;
    IF room = page - 24 THEN
      RETURN true;
    END IF;
    -- A non-transactional message with the prefix 'x' takes 55 bytes besides
    -- its content: the record's header 24, its data's 5, the message's 24,
    -- the prefix and its NUL 2.  Too little room: on to the next page.
    PERFORM pg_logical_emit_message(false, 'x', repeat('x', CASE WHEN room >= 400 THEN room - 55 ELSE 400 END));
  END LOOP;
  RETURN false;
END $$;
CREATE FUNCTION replay_at_page_start(call_log_dir text, journaled_row text,
                                     OUT held_through_replay boolean, OUT logs_left text[])
LANGUAGE plpgsql AS $$
DECLARE
  aligned pg_lsn;
BEGIN
  FOR attempt IN 1..10 LOOP
    IF wal_at_page_start() THEN
      aligned := pg_current_wal_insert_lsn();
      EXECUTE format('COPY (SELECT %L) TO %L', journaled_row, call_log_dir || '/2-journaled-' || attempt || '.jsonl');
      PERFORM ocp_backup_start_journal_writer();
      PERFORM journal_writer_caught_up();
      held_through_replay := pg_current_wal_insert_lsn() = aligned;
      EXIT WHEN held_through_replay;
    END IF;
  END LOOP;
  logs_left := ARRAY(SELECT f FROM pg_ls_dir(call_log_dir) f WHERE f LIKE '2-journaled-%' ORDER BY f);
END $$;
SELECT * FROM replay_at_page_start(:'call_log_dir', :'planted_row');
DROP FUNCTION replay_at_page_start(text, text), wal_at_page_start();

-- Every call's rows go through ocp_backup.record_invocation, the one
-- writer, once per call, whatever the owner added to the tables (here a
-- trigger, a foreign key, another owner, a missing right to INSERT,
-- another unique index, a column of a domain, a type modifier, then a
-- column with a default): the row is the same with and without a trigger,
-- a task OCP lists twice, or lists again, is kept once, and every call
-- has its row and its task.  The writer's calls are counted in the call's
-- transaction (its pending count may hold earlier transactions' until the
-- statistics are flushed, hence the difference).
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'path', 'backupNow', 'count', 2, 'body',
  '{"data": {"backupObjectOpsResultList": [{"beSuccessful": true, "obBackupObjectList": [{"backupDimension": "CLUSTER", "clusterId": 40}], "taskIdList": [4100, 4100]}], "obBackupTaskType": "DATA_BACKUP_NOW"}, "status": 200, "successful": true, "traceId": "00000000000040aa"}'::jsonb));
SET track_functions = 'all';
CREATE FUNCTION call_counting_sql_writes(cluster bigint, storage jsonb,
                                         OUT result_rows bigint, OUT sql_writer_calls bigint)
LANGUAGE plpgsql AS $$
DECLARE
    record_invocation regprocedure := 'ocp_backup.record_invocation(jsonb)';
    before bigint := coalesce(pg_stat_get_xact_function_calls(record_invocation), 0);
BEGIN
    SELECT count(*) INTO result_rows
      FROM ocp_backup_now(cluster, 'PHYSICAL_BACKUP', 'FULL_BACKUP', storage);
    sql_writer_calls := coalesce(pg_stat_get_xact_function_calls(record_invocation), 0) - before;
END
$$;
SELECT * FROM call_counting_sql_writes(40, :'storage');
SELECT max(id) AS first_id FROM ocp_backup.invocation WHERE cluster_id = 40 \gset
CREATE TABLE journal_seen (id bigint);
CREATE FUNCTION journal_seen_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.journal_seen VALUES (NEW.id);
    RETURN NEW;
END
$$;
CREATE TRIGGER journal_seen AFTER INSERT ON ocp_backup.invocation
    FOR EACH ROW EXECUTE FUNCTION journal_seen_row();
SELECT * FROM call_counting_sql_writes(40, :'storage');
DROP TRIGGER journal_seen ON ocp_backup.invocation;
-- A foreign key the owner adds from the task table to the journal is
-- checked.
ALTER TABLE ocp_backup.task ADD CONSTRAINT task_cluster_is_a_call
    FOREIGN KEY (cluster_id) REFERENCES ocp_backup.invocation (id) NOT VALID;
SELECT * FROM call_counting_sql_writes(:first_id, :'storage');
ALTER TABLE ocp_backup.task DROP CONSTRAINT task_cluster_is_a_call;
-- Whoever owns the tables, and whatever rights their owner has,
-- record_invocation writes them as the extension's owner.  Another unique
-- index, a column of a domain (whose default the row gets), or a type
-- modifier on a column the writer fills change nothing either.
-- (Task ids that no row of an earlier suite holds: the task table keeps
-- rows across suites, and an id found there is not inserted again.)
SELECT sim_config('{"task_id_base": 6100001}');
SELECT relowner::regrole AS journal_owner FROM pg_class
 WHERE oid = 'ocp_backup.invocation'::regclass \gset
CREATE ROLE ocp_keeper NOLOGIN;
-- (The task table's foreign key is checked as the journal's owner.)
GRANT USAGE ON SCHEMA ocp_backup TO ocp_keeper;
SELECT * FROM call_counting_sql_writes(43, :'storage');
ALTER TABLE ocp_backup.invocation OWNER TO ocp_keeper;
SELECT * FROM call_counting_sql_writes(44, :'storage');
ALTER TABLE ocp_backup.task OWNER TO ocp_keeper;
SELECT * FROM call_counting_sql_writes(45, :'storage');
REVOKE INSERT ON ocp_backup.task FROM ocp_keeper;
SELECT * FROM call_counting_sql_writes(46, :'storage');
GRANT INSERT ON ocp_backup.task TO ocp_keeper;
ALTER TABLE ocp_backup.invocation OWNER TO :journal_owner;
ALTER TABLE ocp_backup.task OWNER TO :journal_owner;
REVOKE USAGE ON SCHEMA ocp_backup FROM ocp_keeper;
DROP ROLE ocp_keeper;
SELECT i.cluster_id, count(t.task_id) AS tasks
  FROM ocp_backup.invocation i LEFT JOIN ocp_backup.task t ON t.invocation_id = i.id
 WHERE i.cluster_id BETWEEN 43 AND 46 GROUP BY i.cluster_id ORDER BY 1;
CREATE UNIQUE INDEX invocation_id_again ON ocp_backup.invocation (id);
SELECT * FROM call_counting_sql_writes(47, :'storage');
DROP INDEX ocp_backup.invocation_id_again;
CREATE DOMAIN task_note AS text DEFAULT 'the domain''s default' CHECK (VALUE IS NOT NULL);
ALTER TABLE ocp_backup.task ADD COLUMN note task_note;
SELECT * FROM call_counting_sql_writes(48, :'storage');
SELECT t.note FROM ocp_backup.task t JOIN ocp_backup.invocation i ON i.id = t.invocation_id
 WHERE i.cluster_id = 48;
ALTER TABLE ocp_backup.task DROP COLUMN note;
DROP DOMAIN task_note;
ALTER TABLE ocp_backup.invocation ALTER COLUMN reconciled_at TYPE timestamptz(0);
SELECT * FROM call_counting_sql_writes(49, :'storage');
ALTER TABLE ocp_backup.invocation ALTER COLUMN reconciled_at TYPE timestamptz;
SELECT * FROM call_counting_sql_writes(50, :'storage');
RESET track_functions;
DROP FUNCTION call_counting_sql_writes(bigint, jsonb);
SELECT max(id) AS second_id FROM ocp_backup.invocation WHERE cluster_id = 40 \gset
SELECT id = :second_id AS trigger_saw_the_second_call FROM journal_seen;
SELECT (to_jsonb(a) - '{id,started_at,finished_at}'::text[]) = (to_jsonb(b) - '{id,started_at,finished_at}'::text[])
         AS same_row,
       a.task_ids, b.response ->> 'traceId' AS trace_id
  FROM ocp_backup.invocation a, ocp_backup.invocation b
 WHERE a.id = :first_id AND b.id = :second_id;
SELECT task_id, invocation_id = :first_id AS of_the_first_call
  FROM ocp_backup.task WHERE server_name = 'ocp' AND task_id = 4100;
ALTER TABLE ocp_backup.task ADD COLUMN note text DEFAULT 'the default';
SELECT sim_fault(jsonb_build_object('kind', 'raw', 'path', 'backupNow', 'body',
  '{"data": {"backupObjectOpsResultList": [{"beSuccessful": true, "obBackupObjectList": [{"backupDimension": "CLUSTER", "clusterId": 41}], "taskIdList": [4101]}], "obBackupTaskType": "DATA_BACKUP_NOW"}, "status": 200, "successful": true, "traceId": "00000000000041aa"}'::jsonb));
SELECT task_id FROM ocp_backup_now(41, 'PHYSICAL_BACKUP', 'FULL_BACKUP', :'storage');
SELECT task_id, note FROM ocp_backup.task WHERE server_name = 'ocp' AND task_id = 4101;
ALTER TABLE ocp_backup.task DROP COLUMN note;
DROP TABLE journal_seen;
DROP FUNCTION journal_seen_row();

-- Purging old rows.
SELECT ocp_backup.purge_journal('-1 day');
SELECT ocp_backup.purge_journal(NULL);
SELECT ocp_backup.purge_journal('100 years');
UPDATE ocp_backup.invocation SET started_at = started_at - interval '40 days' WHERE id = :committed_id;
SELECT ocp_backup.purge_journal('30 days');
SELECT count(*) FROM ocp_backup.invocation WHERE id = :committed_id;

-- pg_dump keeps the journal (a configuration table of the extension).
\! pg_dump --data-only --table=ocp_backup.invocation contrib_regression | grep -c '^COPY ocp_backup.invocation'

DROP SERVER ocp CASCADE;
REVOKE ALL ON FUNCTION ocp_backup_now(bigint, text, text, jsonb, text, bigint) FROM ocp_operator;
REVOKE ALL ON SCHEMA ocp_backup FROM ocp_reporter;
REVOKE ALL ON ocp_backup.invocation FROM ocp_reporter;
DROP ROLE ocp_nobody;
DROP ROLE ocp_operator;
DROP ROLE ocp_reporter;
