-- test/sql/include/wait_for.sql: the one wait of the suites, included by
-- common.sql, and alone where a suite waits in a database of its own (the
-- pg_cron database of test/sql/cron.sql).
-- Waits until the boolean SQL expression condition holds, read afresh (with
-- new statistics) every 50 ms; returns whether it did (a WARNING says when
-- it did not).  Every wait of the
-- suites goes through here.  The bound, 5 minutes, only ends a broken test:
-- a slow machine meets a condition later, never differently.
CREATE OR REPLACE FUNCTION wait_for(condition text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  held boolean;
  deadline timestamptz := clock_timestamp() + interval '5 minutes';
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();
    EXECUTE 'SELECT ' || condition INTO held;
    IF held THEN
      RETURN true;
    END IF;
    IF clock_timestamp() > deadline THEN
      -- Seen in the suite's diff even where the result is not.
      RAISE WARNING 'wait_for gave up after 5 minutes: %', condition;
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
