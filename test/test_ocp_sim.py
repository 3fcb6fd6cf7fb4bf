#!/usr/bin/env python3
"""Self-test of the OCP simulator (test/ocp_sim.py).

Checks its signature code against the published vectors of ocp-api.md, then
runs simulator processes on free loopback ports and checks authentication,
backups, tasks, the request record, every fault kind, the control API, TLS
and a clean exit on SIGTERM/SIGINT.  Standard library only.

    python3 test/test_ocp_sim.py -v
    python3 -m unittest discover -s test -p test_ocp_sim.py -v
"""

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
SIM_SCRIPT = os.path.join(HERE, "ocp_sim.py")
sys.path.insert(0, HERE)
import ocp_sim  # noqa: E402  (found next to this file)

ACCESS_KEY, SECRET_KEY = "test-ak", "test-sk-0123456789"
CREDENTIAL_ARGS = ("--basic", "admin:admin", "--basic", "operator:op-secret",
                   "--access-key", ACCESS_KEY + ":" + SECRET_KEY)
BACKUP_BODY = {"backupMode": "PHYSICAL_BACKUP", "dataBackupMode": "FULL_BACKUP",
               "obBackupServiceStorageConfig": {"configName": "nfs0907"}}
INSTANCE_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$")
SUBTASK_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0800$")
UNAUTHENTICATED = ("The current user has not logged on or a logon error has occurred. "
                   "Please log on and try again.")
START_TIMEOUT = 10


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


ADMIN = {"Authorization": basic("admin", "admin")}


def backup_path(cluster_id):
    return "/api/v2/ob/clusters/%d/backup/backupNow" % cluster_id


def json_body(value):
    return json.dumps(value).encode()


def http_date(offset_seconds=0.0):
    return email.utils.formatdate(time.time() + offset_seconds, usegmt=True)


def hmac_sha1(secret, text):
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class Reply:
    def __init__(self, response, body):
        self.status = response.status
        self.headers = response.headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Simulator:
    """An ocp_sim.py process on a free loopback port, and a client for it."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="ocp_sim_test.")
        self.tls = "--tls-cert" in args
        port_file = os.path.join(self.dir, "port")
        # Files, not pipes: a chatty simulator must never block on a full pipe.
        self.stdout = open(os.path.join(self.dir, "stdout"), "w+")
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
        self.process = subprocess.Popen(
            [sys.executable, SIM_SCRIPT, "--host", "127.0.0.1", "--port", "0",
             "--port-file", port_file, *args],
            stdout=self.stdout, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.port_file_text = self.wait_for_port_file(port_file)
        self.port = int(self.port_file_text)
        self.tls_context = None

    def wait_for_port_file(self, path):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    return f.read()
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.cleanup()
        raise RuntimeError("the simulator did not start: " + self.read(self.stderr))

    @staticmethod
    def read(file):
        file.flush()
        file.seek(0)
        return file.read()

    def output(self):
        return self.read(self.stdout), self.read(self.stderr)

    def stop(self, signum=signal.SIGTERM, timeout=5):
        """Signals the process; its exit status, or None if it had to be killed."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode

    def cleanup(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- client --

    def connect(self, timeout=5):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.tls_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, headers=None, conn=None, timeout=5):
        own = conn is None
        conn = conn or self.connect(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(response, response.read())
        finally:
            if own:
                conn.close()

    def backup(self, cluster_id, headers=ADMIN, body=BACKUP_BODY, **kwargs):
        return self.call("POST", backup_path(cluster_id), json_body(body),
                         {"Content-Type": "application/json", **headers}, **kwargs)

    def task(self, task_id, headers=ADMIN):
        return self.call("GET", "/api/v2/tasks/instances/%s" % task_id, headers=headers)

    def control(self, method, name, value=None, expect=200):
        body = None if value is None else json_body(value)
        reply = self.call(method, "/__sim/" + name, body)
        if reply.status != expect:
            raise AssertionError("%s /__sim/%s: HTTP %d %r" % (method, name, reply.status,
                                                               reply.body))
        return reply.json()

    def requests(self, since=None):
        path = "/__sim/requests" + ("" if since is None else "?since=%d" % since)
        return [json.loads(line) for line in self.call("GET", path).body.decode().splitlines()]

    def raw_exchange(self, data, timeout):
        """Sends raw bytes; everything received until EOF or `timeout`, and
        whether the server closed the connection."""
        received = b""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return received, True
                    received += chunk
            except socket.timeout:
                return received, False

    def raw_backup_request(self, cluster_id):
        body = json_body(BACKUP_BODY)
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (backup_path(cluster_id), self.port, ADMIN["Authorization"], len(body)))
        return head.encode() + body


def split_answer(raw):
    """Status line, headers (lower-cased names) and body of a raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((name.lower(), value.strip()) for name, _, value in
                   (line.partition(":") for line in lines[1:]))
    return lines[0], headers, body


# ---------------------------------------------------------------------------

class PublishedVectors(unittest.TestCase):
    """The worked examples of ocp-api.md section 2b, and the canonical query."""

    secret = "2fc0c299cc94c6be266f2ceece765d4d"

    def test_post_vector(self):
        body = b'{"name":"test01","description":"test","regionId":1}'
        text = ocp_sim.string_to_sign("POST", body, "application/json",
                                      "Tue, 17 Jan 2023 09:13:57 GMT", "ocp.alibaba.net:8080",
                                      {"x-ocp-data": "A,1", "accept": "*/*"},
                                      "/api/v2/compute/idcs", "")
        self.assertEqual(text, "POST\n186974DB33A090A16D3E2CA35F547B56\napplication/json\n"
                               "Tue, 17 Jan 2023 09:13:57 GMT\nocp.alibaba.net:8080\n"
                               "x-ocp-data:A,1\n/api/v2/compute/idcs")
        self.assertEqual(ocp_sim.sign(self.secret, text), "XN8P+O+v3vUabB16ZCooq5wMJoY=")

    def test_get_vector(self):
        text = ocp_sim.string_to_sign("GET", b"", "application/json;charset=utf-8",
                                      "Tue, 17 Jan 2023 04:14:02 GMT", "ocp.alibaba.net:8080",
                                      {}, "/api/v2/compute/idcs", "size=100")
        self.assertEqual(text, "GET\n\napplication/json;charset=utf-8\n"
                               "Tue, 17 Jan 2023 04:14:02 GMT\nocp.alibaba.net:8080\n\n"
                               "/api/v2/compute/idcs?size=100")
        self.assertEqual(ocp_sim.sign(self.secret, text), "TsQD6HDOuZuJ409m0wdnZPmijlc=")

    def test_canonical_query(self):
        self.assertEqual(ocp_sim.canonical_query("status=RUNNING,FAILED&clusterId=8&page=1"),
                         "clusterId=8&page=1&status=RUNNING%2CFAILED")
        self.assertEqual(ocp_sim.canonical_query("b=a%20b~c&a=%E5%A4%87&flag"),
                         "a=%E5%A4%87&b=a%20b~c&flag=")

    def test_ocp_headers_sorted_and_lower_cased(self):
        headers = {"X-OCP-b": "2", "x-ocp-A": "1", "x-other": "no"}
        self.assertEqual(ocp_sim.ocp_headers_part(headers), "x-ocp-a:1\nx-ocp-b:2")


# One simulator shared by the test classes below; each test resets it.
SIM = None


def setUpModule():
    global SIM
    SIM = Simulator(*CREDENTIAL_ARGS)
    unittest.addModuleCleanup(SIM.cleanup)


def tearDownModule():
    status = SIM.stop()
    stdout, stderr = SIM.output()
    # Server threads must have printed nothing: no traceback, no request log.
    if status != 0 or stderr:
        raise AssertionError("simulator exit status %r, stderr:\n%s" % (status, stderr))
    if stdout != "ocp_sim listening on http://127.0.0.1:%d\n" % SIM.port:
        raise AssertionError("unexpected stdout: %r" % stdout)


class SimTestCase(unittest.TestCase):
    def setUp(self):
        self.sim = SIM
        self.assertEqual(self.sim.control("POST", "reset", {}), {"ok": True})

    def assert_envelope(self, reply, status, trace_id=None):
        """The OCP envelope around an answer; returns it decoded."""
        self.assertEqual(reply.status, status)
        self.assertEqual(reply.headers["Content-Type"], "application/json")
        envelope = json.loads(reply.body)
        # Sorted keys, no spaces: exactly how OCP (and json.dumps below) writes it.
        self.assertEqual(reply.body, json.dumps(envelope, sort_keys=True, separators=(",", ":"),
                                                ensure_ascii=False).encode())
        self.assertEqual(envelope["status"], status)
        self.assertIs(envelope["successful"], status == 200)
        self.assertEqual(envelope["server"], "ocp-sim")
        self.assertIsInstance(envelope["duration"], int)
        self.assertRegex(envelope["timestamp"], INSTANCE_DATE)
        if trace_id is not None:
            self.assertEqual(envelope["traceId"], trace_id)
        return envelope

    def assert_error(self, reply, status, code, message):
        envelope = self.assert_envelope(reply, status)
        self.assertNotIn("data", envelope)
        self.assertEqual(envelope["error"]["code"], code)
        self.assertEqual(envelope["error"]["message"], message)
        return envelope["error"]

    def start_task(self, cluster_id, headers=ADMIN):
        data = self.assert_envelope(self.sim.backup(cluster_id, headers), 200)["data"]
        return data["backupObjectOpsResultList"][0]["taskIdList"][0]

    def last_request(self):
        return self.sim.requests()[-1]


class Authentication(SimTestCase):
    def signed_headers(self, method, path, query="", body=b"", content_type=None,
                       date=None, secret=SECRET_KEY, extra=None):
        """Headers of a request signed by the simulator's signer (checked above)."""
        host = "127.0.0.1:%d" % self.sim.port
        headers = {"Host": host, "Date": date or http_date(), **(extra or {})}
        if content_type:
            headers["Content-Type"] = content_type
        text = ocp_sim.string_to_sign(method, body, content_type, headers["Date"], host,
                                      headers, path, query)
        headers["Authorization"] = "OCP-ACCESS-KEY-HMACSHA1 %s:%s" % (ACCESS_KEY,
                                                                      ocp_sim.sign(secret, text))
        return headers

    def test_time_needs_no_credentials(self):
        reply = self.sim.call("GET", "/api/v2/time")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["Content-Type"], "text/plain")
        self.assertRegex(reply.body.decode(), INSTANCE_DATE)
        self.assertEqual(self.last_request()["auth"], "none")

    def test_time_follows_clock_skew(self):
        self.sim.control("POST", "config", {"clock_skew_seconds": 3600})
        shown = time.mktime(time.strptime(self.sim.call("GET", "/api/v2/time").body.decode()[:19],
                                          "%Y-%m-%dT%H:%M:%S"))
        real = time.mktime(time.gmtime(time.time() + 8 * 3600))
        self.assertAlmostEqual(shown - real, 3600, delta=5)

    def test_basic_accepted(self):
        reply = self.sim.call("GET", "/api/v2/tasks/instances?page=1&size=1",
                              headers={"Authorization": basic("operator", "op-secret")})
        self.assert_envelope(reply, 200, "5962f33700000001")
        self.assertEqual(self.last_request()["auth"], "basic:operator")

    def test_basic_wrong_password(self):
        reply = self.sim.call("GET", "/api/v2/tasks/instances",
                              headers={"Authorization": basic("operator", "admin")})
        error = self.assert_error(reply, 401, 0, UNAUTHENTICATED)
        self.assertEqual(error["debugMessage"], "wrong user name or password")
        self.assertEqual(self.last_request()["auth"], "rejected")

    def test_no_credentials(self):
        self.assert_error(self.sim.backup(8, headers={}), 401, 0, UNAUTHENTICATED)
        self.assertEqual(self.last_request()["auth"], "none")

    def test_signed_post_accepted(self):
        """The string to sign written out here by hand, not by ocp_sim."""
        body = json_body(BACKUP_BODY)
        date, host = http_date(), "127.0.0.1:%d" % self.sim.port
        text = "\n".join(["POST", hashlib.md5(body).hexdigest().upper(), "application/json",
                          date, host, "x-ocp-a:1\nx-ocp-b:two", backup_path(8)])
        headers = {"Content-Type": "application/json", "Date": date, "Host": host,
                   "X-OCP-b": "two", "x-ocp-A": "1",
                   "Authorization": "OCP-ACCESS-KEY-HMACSHA1 %s:%s" % (
                       ACCESS_KEY, hmac_sha1(SECRET_KEY, text))}
        reply = self.sim.call("POST", backup_path(8), body, headers)
        self.assert_envelope(reply, 200)
        self.assertEqual(self.last_request()["auth"], "aksk:" + ACCESS_KEY)
        task = self.sim.task(3000041).json()["data"]
        self.assertEqual(task["creator"], {"id": 1, "name": ACCESS_KEY})

    def test_signed_get_with_query_accepted(self):
        date, host = http_date(), "127.0.0.1:%d" % self.sim.port
        path = "/api/v2/tasks/instances?status=RUNNING,FAILED&clusterId=8&page=1"
        text = ("GET\n\n\n%s\n%s\n\n/api/v2/tasks/instances?clusterId=8&page=1"
                "&status=RUNNING%%2CFAILED" % (date, host))
        headers = {"Date": date, "Host": host, "Authorization": "OCP-ACCESS-KEY-HMACSHA1 "
                   "%s:%s" % (ACCESS_KEY, hmac_sha1(SECRET_KEY, text))}
        self.assert_envelope(self.sim.call("GET", path, headers=headers), 200)

    def test_wrong_signature(self):
        body = json_body(BACKUP_BODY)
        headers = self.signed_headers("POST", backup_path(8), body=body,
                                      content_type="application/json", secret="wrong")
        reply = self.sim.call("POST", backup_path(8), body, headers)
        error = self.assert_error(reply, 401, 0, UNAUTHENTICATED)
        self.assertEqual(error["debugMessage"], "signature mismatch")
        good = self.signed_headers("POST", backup_path(8), body=body,
                                   content_type="application/json", date=headers["Date"])
        for secret in (SECRET_KEY.encode(), good["Authorization"].split(":")[1].encode()):
            self.assertNotIn(secret, reply.body)
        self.assertEqual(self.last_request()["auth"], "rejected")

    def test_body_changed_after_signing(self):
        headers = self.signed_headers("POST", backup_path(8), body=b"{}",
                                      content_type="application/json")
        reply = self.sim.call("POST", backup_path(8), json_body(BACKUP_BODY), headers)
        self.assert_error(reply, 401, 0, UNAUTHENTICATED)

    def test_stale_date(self):
        headers = self.signed_headers("GET", "/api/v2/tasks/instances", date=http_date(-1200))
        error = self.assert_error(self.sim.call("GET", "/api/v2/tasks/instances",
                                                headers=headers), 401, 0, UNAUTHENTICATED)
        self.assertRegex(error["debugMessage"], r"^date is 900 s or more away from server time$")

    def test_date_window(self):
        inside = self.signed_headers("GET", "/api/v2/tasks/instances", date=http_date(-14 * 60))
        self.assertEqual(self.sim.call("GET", "/api/v2/tasks/instances",
                                       headers=inside).status, 200)
        # Fifteen minutes or more away from the simulator's (skewed) clock: refused.
        self.sim.control("POST", "config", {"clock_skew_seconds": 900})
        now = self.signed_headers("GET", "/api/v2/tasks/instances")
        self.assertEqual(self.sim.call("GET", "/api/v2/tasks/instances",
                                       headers=now).status, 401)

    def test_missing_date_and_unknown_key(self):
        headers = self.signed_headers("GET", "/api/v2/tasks/instances")
        del headers["Date"]
        error = self.assert_error(self.sim.call("GET", "/api/v2/tasks/instances",
                                                headers=headers), 401, 0, UNAUTHENTICATED)
        self.assertEqual(error["debugMessage"], "no Date header")
        headers = {"Date": http_date(),
                   "Authorization": "OCP-ACCESS-KEY-HMACSHA1 nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA="}
        error = self.assert_error(self.sim.call("GET", "/api/v2/tasks/instances",
                                                headers=headers), 401, 0, UNAUTHENTICATED)
        self.assertEqual(error["debugMessage"], "unknown access key")


