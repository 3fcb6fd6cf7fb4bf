#!/usr/bin/env python3
"""recipes.py - no role can hijack the README's recipes through an overload.

An operator given CREATE on public (the worst case: PostgreSQL 15 and later
give it to the database's owner alone) plants, for every function of the
extension in public, overloads with each number of arguments its defaults
allow, the real parameter names, and integer or text where the real one
takes bigint, jsonb or interval: the types untyped literals match best.
Each makes the operator superuser and leaves a trace when a superuser runs
it.  Then a superuser runs every statement of README.md and docs/*.md that
calls an extension function (the commands of its pg_cron jobs included): the
operator must not be superuser afterwards, no planted function may have run,
and no recipe may fail as ambiguous or unknown.  A control call in the old,
unqualified and untyped form, rolled back, shows that the planted functions
do win where a recipe does not guard against them.

Needs PGHOST/PGPORT/PGUSER of a superuser on a throwaway PostgreSQL with the
extension installed, and OCP_SIM_URL, a plain-http test/ocp_sim.py that
accepts Basic admin:admin.  Prints PASS/FAIL lines; exits non-zero if
anything failed.  Python standard library only.
"""

import glob
import os
import re
import subprocess
import sys

from harness import SimulatorControl, failures, info, report

DATABASE = "recipes_check"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def documents():
    """README.md, then docs/*.md in name order (as test/readme.py runs them)."""
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
OPERATOR = "ocp_operator"

# The type an untyped literal matches better than the real parameter's.
LOOSER = {"bigint": "integer", "jsonb": "text", "interval": "text", "bigint[]": "integer[]"}


def psql(script, database=DATABASE, role=None):
    """Runs script; returns (exit status, stdout, stderr)."""
    if role:
        script = "SET ROLE %s;\n%s" % (role, script)
    done = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", database],
                          input=script, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def psql_ok(script, database=DATABASE, role=None):
    status, out, err = psql(script, database, role)
    if status != 0:
        raise RuntimeError("psql failed: %s" % err.strip())
    return out


def sql_blocks(path):
    """The ```sql blocks of a Markdown file, as (first line number, text)."""
    blocks, current, start = [], None, 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if current is None and line.startswith("```sql"):
                current, start = [], number + 1
            elif current is not None and line.startswith("```"):
                blocks.append((start, "".join(current)))
                current = None
            elif current is not None:
                current.append(line)
    return blocks


def statements(text):
    """The statements of a block: split at ';' outside quotes, dollar quotes
    and comments, with comments removed."""
    result, current, i = [], [], 0
    while i < len(text):
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if text.startswith("$$", i):
            end = text.find("$$", i + 2)
            end = len(text) if end < 0 else end + 2
            current.append(text[i:end])
            i = end
            continue
        if text[i] == "'":
            end = i + 1
            while end < len(text):
                if text[end] == "'" and text.startswith("''", end):
                    end += 2
                elif text[end] == "'":
                    break
                else:
                    end += 1
            current.append(text[i:end + 1])
            i = end + 1
            continue
        if text[i] == ";":
            result.append("".join(current).strip())
            current = []
        else:
            current.append(text[i])
        i += 1
    if "".join(current).strip():
        result.append("".join(current).strip())
    return [s for s in result if s]


def cron_command(statement):
    """The command of a cron.schedule(...) statement: its last string argument."""
    quoted = re.findall(r"\$\$(.*?)\$\$|'((?:[^']|'')*)'", statement, re.S)
    if not quoted:
        return None
    dollar, plain = quoted[-1]
    return dollar if dollar else plain.replace("''", "'")


def recipes(names):
    """("file:line", statement) for each statement of README.md and docs/*.md
    that calls a function of names, with each pg_cron job's command in place
    of its schedule call."""
    call = re.compile(r"\b(%s)\s*\(" % "|".join(map(re.escape, names)))
    found = []
    for path, line, block in [(p, line, block) for p in documents() for line, block in sql_blocks(p)]:
        line = "%s:%d" % (os.path.relpath(path, ROOT), line)
        for statement in statements(block):
            if re.match(r"(?is)\s*(GRANT|REVOKE|CREATE|ALTER|COMMENT|DROP)\b", statement):
                continue
            if re.search(r"\bcron\.schedule\s*\(", statement):
                statement = cron_command(statement) or ""
            if call.search(statement):
                found.append((line, statement))
    return found


def unqualified_calls(statement, names):
    """Calls of the extension's functions without a schema."""
    return re.findall(r"(?<![\w.])(%s)\s*\(" % "|".join(map(re.escape, names)), statement)


def extension_functions():
    """(oid, name, argument names, argument types, number of defaults, result)
    of each function and procedure the extension has in public (a
    procedure's result is empty)."""
    rows = psql_ok("""
SELECT p.oid, p.proname,
       coalesce(array_to_string(p.proargnames[1:p.pronargs], ','), ''),
       coalesce((SELECT string_agg(format_type(t, NULL), ',' ORDER BY n)
                   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, n)), ''),
       p.pronargs, p.pronargdefaults, coalesce(pg_get_function_result(p.oid), ''), p.proretset
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ocp_backup')
   AND p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')
 ORDER BY p.proname, p.oid""")
    functions = []
    for row in rows.splitlines():
        oid, name, argnames, argtypes, nargs, ndefaults, result, retset = row.split("|")
        functions.append((oid, name, argnames.split(",") if argnames else [],
                          argtypes.split(",") if argtypes else [], int(nargs), int(ndefaults),
                          result, retset == "t"))
    return functions


