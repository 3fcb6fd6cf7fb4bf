#!/usr/bin/env python3
"""crashes.py - the journal loses nothing, whatever stops a call.

Every request that may have left must have exactly one journal row, counted
here against what the simulator received (each scenario backs up a cluster
id of its own), after:

  kill_waiting     kill -9 of the calling backend while OCP hangs
  kill_many        the same for the array form, four answers in and two requests out
  kill_open_xact   kill -9 after the call returned, its transaction open:
                   the row is complete (successful, with its task), and the
                   id the caller got is never handed out again
  kill_other       kill -9 of an unrelated backend with 3 calls in flight
  immediate_stop   pg_ctl stop -m immediate with 3 calls in flight
  postmaster_death a call waiting on OCP shows its wait event, and its
                   backend ends within 2 s of the postmaster's kill -9
  async_commit     synchronous_commit = off, the backend killed right after
                   its call committed (wal_writer_delay is 10 s here, so the
                   commit is not on disk unless ocp_backup flushed it)
  first_use        without shared_preload_libraries: rows left by a crash
                   appear at the first use of an ocp_backup function, and
                   a backend terminated inside its transaction starts the
                   writer itself
  burst            8 sessions x 100 rolled-back calls: no WARNING to any
                   client, at most one journal writer at a time, every row
                   written within BURST_PATIENCE_S
  locked_journal   a rolled-back call's row waits while the journal is
                   locked, and is written once the lock goes, with no call
  prepared         a prepared transaction's call: one row after ROLLBACK
                   PREPARED, one after COMMIT PREPARED, no call needed
  prepared_slot    a prepared transaction's call does not keep a journal
                   writer (a worker slot): once a writer has been past its
                   log (a later log's row is in), no writer runs while it
                   stays prepared; its row is written (or found committed)
                   after ROLLBACK (COMMIT) PREPARED, and its log removed
  prepared_no_launcher
                   without shared_preload_libraries: a prepared
                   transaction's row, left in its log by the writer, is
                   written once it rolls back, at a later use of ocp_backup
                   in a long-lived session (a pool's), not only a new one's
  locked_slot      a lock a caller holds on the journal does not keep a
                   journal writer: once one has waited on it, a moment with
                   none comes while the lock is held; the row is written
                   once the lock goes
  base_backup      pg_basebackup with two calls' transactions open; one
                   commits and is purged on the primary: on the promoted
                   copy its row does not come back, the other's (never
                   committed there) is written, and the primary gets the
                   other's row once it rolls back
  recreated        DROP/CREATE EXTENSION with logs left: later calls work,
                   old rows whose ids the new journal has not reached are
                   written (and the sequence moved past them), one whose id
                   it has reached is set aside
  one_statement    20,000 calls in one statement grow the backend's
                   RssAnon by less than 2 MB

Rows whose outcome is unknown must say so.  Runs its own throwaway cluster
(initdb in a temporary directory, as the postgres user when run as root),
preloading ocp_backup as the README recommends, except for first_use and
prepared_no_launcher.
Needs OCP_SIM_URL, a plain-http test/ocp_sim.py that accepts Basic
admin:admin.  Prints PASS/FAIL lines (test/run counts them); exits non-zero
if anything failed.  Python standard library only.

    python3 test/crashes.py [--only NAME,...] [--calls N]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import SimulatorControl, failures, info, report

STORAGE = ('{"configName": "crashes", "obBackupStorageBaseInfo": '
           '{"backupStorageType": "BACKUP_STORAGE_FILE", "storageUrl": "/obbackup/"}}')
DATABASE = "ocpb_crashes"
PATIENCE_S = 30          # for rows after a restart or an unblocking
BURST_SESSIONS = 8
BURST_CALLS = 100
BURST_PATIENCE_S = 30
MEMORY_LIMIT_KB = 2048
PG_BIN = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                        check=True).stdout.strip()


def as_postgres(command):
    return (["runuser", "-u", "postgres", "--"] + command) if os.getuid() == 0 else command


class Simulator(SimulatorControl):
    def fresh(self):
        self.control("POST", "reset", {})
        self.control("POST", "config", {"task_seconds": 0})

    def hang(self, count):
        self.control("POST", "faults", {"kind": "hang", "count": count})

    def backup_requests(self, cluster_id):
        path = "/api/v2/ob/clusters/%d/backup/backupNow" % cluster_id
        return sum(1 for request in self.requests() if request["path"] == path)


class Cluster:
    """A throwaway PostgreSQL that may be killed."""

    def __init__(self, sim_url):
        self.sim_url = sim_url
        self.root = tempfile.mkdtemp(prefix="ocpb_crashes.")
        self.data = os.path.join(self.root, "data")
        self.port = 5500 + os.getpid() % 400
        if os.getuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U",
                                    "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                                    "--locale=C.UTF-8"]),
                       check=True, capture_output=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write("listen_addresses = ''\nunix_socket_directories = '%s'\nport = %d\n"
                       "fsync = off\nmax_prepared_transactions = 4\nwal_writer_delay = '10s'\n"
                       "max_worker_processes = 16\nrestart_after_crash = on\n"
                       % (self.root, self.port))
        self.preload = True
        self.start()

    def env(self, app=None):
        env = dict(os.environ, PGHOST=self.root, PGPORT=str(self.port), PGUSER="postgres",
                   PGDATABASE=DATABASE)
        if app:
            env["PGAPPNAME"] = app
        return env

    def pg_ctl(self, *args):
        subprocess.run(as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l",
                                    os.path.join(self.root, "server.log")] + list(args)),
                       check=True, capture_output=True)

    def start(self):
        self.pg_ctl("-w", "-o", "-c shared_preload_libraries=%s"
                    % ("ocp_backup" if self.preload else "''"), "start")

    def stop(self, mode="fast"):
        self.pg_ctl("-w", "-m", mode, "stop")

    def restart(self, preload):
        self.stop()
        self.preload = preload
        self.start()

    def psql(self, script, database=DATABASE, app=None, timeout=300):
        done = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", database, "-f", "-"],
                              input=script, capture_output=True, text=True, timeout=timeout,
                              env=self.env(app))
        return done.stdout, done.stderr

    def value(self, query, database=DATABASE):
        out, err = self.psql(query + "\n", database)
        if "ERROR" in err or "FATAL" in err:
            raise RuntimeError("psql failed on %r: %s" % (query, err.strip()))
        return out.strip()

    def background(self, script, app):
        """A session running script, left to run (or to be killed)."""
        session = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", DATABASE, "-f", "-"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=self.env(app))
        session.stdin.write(script)
        session.stdin.close()
        session.stdin = None
        return session

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = subprocess.run(["psql", "-X", "-A", "-t", "-d", "postgres", "-c", "SELECT 1"],
                                  capture_output=True, text=True, env=self.env())
            if done.stdout.strip() == "1":
                return True
            time.sleep(0.2)
        return False

    def backend_pids(self, app):
        out = self.value("SELECT string_agg(pid::text, ' ') FROM pg_stat_activity "
                         "WHERE application_name = '%s'" % app)
        return [int(p) for p in out.split()]

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def call_sql(cluster_id, select="invocation_id, task_id"):
    return ("SELECT %s FROM ocp_backup_now(%d, 'PHYSICAL_BACKUP', 'FULL_BACKUP', '%s');"
            % (select, cluster_id, STORAGE))


def set_up(cluster, sim_url):
    cluster.value("CREATE DATABASE %s" % DATABASE, "postgres")
    out, err = cluster.psql(
        "CREATE EXTENSION ocp_backup;\n"
        "CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url '%s', timeout_ms '60000');\n"
        "CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');\n"
        % sim_url)
    if "ERROR" in err:
        raise RuntimeError(err)


def rows_of(cluster, cluster_id):
    out = cluster.value("SELECT coalesce(json_agg(json_build_object('id', id, 'successful', "
                        "successful, 'unknown', outcome_unknown, 'tasks', task_ids) ORDER BY id), "
                        "'[]') FROM ocp_backup.invocation WHERE cluster_id = %d" % cluster_id)
    return json.loads(out)


def wait_rows(cluster, cluster_id, count, patience=PATIENCE_S):
    """The journal's rows of a cluster once count are there, or at the deadline."""
    deadline = time.time() + patience
    while True:
        try:
            rows = rows_of(cluster, cluster_id)
        except RuntimeError:
            rows = []
        if len(rows) >= count or time.time() > deadline:
            return rows
        time.sleep(0.2)


