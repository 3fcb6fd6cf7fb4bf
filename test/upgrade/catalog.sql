-- Describes every object of the extension, one line each, so that two
-- databases can be compared with diff: an updated one and a fresh install.
-- Grants (a NULL ACL read as its default) are included, but for those to
-- the test's own roles, upgrade_operator and upgrade_second, checked apart; so are the initial
-- privileges pg_dump compares grants with (pg_init_privs).
\pset tuples_only on
\pset format unaligned
WITH members AS (
  SELECT d.classid, d.objid
    FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
), described AS (
  SELECT pg_describe_object(m.classid, m.objid, 0) AS object,
         CASE m.classid
           WHEN 'pg_proc'::regclass THEN
             (SELECT pg_get_functiondef(p.oid) || ' acl=' ||
                     coalesce(array_to_string(ARRAY(SELECT a::text FROM unnest(coalesce(p.proacl, acldefault('f', p.proowner))) a
                                                     WHERE a::text !~ '^upgrade_(operator|second)='
                                                     ORDER BY 1), ','), 'default')
                     || ' init=' || coalesce((SELECT ip.initprivs::text FROM pg_init_privs ip
                                               WHERE ip.objoid = p.oid AND ip.classoid = 'pg_proc'::regclass), 'none')
                     -- PostgreSQL 17's shared dependencies of initial privileges.
                     || ' initdeps=' || coalesce((SELECT string_agg(pg_get_userbyid(d.refobjid), ',' ORDER BY 1)
                                                   FROM pg_shdepend d
                                                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                    AND d.deptype = 'i'
                                                    AND d.dbid = (SELECT oid FROM pg_database
                                                                   WHERE datname = current_database())), 'none')
                FROM pg_proc p WHERE p.oid = m.objid)
           WHEN 'pg_class'::regclass THEN
             (SELECT c.relkind::text || ' ' ||
                     coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                 || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                                 || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                                                 || coalesce(' -- ' || col_description(c.oid, a.attnum), ''),
                                                 ', ' ORDER BY a.attnum)
                                 FROM pg_attribute a
                                 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                     || coalesce(' index ' || pg_get_indexdef(c.oid), '')
                     || coalesce(' view ' || pg_get_viewdef(c.oid), '')
                     || ' acl=' || coalesce(array_to_string(ARRAY(SELECT a::text FROM unnest(coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
                                                                   WHERE a::text !~ '^upgrade_(operator|second)='
                                                                   ORDER BY 1), ','), 'default')
                     || ' init=' || coalesce((SELECT ip.initprivs::text FROM pg_init_privs ip
                                               WHERE ip.objoid = c.oid AND ip.classoid = 'pg_class'::regclass
                                                 AND ip.objsubid = 0), 'none')
                FROM pg_class c WHERE c.oid = m.objid)
           WHEN 'pg_event_trigger'::regclass THEN
             (SELECT e.evtevent || ' ' || coalesce(e.evttags::text, 'all') || ' '
                     || e.evtfoid::regprocedure::text || ' ' || e.evtenabled::text
                FROM pg_event_trigger e WHERE e.oid = m.objid)
           ELSE ''
         END AS definition,
         obj_description(m.objid, (SELECT relname FROM pg_class WHERE oid = m.classid)) AS comment
    FROM members m
)
SELECT object || E'\t' || coalesce(definition, '') || E'\t' || coalesce(comment, '')
  FROM described ORDER BY object;
-- Indexes are no extension members: list those of the extension's tables.
SELECT pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relnamespace = 'ocp_backup'::regnamespace
 ORDER BY 1;
SELECT extversion FROM pg_extension WHERE extname = 'ocp_backup';
