"""Self-test of the OCP simulator: its signature code against the published
vectors, its authentication, task states, faults and request record.

    python3 test/test_ocp_sim.py
"""

import base64
import email.utils
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocp_sim  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = {"backupMode": "PHYSICAL_BACKUP", "dataBackupMode": "FULL_BACKUP",
        "obBackupServiceStorageConfig": {"configName": "c"}}


class PublishedVectors(unittest.TestCase):
    """The two worked examples of ocp-api.md section 2b."""

    sk = "2fc0c299cc94c6be266f2ceece765d4d"

    def test_post_vector(self):
        body = b'{"name":"test01","description":"test","regionId":1}'
        text = ocp_sim.string_to_sign("POST", body, "application/json",
                                      "Tue, 17 Jan 2023 09:13:57 GMT", "ocp.alibaba.net:8080",
                                      [("x-ocp-data", "A,1")], "/api/v2/compute/idcs", "")
        self.assertEqual(text, "POST\n186974DB33A090A16D3E2CA35F547B56\napplication/json\n"
                               "Tue, 17 Jan 2023 09:13:57 GMT\nocp.alibaba.net:8080\n"
                               "x-ocp-data:A,1\n/api/v2/compute/idcs")
        self.assertEqual(ocp_sim.signature(self.sk, text), "XN8P+O+v3vUabB16ZCooq5wMJoY=")

    def test_get_vector(self):
        text = ocp_sim.string_to_sign("GET", b"", "application/json;charset=utf-8",
                                      "Tue, 17 Jan 2023 04:14:02 GMT", "ocp.alibaba.net:8080",
                                      [], "/api/v2/compute/idcs", "size=100")
        self.assertEqual(ocp_sim.signature(self.sk, text), "TsQD6HDOuZuJ409m0wdnZPmijlc=")

    def test_query_sorted_and_encoded(self):
        self.assertEqual(ocp_sim.canonical_query("status=RUNNING,FAILED&clusterId=8"),
                         "clusterId=8&status=RUNNING%2CFAILED")


