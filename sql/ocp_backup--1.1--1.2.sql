-- ocp_backup 1.1 -> 1.2: ALTER EXTENSION ocp_backup UPDATE.  A fresh 1.2 is
-- 1.0's install script followed by this chain, so everything 1.2 adds or
-- changes is written here once.

\echo Use "ALTER EXTENSION ocp_backup UPDATE" to load this file. \quit

-- Calls that name the extension's functions without their schema and with
-- untyped arguments resolve among every schema of the caller's search_path,
-- so a role that may create where the functions live can plant a better
-- matching overload.  The README's recipes qualify and type their calls;
-- this warns when the extension's schema lets another role create.
DO $$
DECLARE
    creators text;
BEGIN
    SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                                 ', ' ORDER BY a.grantee)
      INTO creators
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
     WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF creators IS NOT NULL THEN
        RAISE WARNING 'roles other than its owner may create objects in schema %, which holds ocp_backup''s functions',
                      '@extschema@'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('CREATE on the schema is granted to %s.', creators),
                  HINT = 'Revoke CREATE on the schema from them, or call the functions schema-qualified with typed arguments as the README''s recipes do; see its "Least privilege" section.';
    END IF;
END
$$;