class BackupNow(SimTestCase):
    def test_backup_then_already_running(self):
        reply = self.sim.backup(8)
        envelope = self.assert_envelope(reply, 200, "5962f33700000001")
        self.assertEqual(envelope["data"], {
            "backupObjectOpsResultList": [{
                "beSuccessful": True, "taskIdList": [3000041],
                "obBackupObjectList": [{"backupDimension": "CLUSTER", "clusterId": 8}]}],
            "obBackupTaskType": "DATA_BACKUP_NOW"})
        envelope = self.assert_envelope(self.sim.backup(8), 200, "5962f33700000002")
        self.assertEqual(envelope["data"]["backupObjectOpsResultList"], [{
            "beSuccessful": False, "errorCode": "BAK31005",
            "hint": "The baseline backup task for the cluster or tenant already exists.",
            "obBackupObjectList": [{"backupDimension": "CLUSTER", "clusterId": 8}]}])
        self.assertEqual(self.start_task(9), 3000042)

    def test_tenant_backup(self):
        reply = self.sim.call("POST", "/api/v2/ob/clusters/8/tenants/1002/backup/backupNow",
                              json_body(BACKUP_BODY),
                              {"Content-Type": "application/json; charset=UTF-8", **ADMIN})
        result = self.assert_envelope(reply, 200)["data"]["backupObjectOpsResultList"][0]
        self.assertEqual(result["obBackupObjectList"],
                         [{"backupDimension": "TENANT", "clusterId": 8, "tenantId": 1002}])
        task = self.sim.task(result["taskIdList"][0]).json()["data"]
        self.assertEqual(task["tenant"]["id"], 1002)

    def test_missing_cluster(self):
        self.assert_error(self.sim.backup(99), 404, "OBE11001",
                          "The specified cluster with the ID of 99 does not exist.")
        self.sim.control("POST", "config", {"missing_clusters": [7]})
        self.assert_error(self.sim.backup(7), 404, "OBE11001",
                          "The specified cluster with the ID of 7 does not exist.")
        self.assert_envelope(self.sim.backup(99), 200)

    def test_invalid_body(self):
        body = {"backupMode": "COLD", "obBackupServiceStorageConfig": {"configName": 5}}
        reply = self.sim.backup(8, body=body)
        self.assertEqual(reply.status, 400)
        error = reply.json()["error"]
        self.assertTrue(error["message"].startswith("Invalid parameter"))
        self.assertEqual([(e["field"], e.get("rejectedValue")) for e in error["subErrors"]],
                         [("backupMode", "COLD"), ("dataBackupMode", None),
                          ("obBackupServiceStorageConfig.configName", 5)])
        self.assertEqual(set(error["subErrors"][0]),
                         {"object", "field", "rejectedValue", "message"})

    def test_malformed_json_and_content_type(self):
        headers = {"Content-Type": "application/json", **ADMIN}
        reply = self.sim.call("POST", backup_path(8), b'{"backupMode":', headers)
        self.assertEqual(reply.status, 400)
        self.assertEqual(reply.json()["error"]["code"], 10001)
        reply = self.sim.call("POST", backup_path(8), json_body(BACKUP_BODY),
                              {"Content-Type": "application/x-www-form-urlencoded", **ADMIN})
        self.assert_error(reply, 415, 10005,
                          "Content type 'application/x-www-form-urlencoded' not supported")

    def test_trace_id_echoed_and_counted(self):
        reply = self.sim.backup(8, headers={"x-trace-id": "client-trace-1", **ADMIN})
        self.assert_envelope(reply, 200, "client-trace-1")
        self.assert_envelope(self.sim.backup(9), 200, "5962f33700000002")

    def test_unknown_path_and_wrong_method(self):
        reply = self.sim.call("GET", "/api/v2/nothing", headers=ADMIN)
        self.assertEqual(self.assert_envelope(reply, 404)["error"]["code"], 10004)
        reply = self.sim.call("GET", backup_path(8), headers=ADMIN)
        self.assert_error(reply, 405, 10003, "Request method 'GET' not supported")

    def test_task_ids_as_strings(self):
        config = self.sim.control("POST", "config", {"task_ids_as_strings": True,
                                                     "task_id_base": 9007199254740993})
        self.assertEqual(config["task_id_base"], 9007199254740993)
        reply = self.sim.backup(11)
        self.assertIn(b'"taskIdList":["9007199254740993"]', reply.body)
        task = self.sim.task(9007199254740993).json()["data"]
        self.assertEqual(task["id"], "9007199254740993")
        self.assertEqual(self.start_task(12), "9007199254740994")