def kill(pid):
    os.kill(pid, 9)


def wait_until(condition, timeout=20):
    """Polls condition() until it holds or timeout seconds pass; its last value."""
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
    return condition()


def wait_requests(sim, cluster_id, count, timeout=20):
    """Waits until the simulator has seen count requests of the cluster; how many it saw."""
    wait_until(lambda: sim.backup_requests(cluster_id) >= count, timeout)
    return sim.backup_requests(cluster_id)


def call_log_directory(cluster):
    return cluster.value("SELECT current_setting('data_directory') || '/pg_ocp_backup/' || oid "
                         "FROM pg_database WHERE datname = current_database()")


def answered_in_call_logs(directory):
    """The clusters whose answered row (outcome known) a call log holds now."""
    answered = set()
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".jsonl")]
    except OSError:
        return answered
    for name in names:
        try:
            with open(os.path.join(directory, name)) as f:
                lines = f.read().splitlines()
        except OSError:
            continue  # handed to the writer and gone meanwhile
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if row.get("outcome_unknown") is False:
                answered.add(row.get("cluster_id"))
    return answered


def judge(name, cluster, sim, cluster_id, expect_unknown, extra="", patience=PATIENCE_S):
    received = sim.backup_requests(cluster_id)
    rows = wait_rows(cluster, cluster_id, received, patience)
    unknown = sum(1 for r in rows if r["unknown"])
    ok = received > 0 and len(rows) == received and \
        (expect_unknown is None or unknown == (received if expect_unknown else 0))
    report(ok, name, "OCP received %d request(s), the journal holds %d row(s), %d of unknown "
           "outcome%s" % (received, len(rows), unknown, extra))
    return rows


