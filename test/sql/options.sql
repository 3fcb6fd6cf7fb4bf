--
-- options: the options are declared once, in the validator's table.  The
-- wrapper's comment names none of them, so that it cannot go stale as 1.0's
-- and 1.1's lists did (1.1's lacked max_parallel): the options checked here
-- are those the validator's own hint lists, whatever they become.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all

-- The valid options of an object of a catalog, as the validator's hint
-- lists them for an option it does not know.
CREATE FUNCTION valid_options(statement text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  EXECUTE statement;
  RAISE EXCEPTION 'the validator took an unknown option: %', statement;
EXCEPTION WHEN fdw_invalid_option_name THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN QUERY
    SELECT unnest(string_to_array(
             substring(hint FROM '^Valid options for an ocp_backup [a-z ]+ are: (.*)\.$'), ', '));
END $$;

CREATE SERVER options_probe FOREIGN DATA WRAPPER ocp_backup
  OPTIONS (url 'http://127.0.0.1:1');
CREATE TEMP TABLE listed AS
  SELECT 'server' AS context, name
    FROM valid_options($$ALTER SERVER options_probe OPTIONS (ADD no_such_option 'x')$$) name
  UNION ALL
  SELECT 'user mapping', name
    FROM valid_options($$CREATE USER MAPPING FOR CURRENT_USER SERVER options_probe
                          OPTIONS (no_such_option 'x')$$) name;
DROP SERVER options_probe;

-- Every option, as the validator lists them (the derivation works).
SELECT context, count(*), string_agg(name, ', ') AS options FROM listed GROUP BY context ORDER BY context;

-- The wrapper's comment names none of them, as a word (no rows), and it exists.
SELECT name FROM listed
 WHERE obj_description((SELECT oid FROM pg_foreign_data_wrapper WHERE fdwname = 'ocp_backup'),
                       'pg_foreign_data_wrapper') ~ ('\m' || name || '\M');
SELECT obj_description(oid, 'pg_foreign_data_wrapper') IS NOT NULL AS commented
  FROM pg_foreign_data_wrapper WHERE fdwname = 'ocp_backup';
