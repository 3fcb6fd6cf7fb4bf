--
-- install: the extension's objects as a user meets them.
--
\set ECHO none
\i test/sql/include/common.sql
\set ECHO all

-- Callable unqualified with the default search_path.
SHOW search_path;
SELECT p.oid::regprocedure AS function
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
 ORDER BY p.oid::regprocedure::text;

-- Every object a user touches carries a comment.
SELECT pg_describe_object(d.classid, d.objid, 0) AS object_without_comment
  FROM pg_depend d
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
   AND d.deptype = 'e'
   AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) IS NULL
   AND pg_describe_object(d.classid, d.objid, 0) NOT LIKE 'sequence %'
   AND pg_describe_object(d.classid, d.objid, 0) NOT LIKE 'index %'
   -- Since PostgreSQL 17 the row and array types that come with a table,
   -- view or type are members too; they carry no comment of their own.
   AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typcategory = 'A' OR c.relkind <> 'c'));
SELECT a.attname AS journal_column_without_comment
  FROM pg_attribute a
 WHERE a.attrelid = 'ocp_backup.invocation'::regclass AND a.attnum > 0
   AND col_description(a.attrelid, a.attnum) IS NULL;