def kill_waiting_call(cluster, sim, cluster_id, app):
    """A call of its own cluster id, killed (-9) while OCP hangs."""
    sim.fresh()
    sim.hang(1)
    session = cluster.background(call_sql(cluster_id), app)
    wait_requests(sim, cluster_id, 1)
    for pid in cluster.backend_pids(app):
        kill(pid)
    session.wait(timeout=30)
    cluster.wait_ready()


def scenario_kill_waiting(cluster, sim):
    kill_waiting_call(cluster, sim, 101, "crash_waiting")
    judge("kill_waiting", cluster, sim, 101, True)


def scenario_kill_many(cluster, sim):
    """The array form killed (-9) with four answers in and two requests out."""
    sim.fresh()
    hanging = (202, 204)
    for cluster_id in hanging:
        sim.control("POST", "faults", {"kind": "hang", "path": "/clusters/%d/" % cluster_id})
    ids = list(range(201, 207))
    session = cluster.background(
        "SELECT count(*) FROM ocp_backup_now(ARRAY%s::bigint[], 'PHYSICAL_BACKUP', "
        "'FULL_BACKUP', '%s');" % (ids, STORAGE), "crash_many")
    for cluster_id in ids:
        wait_requests(sim, cluster_id, 1)
    # The four answers are read and their rows logged a moment after they came.
    directory = call_log_directory(cluster)
    answered = set(ids) - set(hanging)
    wait_until(lambda: answered <= answered_in_call_logs(directory))
    for pid in cluster.backend_pids("crash_many"):
        kill(pid)
    session.wait(timeout=30)
    cluster.wait_ready()
    for cluster_id in ids:
        judge("kill_many cluster %d" % cluster_id, cluster, sim, cluster_id,
              cluster_id in hanging)


def scenario_kill_open_xact(cluster, sim):
    sim.fresh()
    out_file = os.path.join(cluster.root, "open_xact.out")
    session = cluster.background("\\o %s\nBEGIN;\n%s\n\\o\nSELECT pg_sleep(600);\n"
                                 % (out_file, call_sql(102)), "crash_open")
    deadline = time.time() + 20
    answer = ""
    while time.time() < deadline and "|" not in answer:
        time.sleep(0.05)
        if os.path.exists(out_file):
            with open(out_file) as f:
                answer = f.read().strip()
    for pid in cluster.backend_pids("crash_open"):
        kill(pid)
    session.wait(timeout=30)
    cluster.wait_ready()
    given_id, _, task = answer.partition("|")
    rows = judge("kill_open_xact", cluster, sim, 102, False)
    complete = len(rows) == 1 and rows[0]["successful"] and str(rows[0]["id"]) == given_id and \
        [str(t) for t in rows[0]["tasks"]] == [task]
    task_row = cluster.value("SELECT count(*) FROM ocp_backup.task WHERE task_id = %s"
                             % (task or "0"))
    report(complete and task_row == "1", "kill_open_xact complete row",
           "the caller got invocation %s with task %s; the journal: %s, task rows: %s"
           % (given_id or "?", task or "?", rows, task_row))
    sim.fresh()
    next_out, err = cluster.psql(call_sql(103, "invocation_id"))
    next_id = next_out.strip()
    report(next_id.isdigit() and given_id.isdigit() and int(next_id) > int(given_id),
           "kill_open_xact id not reused",
           "the killed transaction's call had id %s; the next call got %s %s"
           % (given_id, next_id, err.strip()))


def calls_in_flight(cluster, sim, cluster_id, app, count):
    sim.fresh()
    sim.hang(count)
    sessions = []
    for _ in range(count):
        session = cluster.background(call_sql(cluster_id), app)
        sessions.append(session)
    wait_requests(sim, cluster_id, count)
    return sessions


def scenario_kill_other(cluster, sim):
    sessions = calls_in_flight(cluster, sim, 104, "crash_inflight", 3)
    bystander = cluster.background("SELECT pg_sleep(600);\n", "crash_bystander")
    wait_until(lambda: cluster.backend_pids("crash_bystander"))
    for pid in cluster.backend_pids("crash_bystander"):
        kill(pid)
    for session in sessions + [bystander]:
        session.wait(timeout=30)
    cluster.wait_ready()
    judge("kill_other", cluster, sim, 104, True)


def scenario_immediate_stop(cluster, sim):
    sessions = calls_in_flight(cluster, sim, 105, "crash_stop", 3)
    cluster.stop("immediate")
    for session in sessions:
        session.wait(timeout=30)
    cluster.start()
    cluster.wait_ready()
    judge("immediate_stop", cluster, sim, 105, True)


