--
-- cron_recipes: the README's pg_cron recipes, as pasted, under pg_cron
-- (test/regress.conf preloads it as the README's setup says, with
-- cron.database_name 'postgres'), against the simulator: a night in which
-- the fleet's backups do not start is a failed run, and the README's report
-- links each run to its own calls.  pg_cron 1.4 schedules by the minute:
-- this suite waits for one tick (up to a minute).
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
SELECT sim_reset();
SELECT sim_config('{"task_seconds": 3600}');
-- OCP's inventory: the fleet the README's fleet recipe backs up.
SELECT sim_fleet('{"clusters": [{"id": 301, "name": "night-a"}, {"id": 302, "name": "night-b"}, {"id": 303, "name": "night-c"}]}') ->> 'clusters' AS clusters;

-- The README's recipes run in the database cron.database_name names.
\c postgres
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all
-- The SQL of README.md, then docs/*.md, statement by statement (comments dropped).
\set readme `cat README.md docs/*.md`
CREATE TEMP TABLE readme_sql AS
SELECT b.ord AS block, s.ord AS n,
       btrim(regexp_replace(s.stmt, '^[ \t]*--[^\n]*(\n|$)', '', 'gn'), E' \t\n') AS stmt
  FROM regexp_matches(:'readme', '```sql\n(.*?)```', 'g') WITH ORDINALITY b(m, ord),
       regexp_split_to_table(b.m[1], ';[ \t]*(\n|$)') WITH ORDINALITY s(stmt, ord);
DELETE FROM readme_sql WHERE stmt = '';
-- Runs the statements a query selects, in the README's order; returns how many.
CREATE FUNCTION run_readme(selected text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ran integer := 0;
BEGIN
  FOR r IN EXECUTE 'SELECT stmt FROM readme_sql WHERE ' || selected || ' ORDER BY block, n' LOOP
    EXECUTE r.stmt;
    ran := ran + 1;
  END LOOP;
  RETURN ran;
END $$;

-- Two servers: the recipes name theirs, so a second one breaks nothing.
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE SERVER ocp_east FOREIGN DATA WRAPPER ocp_backup OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
CREATE USER MAPPING FOR PUBLIC SERVER ocp_east OPTIONS (username 'admin', password 'admin');
SELECT server_name, clusters FROM public.ocp_backup_sync('ocp'::text);
-- The reporting role of "Least privilege", then the setup of "With pg_cron".
SELECT run_readme($$stmt ~ '^(CREATE ROLE ocp_reporter|GRANT .* TO ocp_reporter$)' AND stmt !~ 'cron'$$) AS reporter_statements;
SET client_min_messages = warning;
SELECT run_readme($$block = (SELECT block FROM readme_sql WHERE stmt = 'CREATE EXTENSION pg_cron')$$) AS setup_statements;
RESET client_min_messages;
-- The reporter's grant on the runs' view, in "Least privilege".
SELECT run_readme($$stmt ~ '^GRANT .* ON public.ocp_backup_cron_runs TO ocp_reporter$'$$) AS reporter_cron_statements;

-- Tonight OCP fails every backup of the fleet (500), and serves cluster 8.
SELECT sim_fault(jsonb_build_object('kind', 'envelope', 'path', '/clusters/' || id || '/backup/backupNow'))
  FROM unnest(ARRAY[301, 302, 303]) id;
-- Each answer 1 s late, as OCP's are late: pg_cron notes a run's pid
-- (job_pid, which the reports join on) once it sees the run's worker
-- started, and a run that has ended by then gets none.
SELECT sim_config('{"answer_delay_ms": 1000}');
-- Every job of the README, scheduled as pasted, then moved to the next
-- minute (one transaction: every job runs from the same tick).
BEGIN;
CREATE TEMP TABLE night_jobs (jobid bigint);
DO $$
DECLARE
  r record;
  job bigint;
BEGIN
  FOR r IN SELECT stmt FROM readme_sql WHERE stmt ~ '^SELECT cron\.schedule\(' ORDER BY block, n LOOP
    EXECUTE r.stmt INTO job;
    INSERT INTO night_jobs VALUES (job);
    PERFORM cron.alter_job(job, schedule => '* * * * *');
  END LOOP;
END $$;
COMMIT;
SELECT jobname, schedule, database, username FROM cron.job ORDER BY jobname;

-- Until each job's first run has ended.
SELECT wait_for($$NOT EXISTS (SELECT FROM cron.job j
                               WHERE NOT EXISTS (SELECT FROM cron.job_run_details d
                                                  WHERE d.jobid = j.jobid AND d.status IN ('succeeded', 'failed')))$$)
       AS each_job_ran;
SELECT sim_config('{"answer_delay_ms": 0}');
-- The failing night is a failed run, and says which clusters and why.
SELECT j.jobname, d.status,
       regexp_replace(d.return_message, 'trace id [0-9a-f]+', 'trace id T', 'g') AS return_message
  FROM cron.job j JOIN cron.job_run_details d USING (jobid)
 WHERE d.runid = (SELECT min(runid) FROM cron.job_run_details WHERE jobid = j.jobid)
 ORDER BY j.jobname;
-- Every call is journaled, the failed night's too (after its rollback).
-- (The first of each: a job may have run at two ticks.)
SELECT journal_writer_caught_up();
SELECT DISTINCT ON (cluster_id) cluster_id, successful, http_status, application_name,
       backend_pid IS NOT NULL AS has_pid
  FROM ocp_backup.invocation ORDER BY cluster_id, id;

-- The README's reports, as the reporting role: each run with its own calls.
-- (The first run of each job; the columns that do not vary.)
DO $$
DECLARE
  r record;
  k integer := 0;
BEGIN
  FOR r IN SELECT stmt FROM readme_sql WHERE stmt ~ 'FROM public\.ocp_backup_cron_runs r\s+LEFT JOIN ocp_backup\.invocation'
            ORDER BY block, n LOOP
    k := k + 1;
    SET LOCAL ROLE ocp_reporter;
    EXECUTE format('CREATE TEMP TABLE report_%s AS %s', k, r.stmt);
    RESET ROLE;
  END LOOP;
  RAISE NOTICE '% reports', k;
END $$;
CREATE TEMP VIEW first_runs AS
SELECT d.jobid, d.start_time FROM cron.job_run_details d
 WHERE d.runid = (SELECT min(e.runid) FROM cron.job_run_details e WHERE e.jobid = d.jobid);
SELECT jobname, cron_status, cluster_id, successful, task_id IS NOT NULL AS has_task,
       regexp_replace(problem, 'trace id [0-9a-f]+', 'trace id T', 'g') AS problem
  FROM report_1 WHERE start_time IN (SELECT start_time FROM first_runs) ORDER BY jobname, cluster_id;
SELECT jobname, cron_status, cluster_id, successful
  FROM report_2 WHERE start_time IN (SELECT start_time FROM first_runs) ORDER BY jobname, cluster_id;
SELECT count(*) AS unscheduled FROM cron.job, LATERAL cron.unschedule(jobid) u WHERE u;

DROP VIEW first_runs;
DROP TABLE report_1, report_2, night_jobs, readme_sql;
DROP VIEW public.ocp_backup_cron_runs;
DROP EXTENSION pg_cron;
DROP SERVER ocp, ocp_east CASCADE;
DROP OWNED BY ocp_reporter;
DROP ROLE ocp_reporter;
DROP FUNCTION run_readme(text);
SET client_min_messages = warning;
DROP EXTENSION ocp_backup CASCADE;
DROP FUNCTION sim_shell_quote(text), sim_call(text, text, text), sim_reset(), sim_config(jsonb),
  sim_fault(jsonb), sim_post_task_status(bigint, text), sim_fleet(jsonb), sim_requests(), sim_wire(),
  journal(int), journal_rows_eventually(text), journal_writer_caught_up(), try(text);
DROP TABLE sim;
RESET client_min_messages;
