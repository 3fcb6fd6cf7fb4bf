#!/usr/bin/env python3
"""Self-test of test/proxy.py and of the simulator's --path-prefix.

Runs a simulator with a path prefix, one without, and the proxy, on free
loopback ports, and checks forwarding (Host and body unchanged, so AK/SK
still verifies), the CONNECT tunnel, the refusal of non-loopback targets,
the proxy's log and control API, and that the prefixed simulator signs
over the path as received.  Standard library only.

    python3 test/test_proxy.py -v
"""

import base64
import email.utils
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ocp_sim  # noqa: E402

AK, SK = "proxy-test-ak", "proxy-test-sk"
BODY = json.dumps({"backupMode": "PHYSICAL_BACKUP", "dataBackupMode": "FULL_BACKUP",
                   "obBackupServiceStorageConfig": {"configName": "nfs0907"}}).encode()
BACKUP_PATH = "/api/v2/ob/clusters/8/backup/backupNow"
BASIC = "Basic " + base64.b64encode(b"admin:admin").decode()


def start(script, work, name, *args):
    port_file = os.path.join(work, name + ".port")
    log = open(os.path.join(work, name + ".log"), "w")
    process = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0",
                                "--port-file", port_file, *args],
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    for _ in range(100):
        if os.path.exists(port_file):
            with open(port_file) as f:
                return process, int(f.read())
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("%s did not start" % script)