def plant(functions):
    """Creates the planted overloads as the operator; returns how many."""
    planted = 0
    for _oid, name, argnames, argtypes, nargs, ndefaults, result, retset in functions:
        for count in range(nargs - ndefaults, nargs + 1):
            for loose in (LOOSER, {}):
                types = [loose.get(t, t) if loose else ("text" if not t.endswith("[]") else "text[]")
                         for t in argtypes[:count]]
                if types == argtypes[:count] and count == nargs:
                    continue
                params = ", ".join("%s %s" % (argnames[i] or "a%d" % i, types[i]) for i in range(count))
                signature = "%s(%s)" % (name, ", ".join(types))
                # A procedure has no result.
                kind = "FUNCTION public.%s(%s) RETURNS %s" % (name, params, result) if result \
                    else "PROCEDURE public.%s(%s)" % (name, params)
                body = "RETURN;" if retset or not result else "RETURN NULL;"
                status, _out, _err = psql("""
CREATE %s LANGUAGE plpgsql AS $planted$
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        INSERT INTO public.planted_trace (fn) VALUES (%s);
        EXECUTE 'ALTER ROLE %s SUPERUSER';
    END IF;
    %s
END
$planted$;""" % (kind, "'" + signature + "'", OPERATOR, body), role=OPERATOR)
                # A signature the extension has already cannot be planted.
                if status == 0:
                    planted += 1
    return planted


def setup(sim_url):
    psql_ok("DROP DATABASE IF EXISTS %s; DROP ROLE IF EXISTS %s;" % (DATABASE, OPERATOR), "postgres")
    psql_ok("CREATE DATABASE %s; CREATE ROLE %s LOGIN;" % (DATABASE, OPERATOR), "postgres")
    psql_ok("""
SET client_min_messages = error;
CREATE EXTENSION ocp_backup;
RESET client_min_messages;
CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url '{url}');
CREATE SERVER ocp_east FOREIGN DATA WRAPPER ocp_backup OPTIONS (url '{url}');
CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');
CREATE USER MAPPING FOR PUBLIC SERVER ocp_east OPTIONS (username 'admin', password 'admin');
-- The fleet the array recipes back up.
SELECT count(*) FROM public.ocp_backup_sync('ocp'::text);
GRANT CREATE ON SCHEMA public TO {op};
GRANT USAGE ON SCHEMA ocp_backup TO {op};
CREATE TABLE public.planted_trace (fn text NOT NULL, at timestamptz NOT NULL DEFAULT now());
ALTER TABLE public.planted_trace OWNER TO {op};
GRANT INSERT ON public.planted_trace TO PUBLIC;
""".format(url=sim_url, op=OPERATOR))


def is_superuser():
    return psql_ok("SELECT rolsuper FROM pg_roles WHERE rolname = '%s'" % OPERATOR).strip() == "t"


def main():
    sim_url = os.environ.get("OCP_SIM_URL")
    if not sim_url or not os.environ.get("PGHOST"):
        print("FAIL recipes: needs OCP_SIM_URL and PGHOST/PGPORT/PGUSER")
        return 1
    sim = SimulatorControl(sim_url)
    sim.control("POST", "reset", {})
    setup(sim_url)
    functions = extension_functions()
    names = sorted({f[1] for f in functions})
    found = recipes(names)
    report(len(found) >= 20, "recipes_found",
           "%d statements of README.md and docs/*.md call %d extension functions" % (len(found), len(names)))
    unqualified = ["%s: %s" % (line, ", ".join(calls)) for line, statement in found
                   for calls in [unqualified_calls(statement, names)] if calls]
    report(not unqualified, "recipes_qualified",
           "every call names its schema" if not unqualified
           else "unqualified calls at " + "; ".join(unqualified))

    planted = plant(functions)
    info("  planted %d overloads of %d functions in public" % (planted, len(names)))

    # The control: the old form is what a planted overload wins (rolled back).
    _status, out, _err = psql("""
BEGIN;
SELECT count(*) FROM ocp_backup_now(8, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '{"configName": "c"}');
SELECT count(*) FROM public.planted_trace;
ROLLBACK;""")
    report(out.strip().endswith("1"), "recipes_control",
           "an unqualified, untyped call runs the planted overload (rolled back): %s"
           % (out.strip().replace("\n", " ") or _err.strip()))

    bad = []
    for line, statement in found:
        sim.control("POST", "reset", {})
        status, _out, err = psql("SET statement_timeout = '60s';\n%s;" % statement)
        error = err.strip().splitlines()[0] if status != 0 and err.strip() else ""
        info("  recipe %s: %s" % (line, "ok" if status == 0 else error))
        if re.search(r"is not unique|does not exist|syntax error", error) and "ERROR:  function" in error \
                or "syntax error" in error:
            bad.append("%s: %s" % (line, error))
    report(not bad, "recipes_resolve",
           "no recipe failed as ambiguous, unknown or malformed" if not bad else "; ".join(bad))
    superuser = is_superuser()
    trace = psql_ok("SELECT coalesce(string_agg(fn, ', '), '') FROM public.planted_trace").strip()
    report(not superuser and not trace, "recipes_no_escalation",
           "%s is not superuser and no planted function ran" % OPERATOR if not superuser and not trace
           else "rolsuper = %s, planted functions run: %s" % (superuser, trace or "none"))
    psql("DROP DATABASE %s; DROP ROLE %s;" % (DATABASE, OPERATOR), "postgres")
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