class Running(unittest.TestCase):
    """Against a simulator process on a free loopback port."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(cls.dir.name, "port")
        cls.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "ocp_sim.py"), "--port", "0",
             "--port-file", port_file, "--basic", "admin:admin", "--access-key", "AK1:SK1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            cls.port = int(f.read())

    @classmethod
    def tearDownClass(cls):
        cls.process.terminate()
        _, stderr = cls.process.communicate(timeout=10)
        cls.dir.cleanup()
        if b"Traceback" in stderr:
            raise AssertionError("the simulator printed a traceback:\n" + stderr.decode())

    def setUp(self):
        self.call("POST", "/__sim/reset", b"{}")

    def call(self, method, path, body=b"", headers=None, conn=None, timeout=5):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return response.status, response.read(), response
        finally:
            if own:
                conn.close()

    def basic(self, user="admin", password="admin"):
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        return {"Authorization": "Basic " + token, "Content-Type": "application/json"}

    def signed(self, method, path, body, secret="SK1", date=None):
        date = date or email.utils.formatdate(usegmt=True)
        host = "127.0.0.1:%d" % self.port
        path_only, _, query = path.partition("?")
        text = ocp_sim.string_to_sign(method, body, "application/json", date, host, [],
                                      path_only, query)
        return {"Authorization": "OCP-ACCESS-KEY-HMACSHA1 AK1:" + ocp_sim.signature(secret, text),
                "Date": date, "Host": host, "Content-Type": "application/json"}

    def backup(self, cluster=8, headers=None):
        body = json.dumps(BODY).encode()
        path = "/api/v2/ob/clusters/%d/backup/backupNow" % cluster
        status, data, _ = self.call("POST", path, body, headers or self.basic())
        return status, json.loads(data)

    def test_basic_auth(self):
        status, answer = self.backup()
        self.assertEqual(status, 200)
        self.assertTrue(answer["successful"])
        status, answer = self.backup(headers=self.basic(password="wrong"))
        self.assertEqual(status, 401)
        self.assertFalse(answer["successful"])
        self.assertIn("logon", answer["error"]["message"])

    def test_aksk(self):
        body = json.dumps(BODY).encode()
        path = "/api/v2/ob/clusters/8/backup/backupNow"
        status, _, _ = self.call("POST", path, body, self.signed("POST", path, body))
        self.assertEqual(status, 200)
        status, data, _ = self.call("POST", path, body, self.signed("POST", path, body, "SK2"))
        self.assertEqual(status, 401)
        self.assertNotIn("SK1", data.decode())
        stale = email.utils.formatdate(time.time() - 900, usegmt=True)
        status, data, _ = self.call("POST", path, body, self.signed("POST", path, body, date=stale))
        self.assertEqual(status, 401)
        self.assertIn("away", json.loads(data)["error"]["debugMessage"])
        path = "/api/v2/tasks/instances?size=1&page=1"
        status, _, _ = self.call("GET", path, b"", self.signed("GET", path, b""))
        self.assertEqual(status, 200)

    def test_backup_then_refused_then_missing_cluster(self):
        self.call("POST", "/__sim/config", b'{"task_seconds": 60}')
        _, first = self.backup()
        task_id = first["data"]["backupObjectOpsResultList"][0]["taskIdList"][0]
        self.assertEqual(task_id, 3000041)
        _, second = self.backup()
        result = second["data"]["backupObjectOpsResultList"][0]
        self.assertFalse(result["beSuccessful"])
        self.assertEqual(result["errorCode"], "BAK31005")
        status, answer = self.backup(cluster=99)
        self.assertEqual(status, 404)
        self.assertEqual(answer["error"]["code"], "OBE11001")

    def test_task_progress_and_string_ids(self):
        self.call("POST", "/__sim/config",
                  b'{"task_seconds": 0.3, "task_ids_as_strings": true, "task_id_base": 9007199254740993}')
        _, answer = self.backup()
        task_id = answer["data"]["backupObjectOpsResultList"][0]["taskIdList"][0]
        self.assertEqual(task_id, "9007199254740993")
        _, data, _ = self.call("GET", "/api/v2/tasks/instances/" + task_id, headers=self.basic())
        self.assertEqual(json.loads(data)["data"]["status"], "RUNNING")
        time.sleep(0.4)
        _, data, _ = self.call("GET", "/api/v2/tasks/instances/" + task_id, headers=self.basic())
        task = json.loads(data)["data"]
        self.assertEqual(task["status"], "SUCCESSFUL")
        self.assertEqual([s["status"] for s in task["subtasks"]], ["SUCCESSFUL"] * 4)
        status, data, _ = self.call("GET", "/api/v2/tasks/instances/5", headers=self.basic())
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(data)["error"]["code"], "TSK10001")

    def test_keep_alive_and_record(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            for _ in range(3):
                self.call("GET", "/api/v2/time", conn=conn)
        finally:
            conn.close()
        _, data, _ = self.call("GET", "/__sim/requests")
        records = [json.loads(line) for line in data.decode().splitlines()]
        self.assertEqual([r["seq"] for r in records], [1, 2, 3])
        self.assertEqual(len({r["conn"] for r in records}), 1)

    def test_faults(self):
        faults = [{"kind": "envelope", "status": 500, "code": 60018, "message": "boom"},
                  {"kind": "raw", "status": 502, "body": "<html>bad gateway</html>",
                   "content_type": "text/html"},
                  {"kind": "rate_limit", "reset": 7}]
        self.call("POST", "/__sim/faults", json.dumps(faults).encode())
        status, answer = self.backup()
        self.assertEqual((status, answer["error"]["code"]), (500, 60018))
        status, data, _ = self.call("POST", "/api/v2/ob/clusters/8/backup/backupNow", b"{}",
                                    self.basic())
        self.assertEqual((status, data), (502, b"<html>bad gateway</html>"))
        status, _, response = self.call("POST", "/api/v2/ob/clusters/8/backup/backupNow", b"{}",
                                        self.basic())
        self.assertEqual((status, response.getheader("RateLimit-Reset")), (429, "7"))

    def test_hang_and_stall_time_out(self):
        for kind in ("hang", "stall"):
            self.call("POST", "/__sim/faults", json.dumps({"kind": kind}).encode())
            with self.assertRaises((socket.timeout, TimeoutError)):
                self.call("GET", "/api/v2/tasks/instances/1", headers=self.basic(), timeout=0.3)

    def test_close_and_reset(self):
        for kind in ("close", "reset"):
            self.call("POST", "/__sim/faults", json.dumps({"kind": kind}).encode())
            with self.assertRaises((http.client.HTTPException, ConnectionError)):
                self.call("GET", "/api/v2/tasks/instances/1", headers=self.basic())


if __name__ == "__main__":
    unittest.main()