def signed_headers(method, host, path, body=b"", query=""):
    date = email.utils.formatdate(time.time(), usegmt=True)
    content_type = "application/json" if body else None
    text = ocp_sim.string_to_sign(method, body, content_type, date, host, {}, path, query)
    headers = {"Host": host, "Date": date,
               "Authorization": "OCP-ACCESS-KEY-HMACSHA1 %s:%s" % (AK, ocp_sim.sign(SK, text))}
    if body:
        headers["Content-Type"] = content_type
    return headers


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="test_proxy.")
        credentials = ("--basic", "admin:admin", "--access-key", AK + ":" + SK)
        cls.sim, cls.sim_port = start("ocp_sim.py", cls.work, "sim", *credentials)
        cls.psim, cls.psim_port = start("ocp_sim.py", cls.work, "psim", *credentials,
                                        "--path-prefix", "/gw/ocp/")
        cls.proxy, cls.proxy_port = start("proxy.py", cls.work, "proxy",
                                          "--log", os.path.join(cls.work, "proxy.jsonl"))

    @classmethod
    def tearDownClass(cls):
        for process in (cls.sim, cls.psim, cls.proxy):
            process.terminate()
            process.wait(10)
        shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.call(self.proxy_port, "POST", "/__proxy/reset")
        self.call(self.sim_port, "POST", "/__sim/reset", b"{}")
        self.call(self.psim_port, "POST", "/__sim/reset", b"{}")

    def call(self, port, method, target, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.getheader("Connection"), response.read()
        finally:
            conn.close()

    def proxy_log(self):
        _, _, body = self.call(self.proxy_port, "GET", "/__proxy/requests")
        return [json.loads(line) for line in body.decode().splitlines()]

    def sim_record(self, port):
        _, _, body = self.call(port, "GET", "/__sim/requests")
        return [json.loads(line) for line in body.decode().splitlines()]

    def test_forwards_basic_get(self):
        host = "127.0.0.1:%d" % self.sim_port
        status, connection, body = self.call(
            self.proxy_port, "GET", "http://%s/api/v2/tasks/instances?page=1&size=1" % host,
            headers={"Host": host, "Authorization": BASIC})
        self.assertEqual(status, 200)
        self.assertEqual(connection, "close")
        self.assertTrue(json.loads(body)["successful"])
        [seen] = self.proxy_log()
        self.assertEqual((seen["method"], seen["status"], seen["refused"], seen["host"]),
                         ("GET", 200, False, host))
        [received] = self.sim_record(self.sim_port)
        self.assertEqual(received["path"], "/api/v2/tasks/instances?page=1&size=1")
        self.assertEqual(received["headers"]["host"], host)
        self.assertEqual(received["auth"], "basic:admin")
        with open(os.path.join(self.work, "proxy.jsonl")) as f:
            self.assertIn('"method":"GET"', f.read())

    def test_forwards_signed_post(self):
        host = "127.0.0.1:%d" % self.sim_port
        status, _, body = self.call(self.proxy_port, "POST", "http://%s%s" % (host, BACKUP_PATH),
                                    BODY, signed_headers("POST", host, BACKUP_PATH, BODY))
        self.assertEqual(status, 200, body)
        [received] = self.sim_record(self.sim_port)
        self.assertEqual(received["auth"], "aksk:" + AK)
        self.assertEqual(received["body"], BODY.decode())

    def test_refuses_other_targets(self):
        status, _, _ = self.call(self.proxy_port, "GET", "http://ocp.example.invalid/api/v2/time",
                                 headers={"Host": "ocp.example.invalid"})
        self.assertEqual(status, 403)
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        conn.set_tunnel("ocp.example.invalid", 443)
        with self.assertRaises(OSError):
            conn.request("GET", "/")
        conn.close()
        self.assertEqual([(e["method"], e["status"], e["refused"]) for e in self.proxy_log()],
                         [("GET", 403, True), ("CONNECT", 403, True)])

    def test_tunnel(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        conn.set_tunnel("127.0.0.1", self.sim_port)
        conn.request("GET", "/api/v2/time")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        response.read()
        conn.close()
        [seen] = self.proxy_log()
        self.assertEqual((seen["method"], seen["target"]), ("CONNECT", "127.0.0.1:%d" % self.sim_port))

    def test_log_since_and_own_address(self):
        host = "127.0.0.1:%d" % self.sim_port
        for _ in range(2):
            self.call(self.proxy_port, "GET", "http://%s/api/v2/time" % host, headers={"Host": host})
        # A client that proxies everything asks the proxy about itself.
        _, _, body = self.call(self.proxy_port, "GET",
                               "http://127.0.0.1:%d/__proxy/requests?since=1" % self.proxy_port)
        self.assertEqual([json.loads(line)["seq"] for line in body.decode().splitlines()], [2])

    def test_prefixed_simulator(self):
        host = "127.0.0.1:%d" % self.psim_port
        full = "/gw/ocp" + BACKUP_PATH
        status, _, body = self.call(self.psim_port, "POST", full, BODY,
                                    signed_headers("POST", host, full, BODY))
        self.assertEqual(status, 200, body)
        # Signed over the path without the prefix: not what was received.
        status, _, _ = self.call(self.psim_port, "POST", full, BODY,
                                 signed_headers("POST", host, BACKUP_PATH, BODY))
        self.assertEqual(status, 401)
        status, _, body = self.call(self.psim_port, "GET", "/api/v2/tasks/instances",
                                    headers={"Authorization": BASIC})
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"]["code"], ocp_sim.CODE_NOT_FOUND)
        status, _, _ = self.call(self.psim_port, "GET", "/gw/ocp/api/v2/time")
        self.assertEqual(status, 200)
        # Signed GET with a query, through the proxy.
        path, query = "/gw/ocp/api/v2/tasks/instances", "size=1&page=1"
        status, _, body = self.call(self.proxy_port, "GET", "http://%s%s?%s" % (host, path, query),
                                    headers=signed_headers("GET", host, path, query=query))
        self.assertEqual(status, 200, body)
        self.assertEqual([(r["path"], r["auth"]) for r in self.sim_record(self.psim_port)],
                         [(full, "aksk:" + AK), (full, "rejected"),
                          ("/api/v2/tasks/instances", "none"), ("/gw/ocp/api/v2/time", "none"),
                          (path + "?" + query, "aksk:" + AK)])


if __name__ == "__main__":
    unittest.main()