class Tasks(SimTestCase):
    def statuses(self, task):
        return [s["status"] for s in task["subtasks"]]

    def test_progression(self):
        self.sim.control("POST", "config", {"task_seconds": 3600})
        task_id = self.start_task(8)
        task = self.assert_envelope(self.sim.task(task_id), 200)["data"]
        self.assertEqual((task["id"], task["name"], task["status"], task["type"],
                          task["operation"], task["prohibitRollback"]),
                         (task_id, "Backup cluster", "RUNNING", "MANUAL", "EXECUTE", False))
        self.assertEqual(task["cluster"], {"id": 8, "name": "cluster8", "obClusterId": 8,
                                           "type": "PRIMARY"})
        self.assertEqual(task["creator"], {"id": 1, "name": "admin"})
        self.assertNotIn("finishTime", task)
        self.assertRegex(" ".join(self.statuses(task)), r"^(SUCCESSFUL )*RUNNING( PENDING)*$")
        for date in (task["createTime"], task["startTime"]):
            self.assertRegex(date, INSTANCE_DATE)
        # The task's hour passes on the simulator's clock, not on this one.
        self.sim.control("POST", "config", {"clock_skew_seconds": 3601})
        task = self.sim.task(task_id).json()["data"]
        self.assertEqual(task["status"], "SUCCESSFUL")
        self.assertRegex(task["finishTime"], INSTANCE_DATE)
        self.assertEqual(self.statuses(task), ["SUCCESSFUL"] * 4)
        self.assertEqual([s["name"] for s in task["subtasks"]],
                         ["Check backup config", "Start data backup", "Wait data backup",
                          "Record backup result"])
        for subtask in task["subtasks"]:
            for key in ("createTime", "startTime", "finishTime"):
                self.assertRegex(subtask[key], SUBTASK_DATE)
            self.assertIsInstance(subtask["runTime"], int)

    def test_failed_outcome(self):
        self.sim.control("POST", "config", {"task_seconds": 0, "task_outcome": "FAILED"})
        task = self.sim.task(self.start_task(8)).json()["data"]
        self.assertEqual(task["status"], "FAILED")
        self.assertEqual(self.statuses(task), ["SUCCESSFUL"] * 3 + ["FAILED"])

    def test_forced_status(self):
        self.sim.control("POST", "config", {"task_seconds": 3600})
        task_id = self.start_task(8)
        self.assertEqual(self.sim.control("POST", "tasks/%d" % task_id, {"status": "FAILED"}),
                         {"id": task_id, "status": "FAILED"})
        task = self.sim.task(task_id).json()["data"]
        self.assertEqual((task["status"], self.statuses(task)[-1]), ("FAILED", "FAILED"))
        self.assertIn("finishTime", task)
        self.sim.control("POST", "tasks/%d" % task_id, {"status": "RUNNING"})
        task = self.sim.task(task_id).json()["data"]
        self.assertEqual(task["status"], "RUNNING")
        self.assertNotIn("finishTime", task)
        self.sim.control("POST", "tasks/424242", {"status": "FAILED"}, expect=404)
        self.sim.control("POST", "tasks/%d" % task_id, {"status": "DONE"}, expect=400)

    def test_forced_finish_frees_the_cluster(self):
        self.sim.control("POST", "config", {"task_seconds": 3600})
        task_id = self.start_task(8)
        self.sim.control("POST", "tasks/%d" % task_id, {"status": "SUCCESSFUL"})
        self.assertEqual(self.start_task(8), task_id + 1)

    def test_unknown_task(self):
        self.assert_error(self.sim.task(987654321), 404, "TSK10001",
                          "The 987654321 task does not exist.")

    def test_list(self):
        self.sim.control("POST", "config", {"task_seconds": 3600})
        first, second, third = (self.start_task(c) for c in (1, 2, 3))
        self.sim.control("POST", "tasks/%d" % third, {"status": "FAILED"})
        self.sim.control("POST", "tasks/%d" % first, {"status": "SUCCESSFUL"})

        def listed(query):
            data = self.sim.call("GET", "/api/v2/tasks/instances?" + query, headers=ADMIN)
            return self.assert_envelope(data, 200)["data"]

        data = listed("clusterId=&status=RUNNING,FAILED&page=1&size=10")
        self.assertEqual([t["id"] for t in data["contents"]], [third, second])
        self.assertEqual(data["page"], {"number": 1, "size": 10, "totalElements": 2,
                                        "totalPages": 1})
        # A row has exactly the fields OCP documents for the task list
        # (BasicTaskInstance, OCP 4.2/4.3 API reference and OCP Express):
        # no createTime, type or operation, which only the detail carries.
        # The second task runs, so it has no finishTime, and no tenant.
        self.assertEqual(set(data["contents"][1]),
                         {"id", "name", "cluster", "creator", "status", "startTime", "subtasks"})
        self.assertEqual(set(data["contents"][0]),
                         {"id", "name", "cluster", "creator", "status", "startTime",
                          "finishTime", "subtasks"})
        for sub in data["contents"][0]["subtasks"]:
            self.assertEqual(set(sub), {"id", "name", "description", "status", "operation"})
        detail = self.assert_envelope(self.sim.task(third), 200)["data"]
        self.assertTrue({"createTime", "type", "operation"} <= set(detail))
        row = data["contents"][0]
        self.assertEqual({k: detail[k] for k in row if k != "subtasks"},
                         {k: v for k, v in row.items() if k != "subtasks"})
        self.assertEqual([t["id"] for t in listed("clusterId=2")["contents"]], [second])
        data = listed("page=2&size=2")
        self.assertEqual([t["id"] for t in data["contents"]], [first])
        self.assertEqual(data["page"]["totalPages"], 2)


