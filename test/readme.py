#!/usr/bin/env python3
"""readme.py - the SQL of README.md and docs/*.md runs as pasted, in order.

A fresh PostgreSQL is set up as the README's pg_cron section says
(shared_preload_libraries, cron.database_name 'ocp', background workers),
the database 'ocp' is made, and every ```sql block is run in order, each
statement in a transaction of its own as psql would, by a superuser.  The
only changes to the text are the example endpoint and credentials, which
become the simulator's (the EXAMPLE table below).  A statement that fails
fails the test.

Markers, an HTML comment on the line before a block:
  <!-- not run: REASON -->   the block is an alternative to one that runs, or
                              needs what a test cannot have (a real OCP);
  <!-- fails: SQLSTATE -->    each statement of the block shows an error the
                              text describes, and must fail with that SQLSTATE;
  <!-- check: SQL -->         after a block (on the line after its closing
                              fence): SQL must return true, holding the
                              README's text next to the block to what ran.

Needs OCP_SIM_URL (a plain-http test/ocp_sim.py accepting Basic admin:admin),
OCP_SIM_ACCESS_KEY_ID/SECRET, pg_config on PATH, and postgresql-15-cron.
Prints PASS/FAIL lines; exits non-zero if anything failed.  Python standard
library only.
"""

import glob
import os
import re
import sys

from crashes import Cluster
from harness import SimulatorControl, failures, info, report

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATABASE = "ocp"
# What the README writes for what a reader has, and what the test has.
EXAMPLE = [
    (re.compile(r"http://10\.0\.0\.5:8080"), lambda env: env["url"]),
    (re.compile(r"password '\.\.\.'"), lambda env: "password 'admin'"),
    (re.compile(r"access_key_id 'AK\.\.\.'"), lambda env: "access_key_id '%s'" % env["ak"]),
    (re.compile(r"access_key_secret '\.\.\.'"), lambda env: "access_key_secret '%s'" % env["sk"]),
]


class ReadmeCluster(Cluster):
    """A throwaway PostgreSQL configured as the README's pg_cron section says."""

    def start(self):
        self.pg_ctl("-w", "-o", "-c shared_preload_libraries='ocp_backup,pg_cron' "
                    "-c cron.database_name=%s -c cron.use_background_workers=on" % DATABASE,
                    "start")

    def run(self, statement):
        """Runs one statement as psql does; returns psql's stderr, empty if it worked."""
        _out, err = self.psql("\\set ON_ERROR_STOP 1\n\\set VERBOSITY verbose\n%s;\n"
                              % statement, DATABASE)
        return "\n".join(line for line in err.splitlines()
                         if re.search(r"\b(ERROR|FATAL|PANIC):", line))


def documents():
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def blocks(path):
    """Each ```sql block: its first line, text, and what its markers say."""
    found, current, marks, last = [], None, {}, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if current is None:
            marker = re.match(r"<!--\s*(not run|fails|check):\s*(.*?)\s*-->$", stripped)
            if marker and marker.group(1) == "check" and last is not None:
                last["checks"].append(marker.group(2))
            elif marker:
                marks[marker.group(1)] = marker.group(2)
            elif stripped.startswith("```sql"):
                current = []
                last = {"line": number + 1, "skip": marks.get("not run"),
                        "fails": marks.get("fails"), "checks": []}
            elif stripped:
                last = None
        elif stripped.startswith("```"):
            last["text"] = "\n".join(current)
            found.append(last)
            current, marks = None, {}
        else:
            current.append(line)
    return found


def statements(text):
    """The statements of a block, split at ';' outside quotes and comments."""
    result, current, i = [], [], 0
    while i < len(text):
        dollar = re.match(r"\$[A-Za-z_]*\$", text[i:])
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif dollar:
            end = text.find(dollar.group(0), i + len(dollar.group(0)))
            end = len(text) if end < 0 else end + len(dollar.group(0))
            current.append(text[i:end])
            i = end
        elif text[i] == "'":
            end = i + 1
            while end < len(text) and (text[end] != "'" or text.startswith("''", end)):
                end += 2 if text.startswith("''", end) else 1
            current.append(text[i:end + 1])
            i = end + 1
        elif text[i] == ";":
            result.append("".join(current).strip())
            current = []
            i += 1
        else:
            current.append(text[i])
            i += 1
    result.append("".join(current).strip())
    return [s for s in result if s]


def main():
    env = {"url": os.environ.get("OCP_SIM_URL", ""), "ak": os.environ.get("OCP_SIM_ACCESS_KEY_ID", ""),
           "sk": os.environ.get("OCP_SIM_ACCESS_KEY_SECRET", "")}
    if not env["url"]:
        print("FAIL readme: needs OCP_SIM_URL")
        return 1
    sim = SimulatorControl(env["url"])
    sim.control("POST", "reset", {})
    # OCP's inventory: the clusters the README's examples name.
    sim.control("POST", "fleet", {"clusters": [
        {"id": 8, "name": "east-8", "tenants": [{"id": 1001, "name": "sys"}, {"id": 1002, "name": "users"}]},
        {"id": 9, "name": "east-9"}, {"id": 10, "name": "east-10"}]})
    cluster = ReadmeCluster(env["url"])
    try:
        cluster.psql("CREATE DATABASE %s;\n" % DATABASE, "postgres")
        ran = skipped = checked = 0
        for path in documents():
            name = os.path.relpath(path, ROOT)
            for block in blocks(path):
                where = "readme %s:%d" % (name, block["line"])
                if block["skip"]:
                    skipped += 1
                    info("  %s not run: %s" % (where, block["skip"]))
                    continue
                text = block["text"]
                for pattern, value in EXAMPLE:
                    text = pattern.sub(value(env), text)
                for statement in statements(text):
                    error = cluster.run(statement)
                    ran += 1
                    first = statement.splitlines()[0][:80]
                    if block["fails"]:
                        report(re.search(r"ERROR:\s+%s:" % re.escape(block["fails"]), error),
                               where, "fails with %s as the text says: %s" % (block["fails"], error or
                                                                            "no error in: " + first))
                    else:
                        report(not error, where, "ran: %s" % first if not error
                               else "%s\n    in: %s" % (error, statement[:300]))
                for check in block["checks"]:
                    out, err = cluster.psql("SELECT (%s)::boolean;\n" % check, DATABASE)
                    checked += 1
                    report(out.strip() == "t", where + " check",
                           "%s: %s" % (check, out.strip() or err.strip()))
        report(ran >= 50 and checked >= 5, "readme_coverage",
               "%d statements run, %d checks held, %d blocks marked not run" % (ran, checked, skipped))
    finally:
        cluster.psql("SELECT cron.unschedule(jobid) FROM cron.job;\n", DATABASE)
        cluster.destroy()
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