def process_alive(pid):
    """Running: a zombie waiting for a parent to reap it is not."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def scenario_postmaster_death(cluster, sim):
    """A call waits on OCP in a wait event of its own, and ends when the
    postmaster dies, instead of waiting out timeout_ms (60 s here)."""
    sim.fresh()
    sim.hang(1)
    session = cluster.background(call_sql(117), "crash_orphan")
    wait_requests(sim, 117, 1)
    time.sleep(0.3)
    waiting = cluster.value("SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity "
                            "WHERE application_name = 'crash_orphan'")
    pids = cluster.backend_pids("crash_orphan")
    kill(cluster.postmaster_pid())
    started = time.time()
    while pids and process_alive(pids[0]) and time.time() - started < 10:
        time.sleep(0.01)
    ended_after = time.time() - started
    try:
        session.wait(timeout=5)
    except subprocess.TimeoutExpired:
        session.kill()
    if pids and process_alive(pids[0]):
        kill(pids[0])
    for _ in range(50):
        try:
            cluster.start()
            break
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    cluster.wait_ready()
    report(waiting in ("Extension/Extension", "Extension/OcpBackupRequest") and
           len(pids) == 1 and ended_after < 2, "postmaster_death",
           "the waiting call showed wait event %s; its backend ended %.2f s after the postmaster's "
           "kill -9" % (waiting or "(none)", ended_after))
    judge("postmaster_death row", cluster, sim, 117, True)


def scenario_async_commit(cluster, sim):
    sim.fresh()
    session = cluster.background("SET synchronous_commit = off;\n%s\nSELECT pg_sleep(600);\n"
                                 % call_sql(106), "crash_async")
    wait_requests(sim, 106, 1)
    deadline = time.time() + 20
    while time.time() < deadline and cluster.value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crash_async' "
            "AND query LIKE 'SELECT pg_sleep%'") != "1":
        time.sleep(0.02)
    for pid in cluster.backend_pids("crash_async"):
        kill(pid)
    session.wait(timeout=30)
    cluster.wait_ready()
    rows = judge("async_commit", cluster, sim, 106, False)
    report(len(rows) == 1 and rows[0]["successful"], "async_commit complete row",
           "the journal: %s" % rows)


def scenario_first_use(cluster, sim):
    cluster.restart(preload=False)
    kill_waiting_call(cluster, sim, 107, "crash_first_use")
    time.sleep(3)
    before = len(rows_of(cluster, 107))
    cluster.psql("SELECT count(*) FROM ocp_backup_check();\n")
    rows = judge("first_use", cluster, sim, 107, True,
                 "; %d before the first use of ocp_backup_check()" % before)
    # The SQL functions start it too.
    kill_waiting_call(cluster, sim, 118, "crash_first_sql_use")
    time.sleep(3)
    before = len(rows_of(cluster, 118))
    cluster.psql("SELECT ocp_backup.purge_journal('1000 years');\n")
    judge("first_use of purge_journal", cluster, sim, 118, True,
          "; %d before it" % before)
    # A backend ended inside its transaction (pg_terminate_backend, a client
    # gone) starts the writer itself: no launcher here, and no later call.
    sim.fresh()
    session = cluster.background("BEGIN;\n%s\nSELECT pg_sleep(600);\n" % call_sql(116),
                                 "crash_terminated")
    wait_requests(sim, 116, 1)
    # Once the call has returned (its answered row logged) and the sleep began.
    wait_until(lambda: cluster.value(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crash_terminated' "
        "AND query LIKE 'SELECT pg_sleep%'") == "1")
    cluster.value("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name = 'crash_terminated'")
    session.wait(timeout=30)
    judge("terminated_in_transaction", cluster, sim, 116, False, "; no launcher, no call since")
    cluster.restart(preload=True)
    return rows


def writers_running(cluster, writing=False):
    """Journal writers (their type names their database: "ocp_backup journal
    writer for database N"); writing: those writing rows, which hold the
    database's writer lock.  One that let go of it and is exiting may still
    be listed, idle, beside the next one for a moment."""
    return int(cluster.value("SELECT count(*) FROM pg_stat_activity "
                             "WHERE backend_type LIKE 'ocp\\_backup journal writer%%'%s"
                             % (" AND state = 'active'" if writing else "")))


def scenario_burst(cluster, sim, calls):
    sim.fresh()
    script = "".join("BEGIN;\n%s\nROLLBACK;\n" % call_sql(108, "successful")
                     for _ in range(calls))
    sessions = [cluster.background(script, "crash_burst") for _ in range(BURST_SESSIONS)]
    most_writers = 0
    started = time.time()
    while any(s.poll() is None for s in sessions):
        most_writers = max(most_writers, writers_running(cluster, writing=True))
        time.sleep(0.05)
    warnings = []
    for session in sessions:
        out, err = session.communicate(timeout=300)
        warnings += [line for line in err.splitlines() if line.strip()]
    expected = BURST_SESSIONS * calls
    deadline = time.time() + BURST_PATIENCE_S
    rows = 0
    while time.time() < deadline:
        most_writers = max(most_writers, writers_running(cluster, writing=True))
        rows = int(cluster.value("SELECT count(*) FROM ocp_backup.invocation WHERE cluster_id = 108"))
        if rows >= expected:
            break
        time.sleep(0.1)
    waited = time.time() - started
    received = sim.backup_requests(108)
    report(received == expected and rows == expected and not warnings and most_writers <= 1,
           "burst", "%d sessions x %d rolled-back calls: OCP received %d, the journal holds %d "
           "row(s) %.1f s after the first call; %d line(s) on the clients' stderr%s; at most %d "
           "journal writer(s) seen writing at once"
           % (BURST_SESSIONS, calls, received, rows, waited, len(warnings),
              (" (" + warnings[0] + ")") if warnings else "", most_writers))


def scenario_locked_journal(cluster, sim):
    sim.fresh()
    locker = cluster.background("BEGIN;\nLOCK TABLE ocp_backup.invocation;\n"
                                "SELECT pg_sleep(8);\nCOMMIT;\n", "crash_locker")
    wait_until(lambda: cluster.value(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE a.application_name = 'crash_locker' AND l.granted "
        "AND l.relation = 'ocp_backup.invocation'::regclass") != "0")
    # A failed call (cluster 99 is missing in the simulator) does not touch
    # the journal; a successful one would wait for the lock in its INSERT.
    out, err = cluster.psql(call_sql(99, "successful"))
    time.sleep(1.5)
    # The journal cannot be read while it is locked; its row waits in a log.
    during = int(cluster.value("SELECT count(*) FROM pg_ls_dir(current_setting('data_directory') "
                               "|| '/pg_ocp_backup/' || (SELECT oid FROM pg_database WHERE "
                               "datname = current_database())) f WHERE f LIKE '%.jsonl'"))
    locker.wait(timeout=60)
    rows = judge("locked_journal", cluster, sim, 99, False,
                 "; %d log(s) waiting while the journal was locked; no call since" % during)
    report(during == 1 and len(rows) == 1, "locked_journal waited",
           "logs waiting while locked: %d, rows after: %d (the call: %s)"
           % (during, len(rows), err.strip().splitlines()[0] if err.strip() else "no error"))


def scenario_prepared(cluster, sim):
    for cluster_id, finish in ((110, "ROLLBACK PREPARED"), (111, "COMMIT PREPARED")):
        sim.fresh()
        out, err = cluster.psql("BEGIN;\n%s\nPREPARE TRANSACTION 'crash_%d';\n"
                                % (call_sql(cluster_id, "successful"), cluster_id))
        time.sleep(2)
        during = int(cluster.value("SELECT count(*) FROM ocp_backup.invocation "
                                   "WHERE cluster_id = %d" % cluster_id))
        cluster.value("%s 'crash_%d'" % (finish, cluster_id))
        rows = judge("prepared (%s)" % finish, cluster, sim, cluster_id, False,
                     "; %d while prepared; no call since %s" % (during, err.strip()))
        if len(rows) != 1:
            continue


def call_logs(directory):
    """The call logs (their names) in a call log directory now."""
    try:
        return sorted(n for n in os.listdir(directory) if n.endswith(".jsonl"))
    except OSError:
        return []


def seen(condition, timeout=PATIENCE_S):
    """Whether condition() held at some moment before timeout seconds passed
    (it may hold only for a moment)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def scenario_prepared_slot(cluster, sim):
    """A prepared transaction holding a call's row must not pin a journal
    writer, and its worker slot, for as long as it exists."""
    directory = call_log_directory(cluster)
    for cluster_id, finish in ((119, "ROLLBACK PREPARED"), (120, "COMMIT PREPARED")):
        sim.fresh()
        before = set(call_logs(directory))
        out, err = cluster.psql("BEGIN;\n%s\nPREPARE TRANSACTION 'slot_%d';\n"
                                % (call_sql(cluster_id, "successful"), cluster_id))
        held = [n for n in call_logs(directory) if n not in before]
        # A rolled-back call's log sorts after the prepared one's: once its
        # row is in, a writer has been past the prepared transaction's log.
        cluster.psql("BEGIN;\n%s\nROLLBACK;\n" % call_sql(cluster_id + 100, "successful"))
        past = len(wait_rows(cluster, cluster_id + 100, 1)) == 1
        # The launcher starts a writer every few seconds, which leaves at
        # once: a moment with none is what today's code never has.
        most = 0
        freed = False
        deadline = time.time() + PATIENCE_S
        while not freed and time.time() < deadline:
            running = writers_running(cluster)
            most = max(most, writers_running(cluster, writing=True))
            freed = running == 0
            if not freed:
                time.sleep(0.05)
        still_held = [n for n in held if os.path.exists(os.path.join(directory, n))]
        during = int(cluster.value("SELECT count(*) FROM ocp_backup.invocation "
                                   "WHERE cluster_id = %d" % cluster_id))
        report(past and freed and len(held) == 1 and still_held == held and during == 0 and
               most <= 1, "prepared_slot (%s) writer left" % finish,
               "a later log's row written: %s; no journal writer running while the transaction "
               "stays prepared: %s (at most %d seen writing); its log %s still there: %s; rows visible "
               "while prepared: %d %s"
               % (past, freed, most, held, bool(still_held), during, err.strip()))
        cluster.value("%s 'slot_%d'" % (finish, cluster_id))
        rows = judge("prepared_slot (%s)" % finish, cluster, sim, cluster_id, False,
                     "; no call since")
        gone = wait_until(lambda: not any(os.path.exists(os.path.join(directory, n)) for n in held),
                          PATIENCE_S)
        report(gone and len(rows) == 1, "prepared_slot (%s) log removed" % finish,
               "the prepared transaction's log %s is gone: %s" % (held, gone))


def logged_clusters(directory):
    """The clusters whose rows the call logs of a call log directory hold."""
    clusters = set()
    for name in call_logs(directory):
        with open(os.path.join(directory, name)) as f:
            for line in f.read().splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if "cluster_id" in row:
                    clusters.add(row["cluster_id"])
    return clusters


class Session:
    """A psql session fed one statement at a time, its transaction left open
    between them."""

    def __init__(self, cluster, app):
        self.cluster = cluster
        self.app = app
        self.process = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", DATABASE],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=cluster.env(app))

    def send(self, sql):
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()

    def idle_in_transaction(self):
        return wait_until(lambda: self.cluster.value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' "
            "AND state = 'idle in transaction'" % self.app) == "1", PATIENCE_S)

    def end(self, sql):
        """Sends the last statement; the session's output and errors."""
        self.send(sql)
        self.process.stdin.close()
        self.process.stdin = None
        return self.process.communicate(timeout=60)