class Record(SimTestCase):
    def test_fields(self):
        body = json_body({**BACKUP_BODY, "note": "备份\x01\n"})
        self.sim.call("POST", backup_path(8) + "?x=1", body,
                      {"Content-Type": "application/json", "X-Custom": "Value 1", **ADMIN})
        self.sim.control("GET", "connections")  # control requests are not recorded
        reply = self.sim.call("GET", "/__sim/requests")
        self.assertEqual(reply.headers["Content-Type"], "application/x-ndjson")
        lines = reply.body.split(b"\n")
        self.assertEqual((len(lines), lines[-1]), (2, b""))
        # One JSON value per line, no raw control character: COPY reads it as is.
        self.assertFalse(any(b < 0x20 for b in lines[0]))
        entry = json.loads(lines[0])
        self.assertEqual(set(entry), {"seq", "conn", "method", "path", "headers", "body",
                                      "body_md5", "auth", "tls"})
        self.assertEqual((entry["seq"], entry["method"], entry["path"], entry["auth"],
                          entry["tls"]), (1, "POST", backup_path(8) + "?x=1", "basic:admin",
                                          False))
        self.assertEqual(entry["body"].encode(), body)
        self.assertEqual(entry["body_md5"], hashlib.md5(body).hexdigest().upper())
        self.assertEqual(entry["headers"]["x-custom"], "Value 1")
        self.assertEqual(entry["headers"]["authorization"], ADMIN["Authorization"])
        self.assertEqual(entry["headers"]["host"], "127.0.0.1:%d" % self.sim.port)

    def test_since_and_rejected(self):
        self.sim.backup(8, headers={})
        self.sim.backup(8)
        self.sim.call("GET", "/elsewhere")
        self.assertEqual([r["auth"] for r in self.sim.requests()], ["none", "basic:admin", "none"])
        self.assertEqual([r["seq"] for r in self.sim.requests(since=1)], [2, 3])
        self.assertEqual(self.sim.requests(since=3), [])

    def test_keep_alive(self):
        before = self.sim.control("GET", "connections")["accepted"]
        conn = self.sim.connect()
        try:
            for cluster_id in (1, 2, 3):
                self.assertEqual(self.sim.backup(cluster_id, conn=conn).status, 200)
            self.assertEqual(self.sim.call("GET", "/api/v2/nothing", headers=ADMIN,
                                               conn=conn).status, 404)
        finally:
            conn.close()
        self.sim.backup(4)
        conns = [r["conn"] for r in self.sim.requests()]
        self.assertEqual(len(set(conns[:4])), 1)
        self.assertNotEqual(conns[4], conns[0])
        # Two for the API calls, one each for the two control calls after `before`.
        self.assertEqual(self.sim.control("GET", "connections")["accepted"], before + 4)

    def settled_open(self, expected):
        """The simulator's count of open connections, once it reads `expected`
        or 5 s have passed: a closed connection, the previous control call's
        included, is counted out a moment after the close."""
        deadline = time.monotonic() + 5
        while True:
            open_now = self.sim.control("GET", "connections")["open"]
            if open_now == expected or time.monotonic() > deadline:
                return open_now
            time.sleep(0.02)

    def test_open_connections(self):
        # Each count includes the control call asking for it.
        self.assertEqual(self.settled_open(1), 1, "connections of earlier tests still count")
        conn = self.sim.connect()
        try:
            self.assertEqual(self.sim.backup(1, conn=conn).status, 200)
            self.assertEqual(self.settled_open(2), 2, "the kept-alive connection is not counted")
            self.assertEqual(self.sim.backup(2, conn=conn).status, 200)
        finally:
            conn.close()
        self.assertEqual(self.settled_open(1), 1, "the closed connection still counts")

    def test_answer_delay_and_in_flight_peak(self):
        self.sim.control("POST", "config", {"answer_delay_ms": 300})
        started = time.monotonic()
        threads = [threading.Thread(target=self.sim.backup, args=(cluster_id,))
                   for cluster_id in (1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertEqual(self.sim.control("GET", "connections")["in_flight_peak"], 3)
        self.sim.control("DELETE", "connections/in_flight_peak")
        self.assertEqual(self.sim.control("GET", "connections")["in_flight_peak"], 0)
        self.sim.backup(1)
        self.assertEqual(self.sim.control("GET", "connections")["in_flight_peak"], 1)
        self.sim.control("POST", "reset")
        self.assertEqual(self.sim.control("GET", "connections")["in_flight_peak"], 0)
        self.sim.control("POST", "config", {"answer_delay_ms": -1}, expect=400)

    def test_chunked_body(self):
        chunks = [b'{"backupMode":"PHYSICAL_BACKUP",', b'"dataBackupMode":"FULL_BACKUP",',
                  b'"obBackupServiceStorageConfig":{"configName":"c"}}']
        conn = self.sim.connect()
        try:
            conn.request("POST", backup_path(8), body=iter(chunks), encode_chunked=True,
                         headers={"Content-Type": "application/json", **ADMIN})
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()
        self.assertEqual(self.last_request()["body"].encode(), b"".join(chunks))


class Faults(SimTestCase):
    def fault(self, **fault):
        self.assertEqual(self.sim.control("POST", "faults", fault), {"queued": 1})

    def wait_faults_taken(self):
        """Until a request has taken every queued fault (5 s at most)."""
        deadline = time.monotonic() + 5
        while self.sim.control("GET", "faults") != []:
            self.assertLess(time.monotonic(), deadline, "the fault was not taken")
            time.sleep(0.02)

    def test_delay(self):
        self.fault(kind="delay", ms=300)
        started = time.monotonic()
        self.assert_envelope(self.sim.backup(8), 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.fault(kind="delay", ms=1)  # then normal handling: credentials still count
        self.assertEqual(self.sim.backup(9, headers={}).status, 401)

    def test_hang(self):
        self.fault(kind="hang")
        with self.assertRaises(socket.timeout):
            self.sim.backup(8, timeout=1)
        self.assertEqual(self.last_request()["path"], backup_path(8))
        self.assertEqual(self.sim.backup(8).status, 200)  # the hang created no task

    def test_hang_blocks_no_one_else(self):
        self.fault(kind="hang")
        hanging = self.sim.connect(timeout=5)
        try:
            hanging.request("GET", "/api/v2/tasks/instances", headers=ADMIN)
            self.wait_faults_taken()  # by that request, not by the next
            started = time.monotonic()
            self.assertEqual(self.sim.call("GET", "/api/v2/time").status, 200)
            self.assertLess(time.monotonic() - started, 2)
        finally:
            hanging.close()

    def test_stall(self):
        self.fault(kind="stall", bytes=12)
        received, closed = self.sim.raw_exchange(self.sim.raw_backup_request(8), timeout=2)
        status, headers, body = split_answer(received)
        self.assertFalse(closed)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(body, b'{"data":{"ba')
        full = int(headers["content-length"])
        self.assertGreater(full, 100)
        # The normal answer was made (the task exists): a retry sees BAK31005.
        self.assertIn(b"BAK31005", self.sim.backup(8).body)

    def test_close(self):
        self.fault(kind="close", bytes=10)
        received, closed = self.sim.raw_exchange(self.sim.raw_backup_request(8), timeout=2)
        status, headers, body = split_answer(received)
        self.assertTrue(closed)
        self.assertEqual((status, len(body)), ("HTTP/1.1 200 OK", 10))
        self.assertGreater(int(headers["content-length"]), 10)
        with self.assertRaises(http.client.IncompleteRead):
            self.fault(kind="close")
            self.sim.backup(9)

    def test_reset(self):
        self.fault(kind="reset")
        received, closed = self.sim.raw_exchange(self.sim.raw_backup_request(8), timeout=2)
        self.assertEqual((received, closed), (b"", True))
        self.fault(kind="reset")
        with self.assertRaises(http.client.RemoteDisconnected):
            self.sim.backup(8)

    def test_envelope(self):
        self.fault(kind="envelope", status=500, code=60018,
                   message="Unexpected error: OceanBase is busy.")
        reply = self.sim.backup(8, headers={})  # faults come before authentication
        self.assert_error(reply, 500, 60018, "Unexpected error: OceanBase is busy.")
        self.assertEqual(reply.json()["traceId"], "5962f33700000001")

    def test_raw(self):
        html = "<html><body>502 Bad Gateway</body></html>"
        self.fault(kind="raw", status=502, content_type="text/html", body=html,
                   headers={"X-Proxy": "nginx"})
        reply = self.sim.backup(8)
        self.assertEqual((reply.status, reply.body.decode()), (502, html))
        self.assertEqual(reply.headers["Content-Type"], "text/html")
        self.assertEqual(reply.headers["X-Proxy"], "nginx")
        self.fault(kind="raw", status=503)
        reply = self.sim.backup(8)
        self.assertEqual((reply.status, reply.body, reply.headers["Content-Length"]),
                         (503, b"", "0"))
        self.assertEqual(reply.headers["Content-Type"], "application/json")

    def test_raw_body_base64(self):
        for data in (b'{"data":{"name":"\xc3\x28"},"successful":true}', b"\xff"):
            self.fault(kind="raw", body_base64=base64.b64encode(data).decode())
            self.assertEqual(self.sim.control("GET", "faults")[0]["body_base64"],
                             base64.b64encode(data).decode())  # shown as given
            reply = self.sim.backup(8)
            self.assertEqual((reply.status, reply.body, reply.headers["Content-Length"]),
                             (200, data, str(len(data))))
        self.fault(kind="raw", status=502, body_base64="", body="")
        self.assertEqual((self.sim.backup(8).status, self.sim.backup(8).status), (502, 200))

    def test_echo(self):
        body = {"backupMode": "PHYSICAL_BACKUP", "dataBackupMode": "FULL_BACKUP",
                "obBackupServiceStorageConfig": {
                    "configName": "oss0907",
                    "obBackupStorageBaseInfo": {
                        "ossAccessKey": {"accessKeyId": "LTAI-test-id",
                                         "accessKeySecret": "s3cr3t/SK+value"},
                        "retentionDays": 7, "ratio": 0.5, "enabled": True, "note": None}},
                "tags": ["a", 2]}
        self.fault(kind="echo")
        reply = self.sim.backup(8, body=body)
        error = self.assert_error(reply, 400, 10001, "Invalid parameter: PHYSICAL_BACKUP, "
                                  "FULL_BACKUP, oss0907, LTAI-test-id, s3cr3t/SK+value, 7, "
                                  "0.5, a, 2")
        self.assertIs(reply.json()["successful"], False)
        self.assertEqual(set(reply.json()), {"duration", "error", "server", "status",
                                             "successful", "timestamp", "traceId"})
        self.assertEqual(set(error), {"code", "message", "subErrors"})
        storage = "obBackupServiceStorageConfig."
        base = storage + "obBackupStorageBaseInfo."
        leaves = [("backupMode", "PHYSICAL_BACKUP"), ("dataBackupMode", "FULL_BACKUP"),
                  (storage + "configName", "oss0907"),
                  (base + "ossAccessKey.accessKeyId", "LTAI-test-id"),
                  (base + "ossAccessKey.accessKeySecret", "s3cr3t/SK+value"),
                  (base + "retentionDays", 7), (base + "ratio", 0.5),
                  ("tags[0]", "a"), ("tags[1]", 2)]
        self.assertEqual(error["subErrors"],
                         [{"object": "backupNowParam", "field": field, "rejectedValue": value,
                           "message": "rejected"} for field, value in leaves])
        self.assertIsInstance(error["subErrors"][5]["rejectedValue"], int)
        # Recorded like any request, before authentication, and no task made.
        self.assertEqual((self.last_request()["body"].encode(), self.last_request()["auth"]),
                         (json_body(body), "none"))
        self.assertEqual(self.start_task(8), 3000041)

    def test_echo_path_and_count(self):
        self.fault(kind="echo", path="tasks/instances", count=2)
        self.assertEqual(self.sim.backup(8).status, 200)  # not a match
        replies = [self.sim.task(3000041),
                   self.sim.call("POST", "/api/v2/tasks/instances", b"{not json",
                                 {"Content-Type": "application/json", **ADMIN})]
        for reply in replies:  # no body, a body that is not JSON: nothing to echo
            error = self.assert_error(reply, 400, 10001, "Invalid parameter: ")
            self.assertEqual(error["subErrors"], [])
        self.assertEqual(self.sim.task(3000041).status, 200)
        self.assertEqual(self.sim.control("GET", "faults"), [])
        self.assertEqual([r["path"] for r in self.sim.requests()],
                         [backup_path(8)] + ["/api/v2/tasks/instances/3000041",
                                             "/api/v2/tasks/instances",
                                             "/api/v2/tasks/instances/3000041"])

    def test_echo_leaf_names(self):
        for body, leaves in ((b'[1, {"a": ["x", {"b": -2.5e3}]}, true]',
                              [("[0]", 1), ("[1].a[0]", "x"), ("[1].a[1].b", -2500.0)]),
                             (b'{"k": "first", "k": "second", "": "e"}',
                              [("k", "first"), ("k", "second"), ("", "e")]),
                             (b'"alone"', [("", "alone")]),
                             (b'{"big": 1e400}', []), (b'{"n": NaN}', []),
                             (b'{"k": "\xff"}', [])):
            self.fault(kind="echo")
            reply = self.sim.call("POST", backup_path(8), body,
                                  {"Content-Type": "application/json"})
            error = self.assert_envelope(reply, 400)["error"]
            self.assertEqual([(e["field"], e["rejectedValue"]) for e in error["subErrors"]],
                             leaves)
            self.assertEqual(error["message"], "Invalid parameter: " + ", ".join(
                v if isinstance(v, str) else json.dumps(v) for _, v in leaves))

    def test_huge(self):
        self.fault(kind="huge", bytes=3 * 1024 * 1024)
        reply = self.sim.backup(8)
        self.assertEqual((reply.status, len(reply.body)), (200, 3 * 1024 * 1024))
        self.assertTrue(json.loads(reply.body)["successful"])

    def test_huge_without_length(self):
        self.fault(kind="huge", bytes=1024 * 1024, length=False)
        reply = self.sim.backup(8)
        self.assertEqual((reply.status, len(reply.body)), (200, 1024 * 1024))
        self.assertNotIn("Content-Length", reply.headers)
        self.assertTrue(json.loads(reply.body)["successful"])

    def test_huge_abandoned_by_the_client(self):
        self.fault(kind="huge", bytes=256 * 1024 * 1024)
        conn = self.sim.connect()
        conn.request("GET", "/api/v2/tasks/instances", headers=ADMIN)
        response = conn.getresponse()
        self.assertEqual(len(response.read(100000)), 100000)
        conn.close()  # the server must stop quietly (checked: empty stderr at the end)
        self.assertEqual(self.sim.backup(8).status, 200)

    def test_rate_limit(self):
        self.fault(kind="rate_limit", reset=17)
        reply = self.sim.backup(8)
        self.assertEqual((reply.headers["RateLimit-Limit"], reply.headers["RateLimit-Remaining"],
                          reply.headers["RateLimit-Reset"]), ("100", "0", "17"))
        self.assert_error(reply, 429, 0, "Excessive number of requests. You have exceeded the "
                          "request limit for the current throttling window.")
        self.assertEqual(reply.json()["traceId"], "")

    def test_path_count_list_and_delete(self):
        faults = [{"kind": "raw", "status": 503, "path": "tasks/instances", "count": 2},
                  {"kind": "raw", "status": 502, "path": "/__never__"}]
        self.assertEqual(self.sim.control("POST", "faults", faults), {"queued": 2})
        self.assertEqual(self.sim.backup(8).status, 200)
        self.assertEqual([self.sim.task(3000041).status for _ in range(3)], [503, 503, 200])
        self.assertEqual([f["status"] for f in self.sim.control("GET", "faults")], [502])
        self.assertEqual(self.sim.control("DELETE", "faults"), {"ok": True})
        self.assertEqual(self.sim.control("GET", "faults"), [])

    def test_bad_faults(self):
        self.sim.control("POST", "faults", {"kind": "explode"}, expect=400)
        self.sim.control("POST", "faults", {"kind": "stall", "bytes": "many"}, expect=400)
        for bad in ({"body_base64": "wyg=", "body": "x"}, {"body_base64": "wyg=", "body": {}},
                    {"body_base64": 12}, {"body_base64": None}, {"body_base64": "wyg"},
                    {"body_base64": "not base64!"}, {"body_base64": "wy\ng="}):
            reply = self.sim.call("POST", "/__sim/faults", json_body({"kind": "raw", **bad}))
            self.assertEqual(reply.status, 400, bad)
            self.assertIn("body_base64", reply.json()["error"])
        self.sim.control("POST", "faults", {"kind": "echo", "count": 0}, expect=400)
        self.sim.control("POST", "faults", {"kind": "echo", "path": 8}, expect=400)
        self.assertEqual(self.sim.control("GET", "faults"), [])


class Control(SimTestCase):
    def test_reset(self):
        self.sim.control("POST", "config", {"task_seconds": 3600, "task_id_base": 500})
        self.start_task(8)
        self.sim.control("POST", "faults", {"kind": "raw", "path": "/__never__"})
        conn_before = self.last_request()["conn"]
        self.assertEqual(self.sim.control("POST", "reset", {}), {"ok": True})
        self.assertEqual(self.sim.requests(), [])
        self.assertEqual(self.sim.control("GET", "faults"), [])
        self.assertEqual(self.sim.control("GET", "config"), ocp_sim.default_config())
        self.assertEqual(self.sim.task(500).status, 404)
        self.assertEqual(self.start_task(8), 3000041)
        reply = self.sim.backup(9)
        self.assertEqual(reply.json()["traceId"], "5962f33700000003")
        self.assertGreater(self.last_request()["conn"], conn_before)  # never reset

    def test_config(self):
        config = self.sim.control("POST", "config", {"task_seconds": 2, "task_outcome": "FAILED",
                                                     "clock_skew_seconds": -30})
        self.assertEqual(config, {**ocp_sim.default_config(), "task_seconds": 2.0,
                                  "task_outcome": "FAILED", "clock_skew_seconds": -30.0})
        for bad in ({"task_secs": 1}, {"task_seconds": "1"}, {"task_outcome": "DONE"},
                    {"missing_clusters": 99}, {"task_ids_as_strings": 1}):
            self.sim.control("POST", "config", bad, expect=400)

    def test_unknown_control_path(self):
        self.sim.control("GET", "nothing", expect=404)
        self.sim.control("POST", "requests", {}, expect=404)


# ---------------------------------------------------------------------------
# The fleet: inventory lists, backup history, and the control API behind them.

CLUSTERS_PATH = "/api/v2/ob/clusters"
FLEET = {"clusters": [
    {"id": 1000007, "name": "prod-b", "obClusterId": 3, "obVersion": "4.3.3.0",
     "type": "STANDBY", "status": "STOPPED"},
    {"id": 1000005, "name": "prod-a",
     "tenants": [{"id": 1002, "name": "orders", "mode": "ORACLE", "locked": True,
                  "created_ago": 86400},
                 {"id": 1001, "name": "sys"}],
     "history": [{"taskId": 6, "backupSetId": 2, "status": "DONE", "started_ago": 90000,
                  "finished_ago": 88200},
                 {"taskId": 8, "backupSetId": 4, "status": "DOING", "started_ago": 600,
                  "dataBackupTaskType": "INCREMENTAL_BACKUP", "tenantId": 1002},
                 {"taskId": 7, "backupSetId": 3, "status": "FAILED", "started_ago": 3600,
                  "finished_ago": 3000, "errorMsg": "disk full",
                  "backupUri": "oss://bucket/prod-a"}]},
    {"id": 1000006, "name": "dev", "obVersion": "4.2.5.1",
     "tenants": [{"id": 1003, "name": "sys"}]},
]}


def tenants_path(cluster_id):
    return "%s/%d/tenants" % (CLUSTERS_PATH, cluster_id)


def history_path(cluster_id):
    return "%s/%d/backup/task/dataBackupTasks" % (CLUSTERS_PATH, cluster_id)


def ocp_time(text):
    """Seconds since the epoch of either of OCP's date forms."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class FleetTestCase(SimTestCase):
    def upload(self, fleet=FLEET, expect=200):
        return self.sim.control("POST", "fleet", fleet, expect=expect)

    def listed(self, path, expect=200):
        """data of a GET of the API, checked to be a well-formed envelope."""
        return self.assert_envelope(self.sim.call("GET", path, headers=ADMIN), expect)["data"]

    def all_rows(self, path, size):
        """Every row of a paged list, page after page, as a client must read it."""
        rows, page = [], 1
        while True:
            separator = "&" if "?" in path else "?"
            data = self.listed("%s%spage=%d&size=%d" % (path, separator, page, size))
            rows += data["contents"]
            if page >= data["page"]["totalPages"]:
                return rows, data["page"]
            page += 1

    def history(self, cluster_id):
        return self.all_rows(history_path(cluster_id), 2000)[0]


class FleetLists(FleetTestCase):
    def test_clusters_over_several_pages(self):
        self.assertEqual(self.upload(), {
            "clusters": 3, "tenants": 3, "jobs": 3, "never_backed_up": [1000006, 1000007],
            "stale": [], "failing": [], "running": [1000005], "fresh": []})
        self.sim.control("POST", "config", {"list_page_limit": 2})
        data = self.listed(CLUSTERS_PATH + "?page=1&size=10")
        self.assertEqual(data["page"], {"number": 1, "size": 2, "totalElements": 3,
                                        "totalPages": 2})
        self.assertEqual(len(data["contents"]), 2)
        rows, last_page = self.all_rows(CLUSTERS_PATH, 10)
        self.assertEqual(last_page, {"number": 2, "size": 2, "totalElements": 3, "totalPages": 2})
        self.assertEqual(rows, [
            {"id": 1000005, "name": "prod-a", "obClusterId": 1000005, "obVersion": "4.2.1.0",
             "type": "PRIMARY", "status": "RUNNING"},
            {"id": 1000006, "name": "dev", "obClusterId": 1000006, "obVersion": "4.2.5.1",
             "type": "PRIMARY", "status": "RUNNING"},
            {"id": 1000007, "name": "prod-b", "obClusterId": 3, "obVersion": "4.3.3.0",
             "type": "STANDBY", "status": "STOPPED"}])
        # Without the limit, the size asked; defaults page 1, size 10.
        self.sim.control("POST", "config", {"list_page_limit": None})
        data = self.listed(CLUSTERS_PATH)
        self.assertEqual((len(data["contents"]), data["page"]),
                         (3, {"number": 1, "size": 10, "totalElements": 3, "totalPages": 1}))
        self.assertEqual(self.listed(CLUSTERS_PATH + "?page=3&size=1")["contents"][0]["id"],
                         1000007)
        self.assertEqual(self.listed(CLUSTERS_PATH + "?page=4&size=1")["contents"], [])

    def test_cluster_filters_and_bad_paging(self):
        self.upload()
        ids = lambda query: [c["id"] for c in self.listed(CLUSTERS_PATH + query)["contents"]]
        self.assertEqual(ids("?name=prod-a"), [1000005])
        self.assertEqual(ids("?name=prod"), [])
        self.assertEqual(ids("?name=&status="), [1000005, 1000006, 1000007])
        self.assertEqual(ids("?status=STOPPED,CREATING"), [1000007])
        for query in ("?size=0", "?size=2001", "?page=0", "?page=x"):
            reply = self.sim.call("GET", CLUSTERS_PATH + query, headers=ADMIN)
            self.assertEqual(self.assert_envelope(reply, 400)["error"]["code"], 10001)
        reply = self.sim.call("GET", tenants_path(1000005) + "?size=0", headers=ADMIN)
        self.assert_error(reply, 400, 10001,
                          "Invalid parameter: size must be an integer from 1 to 2000.")

    def test_empty_fleet(self):
        data = self.listed(CLUSTERS_PATH)
        self.assertEqual(data, {"contents": [], "page": {"number": 1, "size": 10,
                                                         "totalElements": 0, "totalPages": 0}})

    def test_tenants(self):
        self.upload()
        data = self.listed(tenants_path(1000005))
        self.assertEqual(data["page"], {"number": 1, "size": 10, "totalElements": 2,
                                        "totalPages": 1})
        rows = data["contents"]
        created = [row.pop("createTime") for row in rows]
        for date in created:
            self.assertRegex(date, INSTANCE_DATE)
        self.assertAlmostEqual(ocp_time(created[1]), time.time() - 86400, delta=5)
        self.assertAlmostEqual(ocp_time(created[0]), time.time() - 30 * 86400, delta=5)
        self.assertEqual(rows, [
            {"id": 1001, "name": "sys", "clusterId": 1000005, "clusterName": "prod-a",
             "obClusterId": 1000005, "clusterType": "PRIMARY", "mode": "MYSQL",
             "status": "NORMAL", "locked": False, "readonly": False, "obVersion": "4.2.1.0"},
            {"id": 1002, "name": "orders", "clusterId": 1000005, "clusterName": "prod-a",
             "obClusterId": 1000005, "clusterType": "PRIMARY", "mode": "ORACLE",
             "status": "NORMAL", "locked": True, "readonly": False, "obVersion": "4.2.1.0"}])
        self.assertEqual(self.listed(tenants_path(1000006))["contents"][0]["obVersion"],
                         "4.2.5.1")  # the cluster's by default
        self.assertEqual(self.listed(tenants_path(1000007))["contents"], [])
        names = lambda q: [t["name"] for t in self.listed(tenants_path(1000005) + q)["contents"]]
        self.assertEqual(names("?mode=ORACLE"), ["orders"])
        self.assertEqual(names("?name=sys&status=NORMAL"), ["sys"])
        self.sim.control("POST", "config", {"list_page_limit": 1})
        rows, page = self.all_rows(tenants_path(1000005), 100)
        self.assertEqual(([r["id"] for r in rows], page["size"], page["totalPages"]),
                         ([1001, 1002], 1, 2))

    def test_history_newest_first(self):
        self.upload()
        rows = self.history(1000005)
        now = time.time()
        for row in rows:
            for key in ("startTime", "finishTime"):
                if key in row:
                    self.assertRegex(row[key], SUBTASK_DATE)
                    row[key] = round(now - ocp_time(row[key]))
        self.assertEqual(rows, [
            {"taskId": 8, "backupSetId": 4, "backupMode": "PHYSICAL_BACKUP",
             "dataBackupTaskType": "INCREMENTAL_BACKUP", "backupUri": "file:///obbackup/prod-a",
             "status": "DOING", "startTime": 600, "tenantId": 1002, "clusterId": 1000005},
            {"taskId": 7, "backupSetId": 3, "backupMode": "PHYSICAL_BACKUP",
             "dataBackupTaskType": "FULL_BACKUP", "backupUri": "oss://bucket/prod-a",
             "status": "FAILED", "startTime": 3600, "finishTime": 3000, "errorMsg": "disk full",
             "clusterId": 1000005},
            {"taskId": 6, "backupSetId": 2, "backupMode": "PHYSICAL_BACKUP",
             "dataBackupTaskType": "FULL_BACKUP", "backupUri": "file:///obbackup/prod-a",
             "status": "DONE", "startTime": 90000, "finishTime": 88200, "clusterId": 1000005}])
        self.sim.control("POST", "config", {"list_page_limit": 2})
        rows, page = self.all_rows(history_path(1000005), 2000)
        self.assertEqual(([r["taskId"] for r in rows], page["totalPages"]), ([8, 7, 6], 2))
        self.assertEqual(self.listed(history_path(1000006))["contents"], [])

    def test_history_ties_by_task_id(self):
        self.upload({"clusters": [{"id": 5, "name": "c", "history": [
            {"taskId": taskId, "status": "DONE", "started_ago": 100} for taskId in (2, 9, 4)]}]})
        self.assertEqual([r["taskId"] for r in self.history(5)], [9, 4, 2])

    def test_unknown_cluster(self):
        self.upload()
        for path in (tenants_path(1000008), history_path(1000008)):
            self.assert_error(self.sim.call("GET", path, headers=ADMIN), 404, "OBE11001",
                              "The specified cluster with the ID of 1000008 does not exist.")
        self.sim.control("POST", "reset", {})
        self.assertEqual(self.sim.call("GET", tenants_path(1000005), headers=ADMIN).status, 404)

    def test_authenticated_recorded_and_faulted(self):
        self.upload()
        for path in (CLUSTERS_PATH, tenants_path(1000005), history_path(1000005)):
            self.assert_error(self.sim.call("GET", path), 401, 0, UNAUTHENTICATED)
            self.assertEqual(self.last_request()["auth"], "none")
            reply = self.sim.call("GET", path, headers={"Authorization": basic("admin", "no")})
            self.assert_error(reply, 401, 0, UNAUTHENTICATED)
            self.assertEqual(self.last_request()["auth"], "rejected")
            reply = self.sim.call("GET", path + "?size=5",
                                  headers={"Authorization": basic("operator", "op-secret")})
            self.assert_envelope(reply, 200)
            self.assertEqual((self.last_request()["path"], self.last_request()["auth"]),
                             (path + "?size=5", "basic:operator"))
        self.sim.control("POST", "faults", {"kind": "raw", "status": 503, "path": "dataBackup"})
        self.assertEqual(self.sim.call("GET", CLUSTERS_PATH, headers=ADMIN).status, 200)
        self.assertEqual(self.sim.call("GET", history_path(1000005), headers=ADMIN).status, 503)
        reply = self.sim.call("POST", CLUSTERS_PATH, b"{}",
                              {"Content-Type": "application/json", **ADMIN})
        self.assert_error(reply, 405, 10003, "Request method 'POST' not supported")

    def test_list_page_limit_on_tasks_and_config(self):
        self.sim.control("POST", "config", {"task_seconds": 3600})
        first, second, third = (self.start_task(c) for c in (1, 2, 3))
        self.assertEqual(self.sim.control("POST", "config", {"list_page_limit": 2})
                         ["list_page_limit"], 2)
        data = self.listed("/api/v2/tasks/instances?size=100")
        self.assertEqual(([t["id"] for t in data["contents"]], data["page"]),
                         ([third, second], {"number": 1, "size": 2, "totalElements": 3,
                                            "totalPages": 2}))
        data = self.listed("/api/v2/tasks/instances?page=2&size=1")  # smaller: as asked
        self.assertEqual(([t["id"] for t in data["contents"]], data["page"]["size"]),
                         ([second], 1))
        for bad in (0, -1, True, "2", 1.5):
            self.sim.control("POST", "config", {"list_page_limit": bad}, expect=400)
        self.assertEqual(self.sim.control("POST", "config", {"list_page_limit": None})
                         ["list_page_limit"], None)


class FleetControl(FleetTestCase):
    def test_fleet_as_stored(self):
        before = time.time()
        self.upload()
        stored = self.sim.control("GET", "fleet")
        self.assertEqual(set(stored), {"uploaded_at", "clusters"})
        self.assertTrue(before - 1 < stored["uploaded_at"] < time.time() + 1)
        at = stored["uploaded_at"]
        self.assertEqual([c["id"] for c in stored["clusters"]], [1000005, 1000006, 1000007])
        prod_a = stored["clusters"][0]
        self.assertEqual(prod_a["tenants"][0], {
            "id": 1002, "name": "orders", "mode": "ORACLE", "status": "NORMAL",
            "obVersion": "4.2.1.0", "locked": True, "readonly": False,
            "created_at": at - 86400})
        self.assertEqual([j["taskId"] for j in prod_a["history"]], [6, 8, 7])  # as given
        self.assertEqual(prod_a["history"][1], {
            "taskId": 8, "backupSetId": 4, "backupMode": "PHYSICAL_BACKUP",
            "dataBackupTaskType": "INCREMENTAL_BACKUP", "status": "DOING",
            "started_at": at - 600, "backupUri": "file:///obbackup/prod-a", "tenantId": 1002})
        self.assertEqual(self.sim.control("GET", "fleet", expect=200)["clusters"][2]["history"],
                         [])

    def test_times_follow_the_skewed_clock(self):
        self.sim.control("POST", "config", {"clock_skew_seconds": -7200})
        self.upload({"clusters": [{"id": 5, "name": "c", "history": [
            {"taskId": 1, "status": "DONE", "started_ago": 60, "finished_ago": 0}]}]})
        row = self.history(5)[0]
        self.assertAlmostEqual(ocp_time(row["finishTime"]), time.time() - 7200, delta=5)

    def test_append_and_update_jobs(self):
        self.sim.control("POST", "config", {"list_page_limit": 1})
        self.upload()
        job = self.sim.control("POST", "fleet/clusters/1000005/jobs",
                               {"taskId": 9, "status": "BEGINNING", "started_ago": 0,
                                "backupMode": "LOGICAL_BACKUP"})
        self.assertEqual((job["taskId"], job["backupSetId"], job["status"]), (9, 9, "BEGINNING"))
        self.assertNotIn("finished_at", job)
        self.assertEqual(self.listed(history_path(1000005))["contents"][0]["taskId"], 9)
        self.sim.control("POST", "fleet/clusters/1000005/jobs",
                         {"taskId": 9, "status": "DONE", "started_ago": 0}, expect=409)
        self.sim.control("POST", "fleet/clusters/1000009/jobs",
                         {"taskId": 1, "status": "DONE", "started_ago": 0}, expect=404)
        self.sim.control("POST", "fleet/clusters/1000005/jobs",
                         {"taskId": 10, "status": "DONE", "started_ago": 0, "tenantId": 1003},
                         expect=400)  # a tenant of another cluster
        # OCP's schedule finishing the job.
        job = self.sim.control("POST", "fleet/clusters/1000005/jobs/9",
                               {"status": "DONE", "finished_ago": 0})
        self.assertEqual(job["status"], "DONE")
        row = self.listed(history_path(1000005))["contents"][0]
        self.assertEqual((row["taskId"], row["status"], row["backupMode"]),
                         (9, "DONE", "LOGICAL_BACKUP"))
        self.assertAlmostEqual(ocp_time(row["finishTime"]), time.time(), delta=5)
        # Failing the FAILED one again, its message changed, then taken away.
        self.sim.control("POST", "fleet/clusters/1000005/jobs/7", {"errorMsg": "quota"})
        self.assertEqual(self.history(1000005)[2]["errorMsg"], "quota")
        self.sim.control("POST", "fleet/clusters/1000005/jobs/7",
                         {"errorMsg": None, "finished_ago": None})
        self.assertNotIn("errorMsg", self.history(1000005)[2])
        self.assertNotIn("finishTime", self.history(1000005)[2])
        self.sim.control("POST", "fleet/clusters/1000005/jobs/99", {"status": "DONE"},
                         expect=404)
        self.sim.control("POST", "fleet/clusters/1000008/jobs/7", {"status": "DONE"},
                         expect=404)
        for bad in ({"status": "FINISHED"}, {"finish_ago": 0}, {"finished_ago": -1},
                    {"finished_ago": 7200}, {"taskId": 7}, None):
            self.sim.control("POST", "fleet/clusters/1000005/jobs/7", bad, expect=400)

    def test_delete_cluster(self):
        self.upload()
        self.assertEqual(self.sim.control("DELETE", "fleet/clusters/1000005"), {"ok": True})
        self.assertEqual([c["id"] for c in self.listed(CLUSTERS_PATH)["contents"]],
                         [1000006, 1000007])
        self.assertEqual(self.sim.call("GET", history_path(1000005), headers=ADMIN).status, 404)
        self.sim.control("DELETE", "fleet/clusters/1000005", expect=404)
        self.sim.control("GET", "fleet/clusters/1000006", expect=404)

    def test_validation(self):
        self.upload()
        cluster = {"id": 1, "name": "c"}
        job = {"taskId": 1, "status": "DONE", "started_ago": 10}
        tenant = {"id": 1, "name": "sys"}
        cases = [
            (None, "the fleet must be"),
            ([], "the fleet must be"),
            ({"cluster": []}, "the fleet must be"),
            ({"clusters": [], "generate": {"clusters": 1}}, "the fleet must be"),
            ({"clusters": {}}, "clusters must be a list"),
            ({"clusters": [{"id": 1}]}, "clusters[0].name is required"),
            ({"clusters": [{**cluster, "nmae": "x"}]}, "clusters[0]: unknown key(s): nmae"),
            ({"clusters": [{**cluster, "id": "1"}]}, "clusters[0].id must be a positive"),
            ({"clusters": [{**cluster, "id": True}]}, "clusters[0].id must be a positive"),
            ({"clusters": [cluster, cluster]}, "clusters[1]: cluster id 1 given twice"),
            ({"clusters": [{**cluster, "type": "primary"}]}, "clusters[0].type must be one of"),
            ({"clusters": [{**cluster, "status": "UP"}]}, "clusters[0].status must be one of"),
            ({"clusters": [{**cluster, "tenants": [{**tenant, "mode": "PG"}]}]},
             "clusters[0].tenants[0].mode must be one of MYSQL, ORACLE"),
            ({"clusters": [{**cluster, "tenants": [{**tenant, "locked": 0}]}]},
             "clusters[0].tenants[0].locked must be true or false"),
            ({"clusters": [{**cluster, "tenants": [tenant, {**tenant, "name": "t"}]}]},
             "clusters[0].tenants[1]: tenant id 1 given twice"),
            ({"clusters": [{**cluster, "history": [{**job, "status": "SUCCESSFUL"}]}]},
             "clusters[0].history[0].status must be one of BEGINNING"),
            ({"clusters": [{**cluster, "history": [{**job, "started_ago": None}]}]},
             "clusters[0].history[0].started_ago must be a number"),
            ({"clusters": [{**cluster, "history": [{**job, "finished_ago": 11}]}]},
             "finished_ago must not be more than started_ago"),
            ({"clusters": [{**cluster, "history": [{**job, "tenantId": 5}]}]},
             "clusters[0].history[0].tenantId 5 is not a tenant of cluster 1"),
            ({"clusters": [{**cluster, "history": [job, job]}]},
             "clusters[0].history[1]: taskId 1 given twice"),
            ({"clusters": [{**cluster, "history": [{**job, "dataBackupTaskType": "FULL"}]}]},
             "dataBackupTaskType must be one of FULL_BACKUP, INCREMENTAL_BACKUP"),
            ({"generate": {"clusters": 0}}, "generate.clusters must be an integer from 1"),
            ({"generate": {"clusters": 3, "sead": 1}}, "generate: unknown key(s): sead"),
            ({"generate": {"seed": 1}}, "generate.clusters is required"),
        ]
        for payload, message in cases:
            reply = self.sim.call("POST", "/__sim/fleet",
                                  None if payload is None else json_body(payload))
            self.assertEqual(reply.status, 400, payload)
            self.assertIn(message, reply.json()["error"], payload)
        # A refused upload leaves the fleet as it was.
        self.assertEqual(self.listed(CLUSTERS_PATH)["page"]["totalElements"], 3)
        self.upload({"clusters": []})
        self.assertEqual(self.listed(CLUSTERS_PATH)["contents"], [])

    def test_reset_clears_the_fleet(self):
        self.upload()
        self.sim.control("POST", "reset", {})
        self.assertEqual(self.sim.control("GET", "fleet"), {"uploaded_at": None, "clusters": []})
        self.assertEqual(self.listed(CLUSTERS_PATH)["page"]["totalElements"], 0)

    def test_unknown_fleet_endpoints(self):
        self.sim.control("PUT", "fleet", {}, expect=404)
        self.sim.control("GET", "fleet/clusters", expect=404)
        self.sim.control("GET", "fleet/clusters/1000005/jobs", expect=404)


class FleetGenerate(FleetTestCase):
    def relative(self, stored):
        """The fleet with its times made relative to the upload."""
        at = stored["uploaded_at"]
        for cluster in stored["clusters"]:
            logs = [log for t in cluster["tenants"] for log in t.get("logBackup", [])]
            for item in cluster["tenants"] + cluster["history"] + logs:
                for key in ("created_at", "started_at", "finished_at", "checkpoint_at",
                            "modified_at"):
                    if item.get(key) is not None:
                        item[key] = round(at - item[key], 3)
        return stored["clusters"]

    def test_same_seed_same_fleet(self):
        first = self.upload({"generate": {"clusters": 25, "seed": 7}})
        fleet = self.relative(self.sim.control("GET", "fleet"))
        self.assertEqual(self.upload({"generate": {"clusters": 25, "seed": 7}}), first)
        self.assertEqual(self.relative(self.sim.control("GET", "fleet")), fleet)
        other = self.upload({"generate": {"clusters": 25, "seed": 8}})
        self.assertNotEqual(self.relative(self.sim.control("GET", "fleet")), fleet)
        self.assertEqual(other["clusters"], 25)
        self.assertEqual(self.upload({"generate": {"clusters": 3}}),
                         self.upload({"generate": {"clusters": 3, "seed": 0}}))

    def test_every_kind_as_summarized(self):
        for seed in (1, 2, 3):
            summary = self.upload({"generate": {"clusters": 25, "seed": seed}})
            kinds = ("never_backed_up", "stale", "failing", "running", "fresh")
            self.assertEqual(list(summary), ["clusters", "tenants", "jobs"] + list(kinds))
            self.assertTrue(all(summary[kind] for kind in kinds), summary)
            self.assertEqual(sorted(i for kind in kinds for i in summary[kind]),
                             list(range(2000001, 2000026)))
            self.check_kinds(summary)

    def check_kinds(self, summary):
        """The lists, read the way a client would, agree with the summary."""
        self.sim.control("POST", "config", {"list_page_limit": 7})
        clusters, _ = self.all_rows(CLUSTERS_PATH, 2000)
        self.assertEqual([c["name"] for c in clusters],
                         ["fleet-%04d" % n for n in range(1, 26)])
        tenant_ids, jobs, now = [], 0, time.time()
        for cluster in clusters:
            tenants, _ = self.all_rows(tenants_path(cluster["id"]), 2000)
            self.assertEqual(tenants[0]["name"], "sys")
            self.assertIn(len(tenants), (2, 3, 4))
            tenant_ids += [t["id"] for t in tenants]
            history, _ = self.all_rows(history_path(cluster["id"]), 2000)
            jobs += len(history)
            self.assertIn(cluster["id"], summary[self.kind_of(history, now)])
        self.assertEqual(len(set(tenant_ids)), len(tenant_ids))  # unique across the fleet
        self.assertEqual((len(tenant_ids), jobs), (summary["tenants"], summary["jobs"]))

    def kind_of(self, history, now):
        if not history:
            return "never_backed_up"
        newest = history[0]
        if newest["status"] == "DOING":
            self.assertNotIn("finishTime", newest)
            return "running"
        if newest["status"] == "FAILED":
            self.assertTrue(newest["errorMsg"])
            return "failing"
        self.assertEqual(newest["status"], "DONE")
        self.assertGreater(len(history), 1)
        self.assertEqual({j["dataBackupTaskType"] for j in history[-1:]}, {"FULL_BACKUP"})
        age = now - ocp_time(newest["finishTime"])
        return "fresh" if age < 24 * 3600 else "stale"


MICRO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+08:00$")
# The fleet model of recoverability: an archive running, lagging (with the
# sample's fractional delay), interrupted, stopped, absent; every status
# value; a cluster without a strategy; a paused schedule.
RECOVER_FLEET = {"clusters": [
    {"id": 501, "name": "pitr", "backupSize": 1.5, "obStorageVolumeUnit": "TB",
     "history": [{"taskId": 1, "status": "DONE", "started_ago": 7200, "finished_ago": 3600}],
     "tenants": [
         {"id": 11, "name": "sys", "logBackup": {"status": "INPROGRESS", "checkpoint_ago": 30}},
         {"id": 12, "name": "orders", "logBackup": {"status": "RUNNING", "checkpoint_ago": 2400,
                                                    "delay": 77.6421}},
         {"id": 13, "name": "audit", "logBackup": [
             {"status": "STOPPED", "checkpoint_ago": 90000, "modified_ago": 86400},
             {"status": "INTERRUPTED", "checkpoint_ago": 7200, "delay": 7200,
              "errorMsg": "archive destination is not accessible (ret=-9081)"}]},
         {"id": 14, "name": "users"}]},
    {"id": 502, "name": "bare", "backupStrategy": False,
     "tenants": [{"id": 21, "name": "sys"}]},
    {"id": 503, "name": "paused", "backupScheduleStatus": "PAUSED",
     "tenants": [{"id": 31, "name": "sys", "logBackup": {"status": status}}
                 for status in ["STARTING"]] +
                [{"id": 32 + n, "name": "t%d" % n, "logBackup": {"status": status,
                                                                 "checkpoint_ago": 60}}
                 for n, status in enumerate(("STOPPING", "FAILED", "UNKNOWN", "STOPPED"))]},
]}


class FleetRecoverability(FleetTestCase):
    def overview(self, cluster_id):
        return self.listed("/api/v2/ob/clusters/%d/backup/overview" % cluster_id)

    def log_tasks(self, path):
        return self.all_rows(path, 2000)[0]

    def test_overview(self):
        self.upload(RECOVER_FLEET)
        data = self.overview(501)
        self.assertEqual(set(data), {"backupDimension", "obClusterBackupStatus",
                                     "backupScheduleStatus", "lastDataBackupTime",
                                     "latestLogBackupCheckpoint", "logBackupDelaySeconds",
                                     "backupSize", "obStorageVolumeUnit"})
        self.assertRegex(data["lastDataBackupTime"], SUBTASK_DATE)
        self.assertRegex(data["latestLogBackupCheckpoint"], MICRO_DATE)
        self.assertEqual((data["backupDimension"], data["obClusterBackupStatus"],
                          data["backupScheduleStatus"], data["backupSize"],
                          data["obStorageVolumeUnit"], data["logBackupDelaySeconds"]),
                         ("CLUSTER", "HAS_BACKUP_STRATEGY", "NORMAL", 1.5, "TB", 7200))
        # The earliest checkpoint of the tenants' latest rounds: audit's, 2 h ago.
        checkpoint = datetime.strptime(data["latestLogBackupCheckpoint"],
                                       "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        self.assertAlmostEqual(time.time() - checkpoint, 7200, delta=30)
        self.assertEqual(self.overview(502), {
            "backupDimension": "CLUSTER", "obClusterBackupStatus": "NO_BACKUP_STRATEGY",
            "backupScheduleStatus": "NONE"})
        self.assertEqual(self.overview(503)["backupScheduleStatus"], "PAUSED")
        reply = self.sim.call("GET", "/api/v2/ob/clusters/9/backup/overview", headers=ADMIN)
        self.assert_error(reply, 404, "OBE11001",
                          "The specified cluster with the ID of 9 does not exist.")

    def test_log_backup_tasks(self):
        self.upload(RECOVER_FLEET)
        rows = self.log_tasks("/api/v2/ob/clusters/501/backup/task/logBackupTasks")
        self.assertEqual([(r["tenantId"], r["tenantName"], r["obTenantId"], r["status"])
                          for r in rows],
                         [(11, "sys", 1, "INPROGRESS"), (12, "orders", 1002, "RUNNING"),
                          (13, "audit", 1004, "STOPPED"), (13, "audit", 1004, "INTERRUPTED")])
        documented = {"tenantId", "tenantName", "obTenantId", "status", "checkpoint", "delay",
                      "errorMsg", "backupUri", "createTime", "modifyTime", "agentServerIp"}
        for row in rows:
            self.assertLessEqual(set(row), documented)
            self.assertRegex(row["checkpoint"], MICRO_DATE)
            self.assertRegex(row["createTime"], SUBTASK_DATE)
            self.assertRegex(row["modifyTime"], SUBTASK_DATE)
            self.assertEqual(row["agentServerIp"], "127.0.0.7")
        self.assertEqual([r["delay"] for r in rows], [30, 77.6421, 90000, 7200])
        self.assertIsInstance(rows[0]["delay"], int)
        self.assertEqual(rows[3]["errorMsg"], "archive destination is not accessible (ret=-9081)")
        self.assertNotIn("errorMsg", rows[0])
        self.assertEqual(rows[1]["backupUri"], "file:///obbackup/pitr/orders/archive")
        # Paged, and per tenant (OCP 4.3); startTime and endTime are taken.
        self.sim.control("POST", "config", {"list_page_limit": 3})
        data = self.listed("/api/v2/ob/clusters/501/backup/task/logBackupTasks?page=2&size=10"
                           "&startTime=2024-01-01T00:00:00%2B08:00&endTime=")
        self.assertEqual((len(data["contents"]), data["page"]["totalPages"]), (1, 2))
        self.sim.control("POST", "config", {"list_page_limit": None})
        rows = self.log_tasks("/api/v2/ob/clusters/501/tenants/12/backup/task/logBackupTasks")
        self.assertEqual([r["tenantId"] for r in rows], [12])
        self.assertEqual(self.log_tasks("/api/v2/ob/clusters/502/backup/task/logBackupTasks"), [])
        reply = self.sim.call("GET", "/api/v2/ob/clusters/501/tenants/99/backup/task/"
                              "logBackupTasks", headers=ADMIN)
        self.assert_error(reply, 404, "OBE11002",
                          "The specified tenant with the ID of 99 does not exist.")
        # Every status value; one without a checkpoint yet.
        rows = self.log_tasks("/api/v2/ob/clusters/503/backup/task/logBackupTasks")
        self.assertEqual([r["status"] for r in rows],
                         ["STARTING", "STOPPING", "FAILED", "UNKNOWN", "STOPPED"])
        self.assertNotIn("checkpoint", rows[0])

    def test_bad_log_backup_refused(self):
        for tenant in ({"id": 1, "name": "sys", "logBackup": {"status": "GOOD"}},
                       {"id": 1, "name": "sys", "logBackup": {"checkpoint_ago": 1}},
                       {"id": 1, "name": "sys", "logBackup": {"status": "STOPPED", "delay": -1}},
                       {"id": 1, "name": "sys", "logBackup": {"status": "STOPPED", "x": 1}}):
            self.upload({"clusters": [{"id": 1, "name": "c", "tenants": [tenant]}]}, expect=400)
        for cluster in ({"backupScheduleStatus": "RUNNING"}, {"backupStrategy": "yes"},
                        {"backupSize": -1}, {"obStorageVolumeUnit": "GiB"}):
            self.upload({"clusters": [{"id": 1, "name": "c", **cluster}]}, expect=400)

    def test_generated_archives(self):
        self.upload({"generate": {"clusters": 200, "seed": 3}})
        clusters = self.sim.control("GET", "fleet")["clusters"]
        statuses = {log["status"] for c in clusters for t in c["tenants"]
                    for log in t.get("logBackup", [])}
        self.assertEqual(statuses, {"INPROGRESS", "RUNNING", "INTERRUPTED", "STOPPED"})
        self.assertTrue(any(not c["backupStrategy"] for c in clusters))
        self.assertTrue(any(c["backupScheduleStatus"] == "PAUSED" for c in clusters))
        self.assertTrue(any(all("logBackup" not in t for t in c["tenants"]) for c in clusters))
        lagging = [c for c in clusters if any(
            log["status"] in ("INPROGRESS", "RUNNING") and log["checkpoint_at"] < time.time() - 900
            for t in c["tenants"] for log in t.get("logBackup", []))]
        self.assertTrue(lagging)
        self.assertEqual(self.overview(clusters[0]["id"])["backupDimension"], "CLUSTER")



class FleetBackupNow(FleetTestCase):
    def fleet_backup(self, path, body=BACKUP_BODY):
        return self.sim.call("POST", path, json_body(body),
                             {"Content-Type": "application/json", **ADMIN})

    def test_job_follows_the_task(self):
        self.upload()
        self.sim.control("POST", "config", {"task_seconds": 3600})
        body = {**BACKUP_BODY, "dataBackupMode": "INCREMENTAL_BACKUP"}
        reply = self.fleet_backup(backup_path(1000005), body)
        task_id = self.assert_envelope(reply, 200)["data"]["backupObjectOpsResultList"][0][
            "taskIdList"][0]
        task = self.sim.task(task_id).json()["data"]
        self.assertEqual(task["cluster"], {"id": 1000005, "name": "prod-a",
                                           "obClusterId": 1000005, "type": "PRIMARY"})
        job = self.history(1000005)[0]
        self.assertEqual(job, {"taskId": 9, "backupSetId": 5, "backupMode": "PHYSICAL_BACKUP",
                               "dataBackupTaskType": "INCREMENTAL_BACKUP",
                               "backupUri": "file:///obbackup/prod-a", "status": "DOING",
                               "startTime": job["startTime"], "clusterId": 1000005})
        self.assertAlmostEqual(ocp_time(job["startTime"]), ocp_time(task["createTime"]),
                               delta=0.002)
        self.assertEqual(self.sim.control("GET", "fleet")["clusters"][0]["history"][-1]
                         ["ocpTaskId"], task_id)
        self.sim.control("POST", "config", {"clock_skew_seconds": 3601})
        job = self.history(1000005)[0]
        task = self.sim.task(task_id).json()["data"]
        self.assertEqual((job["taskId"], job["status"]), (9, "DONE"))
        self.assertAlmostEqual(ocp_time(job["finishTime"]), ocp_time(task["finishTime"]),
                               delta=0.002)
        self.assertNotIn("errorMsg", job)

    def test_failed_and_forced_tasks(self):
        self.upload()
        self.sim.control("POST", "config", {"task_seconds": 0, "task_outcome": "FAILED"})
        self.start_task(1000006)
        job = self.history(1000006)[0]
        self.assertEqual((job["taskId"], job["backupSetId"], job["status"], job["errorMsg"]),
                         (1, 1, "FAILED", "backup failed"))
        self.assertIn("finishTime", job)
        self.sim.control("POST", "config", {"task_seconds": 3600, "task_outcome": "SUCCESSFUL"})
        task_id = self.start_task(1000006)
        self.assertEqual([j["status"] for j in self.history(1000006)], ["DOING", "FAILED"])
        self.sim.control("POST", "tasks/%d" % task_id, {"status": "SUCCESSFUL"})
        self.assertEqual([j["status"] for j in self.history(1000006)], ["DONE", "FAILED"])
        # A refused backupNow (a task already runs) adds no job.
        self.sim.control("POST", "tasks/%d" % task_id, {"status": "RUNNING"})
        self.assertIn(b"BAK31005", self.sim.backup(1000006).body)
        self.assertEqual([j["status"] for j in self.history(1000006)], ["DOING", "FAILED"])
        # Updated by the control API, the job no longer follows its task.
        self.sim.control("POST", "fleet/clusters/1000006/jobs/2", {"status": "CANCELED"})
        self.sim.control("POST", "tasks/%d" % task_id, {"status": "SUCCESSFUL"})
        self.assertEqual([j["status"] for j in self.history(1000006)], ["CANCELED", "FAILED"])
        self.assertNotIn("ocpTaskId", self.sim.control("GET", "fleet")["clusters"][1]
                         ["history"][1])

    def test_tenant_path(self):
        self.upload()
        self.sim.control("POST", "config", {"task_seconds": 0})
        path = "/api/v2/ob/clusters/%d/tenants/%d/backup/backupNow"
        self.assert_error(self.fleet_backup(path % (1000005, 1003)), 404, "OBE11002",
                          "The specified tenant with the ID of 1003 does not exist.")
        self.assertEqual(self.sim.task(3000041).status, 404)  # no task made
        reply = self.fleet_backup(path % (1000005, 1002))
        task_id = self.assert_envelope(reply, 200)["data"]["backupObjectOpsResultList"][0][
            "taskIdList"][0]
        self.assertEqual(self.sim.task(task_id).json()["data"]["tenant"],
                         {"id": 1002, "name": "orders"})
        job = self.history(1000005)[0]
        self.assertEqual((job["taskId"], job["tenantId"], job["status"]), (9, 1002, "DONE"))
        # Outside the fleet, any tenant still goes, and no history appears.
        self.assert_envelope(self.fleet_backup(path % (8, 1003)), 200)
        self.assertEqual(self.sim.call("GET", history_path(8), headers=ADMIN).status, 404)

    def test_cluster_outside_the_fleet_unchanged(self):
        self.upload()
        task = self.sim.task(self.start_task(8)).json()["data"]
        self.assertEqual(task["cluster"], {"id": 8, "name": "cluster8", "obClusterId": 8,
                                           "type": "PRIMARY"})
        self.assertEqual([c["id"] for c in self.listed(CLUSTERS_PATH)["contents"]],
                         [1000005, 1000006, 1000007])
        self.sim.control("DELETE", "fleet/clusters/1000007")
        task = self.sim.task(self.start_task(1000007)).json()["data"]
        self.assertEqual(task["cluster"]["name"], "cluster1000007")


# ---------------------------------------------------------------------------
# Simulators of their own: default credentials, TLS, signals.

class OwnSimulator(unittest.TestCase):
    def start(self, *args):
        sim = Simulator(*args)
        self.addCleanup(sim.cleanup)
        return sim

    def assert_clean_exit(self, sim, signum=signal.SIGTERM):
        started = time.monotonic()
        self.assertEqual(sim.stop(signum), 0)
        self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(sim.output()[1], "")


class DefaultCredentials(OwnSimulator):
    def test_admin_admin_by_default(self):
        sim = self.start()
        self.assertEqual(sim.port_file_text, "%d\n" % sim.port)
        self.assertEqual(sim.backup(8).status, 200)
        self.assertEqual(sim.backup(9, headers={"Authorization": basic("admin", "x")}).status,
                         401)
        self.assert_clean_exit(sim)
        self.assertEqual(sim.output()[0], "ocp_sim listening on http://127.0.0.1:%d\n" % sim.port)


class Signals(OwnSimulator):
    def hang_one_connection(self, sim):
        sim.control("POST", "faults", {"kind": "hang"})
        conn = sim.connect(timeout=5)
        self.addCleanup(conn.close)
        conn.request("GET", "/api/v2/tasks/instances", headers=ADMIN)
        time.sleep(0.1)
        return conn

    def test_sigterm_while_hanging(self):
        sim = self.start()
        conn = self.hang_one_connection(sim)
        self.assert_clean_exit(sim, signal.SIGTERM)
        # The hanging connection was closed, not left dangling.
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()

    def test_sigint_while_hanging(self):
        sim = self.start()
        self.hang_one_connection(sim)
        self.assert_clean_exit(sim, signal.SIGINT)


@unittest.skipIf(shutil.which("openssl") is None,
                 "the openssl command is missing: cannot make a throwaway certificate")
class Tls(OwnSimulator):
    def make_certificate(self):
        directory = tempfile.mkdtemp(prefix="ocp_sim_tls.")
        self.addCleanup(shutil.rmtree, directory, True)
        cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return cert, key

    def test_https(self):
        cert, key = self.make_certificate()
        sim = self.start("--basic", "admin:admin", "--tls-cert", cert, "--tls-key", key)
        sim.tls_context = ssl.create_default_context(cafile=cert)
        # A client that connects and never starts the handshake blocks no one.
        idle = socket.create_connection(("127.0.0.1", sim.port))
        self.addCleanup(idle.close)
        # Nor does a client speaking plain HTTP to the TLS port.
        plain = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=2)
        with self.assertRaises((http.client.HTTPException, OSError)):
            plain.request("GET", "/api/v2/time")
            plain.getresponse()
        plain.close()
        started = time.monotonic()
        conn = sim.connect()
        try:
            for cluster_id in (8, 9):
                self.assertEqual(sim.backup(cluster_id, conn=conn).status, 200)
        finally:
            conn.close()
        self.assertLess(time.monotonic() - started, 2)
        records = sim.requests()
        self.assertEqual([(r["tls"], r["auth"]) for r in records], [(True, "basic:admin")] * 2)
        self.assertEqual(records[0]["conn"], records[1]["conn"])
        self.assert_clean_exit(sim)
        self.assertEqual(sim.output()[0],
                         "ocp_sim listening on https://127.0.0.1:%d\n" % sim.port)


if __name__ == "__main__":
    unittest.main()