class Copy(Cluster):
    """A base backup of cluster, a standby streaming from it until promoted."""

    def __init__(self, cluster):
        self.sim_url = cluster.sim_url
        self.root = os.path.join(cluster.root, "copy")
        self.data = os.path.join(self.root, "data")
        self.port = cluster.port + 1000
        os.mkdir(self.root)
        if os.getuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(as_postgres([os.path.join(PG_BIN, "pg_basebackup"), "-h", cluster.root,
                                    "-p", str(cluster.port), "-U", "postgres", "-D", self.data,
                                    "-R", "-X", "stream", "-c", "fast"]),
                       check=True, capture_output=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write("unix_socket_directories = '%s'\nport = %d\n" % (self.root, self.port))
        self.preload = True
        self.start()

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass


def scenario_prepared_no_launcher(cluster, sim):
    """Without the launcher, rows a writer left waiting are written at a
    later use of ocp_backup by a session that has used it before."""
    cluster.restart(preload=False)
    try:
        sim.fresh()
        directory = call_log_directory(cluster)
        pooled = Session(cluster, "pooled")
        pooled.send("SELECT ocp_backup_start_journal_writer();")
        before = set(call_logs(directory))
        out, err = cluster.psql("BEGIN;\n%s\nPREPARE TRANSACTION 'no_launcher';\n"
                                % call_sql(123, "successful"))
        held = [n for n in call_logs(directory) if n not in before]
        cluster.value("ROLLBACK PREPARED 'no_launcher'")

        # From here on only the pooled session uses ocp_backup.
        def written():
            pooled.send("SELECT ocp_backup_start_journal_writer();")
            return len(rows_of(cluster, 123)) == 1
        done = seen(written)
        pooled.end("SELECT 1;")
        rows = judge("prepared_no_launcher", cluster, sim, 123, False,
                     "; written at a use by a session that had used ocp_backup: %s; its log %s "
                     "%s" % (done, held, err.strip()))
        report(done and len(held) == 1 and len(rows) == 1, "prepared_no_launcher session",
               "the pooled session's later use started the writer: %s" % done)
    finally:
        cluster.restart(preload=True)


def scenario_locked_slot(cluster, sim):
    """A lock a caller holds on the journal must not keep a journal writer,
    and its worker slot, for as long as it is held."""
    sim.fresh()
    directory = call_log_directory(cluster)
    locker = Session(cluster, "slot_locker")
    locker.send("BEGIN;")
    locker.send("LOCK TABLE ocp_backup.invocation;")
    locked = seen(lambda: cluster.value(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE a.application_name = 'slot_locker' AND l.granted "
        "AND l.relation = 'ocp_backup.invocation'::regclass") != "0")
    before = set(call_logs(directory))
    # A failed call does not touch the journal: its row goes to the writer.
    out, err = cluster.psql(call_sql(99, "successful"))
    held = [n for n in call_logs(directory) if n not in before]
    waited = seen(lambda: cluster.value(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE NOT l.granted AND a.backend_type LIKE 'ocp\\_backup journal writer%'") != "0")
    freed = seen(lambda: writers_running(cluster) == 0)
    still_held = [n for n in held if os.path.exists(os.path.join(directory, n))]
    still_locked = locker.process.poll() is None
    report(locked and waited and freed and len(held) == 1 and still_held == held and
           still_locked, "locked_slot writer left",
           "a writer waited on the caller's lock: %s; then no journal writer running while "
           "the lock is held: %s; the call's log %s still there: %s (the call: %s)"
           % (waited, freed, held, bool(still_held),
              err.strip().splitlines()[0] if err.strip() else "no error"))
    locker.end("COMMIT;")
    rows = judge("locked_slot", cluster, sim, 99, False, "; no call since")
    gone = seen(lambda: not any(os.path.exists(os.path.join(directory, n)) for n in held))
    report(gone and len(rows) == 1, "locked_slot log removed",
           "the call's log %s is gone: %s" % (held, gone))


def scenario_base_backup(cluster, sim):
    """A call log copied by a base backup must not bring back a row that
    was committed on the primary and purged since."""
    sim.fresh()
    committed = Session(cluster, "backup_committed")
    uncommitted = Session(cluster, "backup_uncommitted")
    for session, cluster_id in ((committed, 121), (uncommitted, 122)):
        session.send("BEGIN;")
        session.send(call_sql(cluster_id))
    open_ok = committed.idle_in_transaction() and uncommitted.idle_in_transaction()
    copy = Copy(cluster)
    try:
        out, err = committed.end("COMMIT;")
        kept = len(rows_of(cluster, 121))
        purged = cluster.value("SELECT ocp_backup.purge_journal('0 seconds')")
        left = len(rows_of(cluster, 121))
        lsn = cluster.value("SELECT pg_current_wal_lsn()")
        copy.wait_ready()
        caught_up = wait_until(lambda: copy.value(
            "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn, "postgres") == "t",
            PATIENCE_S)
        directory = call_log_directory(copy)
        copied = logged_clusters(directory)
        copy.pg_ctl("-w", "promote")
        written = wait_until(lambda: not call_logs(directory), PATIENCE_S)
        back = rows_of(copy, 121)
        replayed = rows_of(copy, 122)
        report(open_ok and caught_up and {121, 122} <= copied and kept == 1 and left == 0 and
               written and not back and
               len(replayed) == 1 and sim.backup_requests(121) == 1 and
               sim.backup_requests(122) == 1, "base_backup",
               "call 121 committed (%d row) and purged (%s purged, %d left) on the primary "
               "after the backup; on the promoted copy (replayed to the purge: %s), whose "
               "call logs held rows of clusters %s and were written (%s): %d row(s) of 121, "
               "%d of the call never committed there (122); OCP received %d and %d %s"
               % (kept, purged, left, caught_up, sorted(copied), written, len(back), len(replayed),
                  sim.backup_requests(121), sim.backup_requests(122), err.strip()))
    finally:
        copy.destroy()
        uncommitted.end("ROLLBACK;")
    judge("base_backup primary", cluster, sim, 122, False, "; the call rolled back there")


def scenario_recreated(cluster, sim):
    """Rows logged for a journal that is then dropped and created again."""
    sim.fresh()
    directory = call_log_directory(cluster)
    old_journal = cluster.value("SELECT 'ocp_backup.invocation'::regclass::oid")
    cluster.psql("DROP EXTENSION ocp_backup CASCADE;\nCREATE EXTENSION ocp_backup;\n"
                 "CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup OPTIONS (url '%s', timeout_ms '60000');\n"
                 "CREATE USER MAPPING FOR PUBLIC SERVER ocp OPTIONS (username 'admin', password 'admin');\n"
                 % cluster.sim_url)

    def old_row(row_id, cluster_id):
        return json.dumps({"id": row_id, "journal": int(old_journal),
                           "started_at": "2026-12-01T00:00:00+00:00",
                           "finished_at": "2026-12-01T00:00:01+00:00", "invoked_by": "old",
                           "server_name": "ocp", "cluster_id": cluster_id,
                           "backup_mode": "PHYSICAL_BACKUP", "data_mode": "FULL_BACKUP",
                           "request": {}, "successful": True, "task_ids": [],
                           "outcome_unknown": False})

    planted = os.path.join(directory, "0-old-journal.jsonl")
    # Written under another name: a writer may take it the moment it is there.
    with open(planted + ".new", "w") as f:
        f.write("".join(old_row(i, c) + "\n"
                        for i, c in ((1, 112), (5000, 113), (5001, 113), (5002, 113))))
    if os.getuid() == 0:
        shutil.chown(planted + ".new", "postgres", "postgres")
    os.rename(planted + ".new", planted)
    # A new call may take id 1 before the writer looks: either way, no loss.
    out, err = cluster.psql(call_sql(114, "invocation_id"))
    new_first = out.strip()
    deadline = time.time() + PATIENCE_S
    while time.time() < deadline and os.path.exists(planted):
        time.sleep(0.2)
    out2, err2 = cluster.psql(call_sql(114, "invocation_id"))
    new_second = out2.strip()
    aside = planted + ".aside"
    aside_rows = open(aside).read().splitlines() if os.path.exists(aside) else []
    journal = {c: rows_of(cluster, c) for c in (112, 113, 114)}
    old_1_kept = len(journal[112]) == 1 or (len(aside_rows) == 1 and '"cluster_id": 112' in aside_rows[0])
    ok = (new_first.isdigit() and new_second.isdigit() and len(journal[114]) == 2 and
          len(journal[113]) == 3 and int(new_second) > 5002 and old_1_kept and
          not os.path.exists(planted) and not err and not err2)
    report(ok, "recreated",
           "new calls got ids %s and %s (%s); old rows 5000-5002 in the new journal: %d; old row 1: "
           "%d in the journal, %d set aside; log left: %s"
           % (new_first, new_second, (err + err2).strip() or "no error", len(journal[113]),
              len(journal[112]), len(aside_rows), os.path.exists(planted)))
    if os.path.exists(aside):
        os.unlink(aside)


def rss_anon_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def scenario_one_statement(cluster, sim, calls):
    sim.fresh()
    warm = 500
    script = ("SELECT pg_backend_pid();\n"
              "SELECT count(*) FROM generate_series(1, %d) g, LATERAL ocp_backup_now(115 + 0 * g, "
              "'PHYSICAL_BACKUP', 'FULL_BACKUP', '%s') b;\n"
              "\\! sleep 0\n"
              "SELECT 'before';\n"
              "SELECT pg_sleep(1);\n"
              "SELECT count(*) FROM generate_series(1, %d) g, LATERAL ocp_backup_now(115 + 0 * g, "
              "'PHYSICAL_BACKUP', 'FULL_BACKUP', '%s') b;\n"
              "SELECT 'after';\nSELECT pg_sleep(2);\n" % (warm, STORAGE, calls, STORAGE))
    session = cluster.background(script, "crash_memory")
    pid = None
    before = after = None
    deadline = time.time() + 900
    while time.time() < deadline and session.poll() is None:
        if pid is None:
            pids = cluster.backend_pids("crash_memory")
            pid = pids[0] if pids else None
        if pid is not None:
            query = cluster.value("SELECT query FROM pg_stat_activity WHERE pid = %d" % pid)
            if query == "SELECT pg_sleep(1);" and before is None:
                before = rss_anon_kb(pid)
            elif query == "SELECT pg_sleep(2);" and after is None:
                after = rss_anon_kb(pid)
        time.sleep(0.1)
    out, err = session.communicate(timeout=60)
    counts = [line for line in out.splitlines() if line.isdigit()]
    grown = (after - before) if before is not None and after is not None else None
    received = sim.backup_requests(115)
    rows = int(cluster.value("SELECT count(*) FROM ocp_backup.invocation WHERE cluster_id = 115"))
    report(grown is not None and grown < MEMORY_LIMIT_KB and str(calls) in counts and not err and
           received == warm + calls and rows == received,
           "one_statement", "%d calls in one statement after %d: RssAnon %s kB -> %s kB (%s kB; "
           "limit %d); OCP received %d, the journal holds %d %s"
           % (calls, warm, before, after, grown, MEMORY_LIMIT_KB, received, rows,
              err.strip()[:200]))


SCENARIOS = ["kill_waiting", "kill_many", "kill_open_xact", "kill_other", "immediate_stop", "postmaster_death",
             "async_commit",
             "first_use", "burst", "locked_journal", "prepared", "prepared_slot",
             "prepared_no_launcher", "recreated", "locked_slot", "one_statement", "base_backup"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--calls", type=int, default=20000, help="for one_statement")
    parser.add_argument("--burst-calls", type=int, default=BURST_CALLS)
    args = parser.parse_args()
    sim_url = os.environ["OCP_SIM_URL"]
    sim = Simulator(sim_url)
    cluster = Cluster(sim_url)
    try:
        set_up(cluster, sim_url)
        for name in args.only.split(","):
            started = time.time()
            if name == "burst":
                scenario_burst(cluster, sim, args.burst_calls)
            elif name == "one_statement":
                scenario_one_statement(cluster, sim, args.calls)
            else:
                globals()["scenario_" + name](cluster, sim)
            info("  %s: %.1f s" % (name, time.time() - started))
    finally:
        log = os.path.join(cluster.root, "server.log")
        if failures() and os.path.exists(log):
            with open(log) as f:
                lines = f.read().splitlines()
            info("server log, last lines:\n" + "\n".join(
                line for line in lines[-400:] if "ocp_backup" in line or "WARNING" in line
                or "ERROR" in line))
        if os.environ.get("OCPB_KEEP_CLUSTER"):
            info("kept: %s" % cluster.root)
        else:
            cluster.destroy()
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
