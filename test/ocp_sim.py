#!/usr/bin/env python3
"""ocp_sim.py - a small OCP (OceanBase Cloud Platform) REST API simulator.

Speaks the parts of the OCP API that ocp_backup uses, with OCP's response
envelope, HTTP Basic and AK/SK authentication (verified by its own signature
code, independent of the extension's), task state that moves on with time,
injectable faults, and a record of every request received, which tests read
back through the control API under /__sim/.

Standard library only.  Listens on loopback by default.

    python3 test/ocp_sim.py --port 8080
    curl -s http://127.0.0.1:8080/__sim/requests
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

TZ = timezone(timedelta(hours=8))
SIGNATURE_WINDOW_SECONDS = 15 * 60
UNAUTHENTICATED = ("The current user has not logged on or a logon error has "
                   "occurred. Please log on and try again.")
THROTTLED = ("Excessive number of requests. You have exceeded the request "
             "limit for the current throttling window.")
BACKUP_MODES = ("LOGICAL_BACKUP", "PHYSICAL_BACKUP")
DATA_MODES = ("FULL_BACKUP", "INCREMENTAL_BACKUP")
SUBTASK_NAMES = ("Check backup config", "Start data backup",
                 "Wait data backup", "Record backup result")
TERMINAL = ("SUCCESSFUL", "FAILED")


def default_config():
    return {
        "task_seconds": 10.0,
        "task_outcome": "SUCCESSFUL",
        "task_ids_as_strings": False,
        "task_id_base": 3000041,
        "missing_clusters": [99],
        "clock_skew_seconds": 0.0,
    }


# ---- the AK/SK signature, written from ocp-api.md section 2b ----

def rfc3986(text):
    return urllib.parse.quote(text, safe="-._~")


def canonical_query(raw_query):
    """Query parameters sorted by key (then value), re-encoded per RFC 3986."""
    pairs = []
    for piece in raw_query.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        pairs.append((urllib.parse.unquote_to_bytes(key),
                      urllib.parse.unquote_to_bytes(value)))
    pairs.sort()
    return "&".join(rfc3986(k) + "=" + rfc3986(v) for k, v in pairs)


def string_to_sign(method, body, content_type, date, host, ocp_headers, path, raw_query):
    md5 = hashlib.md5(body).hexdigest().upper() if body else ""
    headers = "\n".join("%s:%s" % (name.lower(), value)
                        for name, value in sorted(ocp_headers, key=lambda h: h[0].lower()))
    path_and_query = path
    query = canonical_query(raw_query) if raw_query else ""
    if query:
        path_and_query += "?" + query
    return "\n".join([method.upper(), md5, content_type or "", date, host,
                      headers, path_and_query])


def signature(secret, text):
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# ---- time formats OCP uses ----

def iso_colon(ts):
    """2021-08-25T15:09:31.740+08:00"""
    dt = datetime.fromtimestamp(ts, TZ)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+08:00" % (dt.microsecond // 1000)


def iso_no_colon(ts):
    """2021-09-16T17:25:02.993+0800"""
    dt = datetime.fromtimestamp(ts, TZ)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0800" % (dt.microsecond // 1000)


class ApiError(Exception):
    def __init__(self, status, code, message, debug=None, sub_errors=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.debug, self.sub_errors = debug, sub_errors


class Simulator:
    """All state, guarded by one lock: requests, tasks, faults, config."""

    def __init__(self, basic, access_keys):
        self.basic = basic
        self.access_keys = access_keys
        self.lock = threading.Lock()
        self.connections = 0
        self.stopping = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.tasks = {}
            self.faults = []
            self.answers = 0
            self.config = default_config()
            self.next_task_id = self.config["task_id_base"]

    def now(self):
        return time.time() + self.config["clock_skew_seconds"]

    def next_trace_id(self, headers):
        with self.lock:
            self.answers += 1
            counter = self.answers
        return headers.get("x-trace-id") or "5962f337%08x" % counter

    def record(self, entry):
        with self.lock:
            entry["seq"] = len(self.requests) + 1
            self.requests.append(entry)

    def take_fault(self, path):
        with self.lock:
            for fault in self.faults:
                if fault.get("count", 1) > 0 and fault.get("path", "/api/") in path:
                    fault["count"] = fault.get("count", 1) - 1
                    return fault
        return None

    # -- authentication --

    def authenticate(self, method, path, raw_query, headers, body):
        """Returns the record's auth label; raises ApiError(401) when refused."""
        authorization = headers.get("authorization")
        if authorization is None:
            raise ApiError(401, 0, UNAUTHENTICATED, "no Authorization header")
        if authorization.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ApiError(401, 0, UNAUTHENTICATED, "malformed Basic credentials")
            if self.basic.get(user) != password:
                raise ApiError(401, 0, UNAUTHENTICATED, "wrong user name or password")
            return "basic:" + user
        match = re.fullmatch(r"OCP-ACCESS-KEY-HMACSHA1 ([^:]+):(\S+)", authorization)
        if match is None:
            raise ApiError(401, 0, UNAUTHENTICATED, "unknown authorization scheme")
        key_id, sent = match.groups()
        secret = self.access_keys.get(key_id)
        if secret is None:
            raise ApiError(401, 0, UNAUTHENTICATED, "unknown access key")
        self.check_date(headers.get("date"))
        ocp_headers = [(n, v) for n, v in headers.items() if n.lower().startswith("x-ocp")]
        text = string_to_sign(method, body, headers.get("content-type"),
                              headers.get("date"), headers.get("host", ""),
                              ocp_headers, path, raw_query)
        if not hmac.compare_digest(signature(secret, text), sent):
            raise ApiError(401, 0, UNAUTHENTICATED, "signature mismatch")
        return "aksk:" + key_id

    def check_date(self, date):
        if not date:
            raise ApiError(401, 0, UNAUTHENTICATED, "no Date header")
        try:
            sent = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            raise ApiError(401, 0, UNAUTHENTICATED, "unreadable Date header")
        away = abs(self.now() - sent)
        if away >= SIGNATURE_WINDOW_SECONDS:
            raise ApiError(401, 0, UNAUTHENTICATED,
                           "date is %d s away from server time" % away)

    # -- tasks --

    def task_status(self, task, now):
        if task.get("forced"):
            return task["forced"]
        if now >= task["created"] + task["seconds"]:
            return task["outcome"]
        return "RUNNING"

    def running_task_of(self, cluster_id, now):
        for task in self.tasks.values():
            if task["cluster_id"] == cluster_id and self.task_status(task, now) == "RUNNING":
                return task
        return None

    def create_task(self, cluster_id, creator, now):
        task_id = self.next_task_id
        self.next_task_id += 1
        self.tasks[task_id] = {
            "id": task_id, "cluster_id": cluster_id, "creator": creator,
            "created": now, "seconds": float(self.config["task_seconds"]),
            "outcome": self.config["task_outcome"], "forced": None, "finished": None,
        }
        return task_id

    def task_json(self, task, with_subtasks=True):
        now = self.now()
        status = self.task_status(task, now)
        created = task["created"]
        end = task["finished"] or created + task["seconds"]
        data = {
            "id": task["id"], "name": "Backup cluster", "status": status,
            "type": "MANUAL", "operation": "EXECUTE",
            "creator": {"id": 1, "name": task["creator"]},
            "cluster": {"id": task["cluster_id"], "name": "cluster%d" % task["cluster_id"],
                        "obClusterId": task["cluster_id"], "type": "PRIMARY"},
            "createTime": iso_colon(created), "startTime": iso_colon(created),
            "prohibitRollback": False,
        }
        if status in TERMINAL:
            data["finishTime"] = iso_colon(end)
        if with_subtasks:
            data["subtasks"] = self.subtasks_json(task, status, now)
        return data

    def subtasks_json(self, task, status, now):
        subtasks = []
        count = len(SUBTASK_NAMES)
        for i, name in enumerate(SUBTASK_NAMES):
            start = task["created"] + task["seconds"] * i / count
            finish = task["created"] + task["seconds"] * (i + 1) / count
            if status in TERMINAL:
                sub_status = status if i == count - 1 else "SUCCESSFUL"
            elif now >= finish:
                sub_status = "SUCCESSFUL"
            elif now >= start:
                sub_status = "RUNNING"
            else:
                sub_status = "PENDING"
            entry = {"id": task["id"] * 10 + i, "name": name, "description": name,
                     "status": sub_status, "operation": "EXECUTE",
                     "createTime": iso_no_colon(task["created"]),
                     "runTime": int(max(0, min(now, finish) - start))}
            if sub_status != "PENDING":
                entry["startTime"] = iso_no_colon(start)
            if sub_status in TERMINAL:
                entry["finishTime"] = iso_no_colon(finish)
            subtasks.append(entry)
        return subtasks

    def task_id_json(self, task_id):
        return str(task_id) if self.config["task_ids_as_strings"] else task_id

    # -- API routes --

    def backup_now(self, cluster_id, tenant_id, headers, body, creator):
        content_type = headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            raise ApiError(415, 10002, "Content type '%s' not supported" % content_type)
        try:
            request = json.loads(body)
        except ValueError:
            raise ApiError(400, 10001, "Invalid parameter: malformed JSON request body.")
        problems = backup_request_problems(request)
        if problems:
            raise ApiError(400, 10001, "Invalid parameter.", sub_errors=problems)
        with self.lock:
            if cluster_id in self.config["missing_clusters"]:
                raise ApiError(404, "OBE11001", "The specified cluster with the ID of %d "
                               "does not exist." % cluster_id)
            obj = {"backupDimension": "TENANT" if tenant_id else "CLUSTER",
                   "clusterId": cluster_id}
            if tenant_id:
                obj["tenantId"] = tenant_id
            now = self.now()
            if self.running_task_of(cluster_id, now):
                result = {"beSuccessful": False, "errorCode": "BAK31005",
                          "hint": "The baseline backup task for the cluster or tenant "
                                  "already exists.",
                          "obBackupObjectList": [obj]}
            else:
                task_id = self.create_task(cluster_id, creator, now)
                result = {"beSuccessful": True, "obBackupObjectList": [obj],
                          "taskIdList": [self.task_id_json(task_id)]}
        return {"backupObjectOpsResultList": [result], "obBackupTaskType": "DATA_BACKUP_NOW"}

    def task(self, task_id):
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise ApiError(404, "TSK10001", "The %d task does not exist." % task_id)
            return self.task_json(task)

    def task_list(self, query):
        params = urllib.parse.parse_qs(query)
        statuses = set(",".join(params.get("status", [])).split(",")) - {""}
        cluster = params.get("clusterId", [None])[0]
        page = max(1, int(params.get("page", ["1"])[0]))
        size = min(2000, max(1, int(params.get("size", ["10"])[0])))
        with self.lock:
            rows = [self.task_json(t, with_subtasks=False) for t in self.tasks.values()]
        rows = [r for r in rows if (not statuses or r["status"] in statuses)
                and (cluster is None or str(r["cluster"]["id"]) == cluster)]
        total = len(rows)
        return {"contents": rows[(page - 1) * size: page * size],
                "page": {"number": page, "size": size, "totalElements": total,
                         "totalPages": (total + size - 1) // size}}


def backup_request_problems(request):
    problems = []

    def problem(field, value, message):
        problems.append({"object": "backupNowRequest", "field": field,
                         "rejectedValue": value, "message": message})
    if not isinstance(request, dict):
        problem("", None, "must be an object")
        return problems
    if request.get("backupMode") not in BACKUP_MODES:
        problem("backupMode", request.get("backupMode"), "must be one of " + ", ".join(BACKUP_MODES))
    if request.get("dataBackupMode") not in DATA_MODES:
        problem("dataBackupMode", request.get("dataBackupMode"), "must be one of " + ", ".join(DATA_MODES))
    storage = request.get("obBackupServiceStorageConfig")
    if not isinstance(storage, dict) or not isinstance(storage.get("configName"), str):
        problem("obBackupServiceStorageConfig.configName", None, "must not be null")
    return problems


ROUTES = [
    ("POST", re.compile(r"/api/v2/ob/clusters/(\d+)/backup/backupNow"), "backup_now"),
    ("POST", re.compile(r"/api/v2/ob/clusters/(\d+)/tenants/(\d+)/backup/backupNow"), "backup_now"),
    ("GET", re.compile(r"/api/v2/tasks/instances/(\d+)"), "task"),
    ("GET", re.compile(r"/api/v2/tasks/instances"), "task_list"),
]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ocp-sim"
    sim = None  # set by main
    verbose = False

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm and the client's delayed ACK add 40 ms to every answer.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        with self.sim.lock:
            self.sim.connections += 1
            self.connection_number = self.sim.connections

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("ocp_sim: " + fmt % args + "\n")

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    # -- plumbing --

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def lower_headers(self):
        return {name.lower(): value for name, value in self.headers.items()}

    def send_bytes(self, status, body, content_type="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(body)

    def envelope(self, status, trace_id, data=None, error=None):
        answer = {"duration": 1, "server": "ocp-sim", "status": status,
                  "successful": error is None, "timestamp": iso_colon(self.sim.now()),
                  "traceId": trace_id}
        if data is not None:
            answer["data"] = data
        if error is not None:
            answer["error"] = error
        return json.dumps(answer, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    def send_error_envelope(self, err, headers):
        error = {"code": err.code, "message": err.message}
        if err.debug:
            error["debugMessage"] = err.debug
        if err.sub_errors:
            error["subErrors"] = err.sub_errors
        trace_id = self.sim.next_trace_id(headers)
        self.send_bytes(err.status, self.envelope(err.status, trace_id, error=error))

    def dispatch(self):
        parsed = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if parsed.path.startswith("/__sim/"):
            self.control(parsed, body)
            return
        headers = self.lower_headers()
        entry = {"conn": self.connection_number, "method": self.command,
                 "path": self.path, "headers": headers,
                 "body": body.decode("utf-8", "replace"),
                 "body_md5": hashlib.md5(body).hexdigest().upper(),
                 "auth": "none", "tls": isinstance(self.connection, ssl.SSLSocket)}
        self.sim.record(entry)
        fault = self.sim.take_fault(parsed.path)
        if fault is not None and fault["kind"] != "delay":
            self.inject(fault, parsed, headers, body)
            return
        if fault is not None:
            time.sleep(fault.get("ms", 100) / 1000.0)
        self.api(parsed, headers, body, entry)

    def api(self, parsed, headers, body, entry):
        if self.command == "GET" and parsed.path == "/api/v2/time":
            self.send_bytes(200, iso_colon(self.sim.now()).encode(), "text/plain")
            return
        try:
            entry["auth"] = "rejected"
            entry["auth"] = self.sim.authenticate(self.command, parsed.path, parsed.query,
                                                  headers, body)
            data = self.route(parsed, headers, body, entry["auth"].split(":", 1)[1])
        except ApiError as err:
            self.send_error_envelope(err, headers)
            return
        self.send_bytes(200, self.envelope(200, self.sim.next_trace_id(headers), data=data))

    def route(self, parsed, headers, body, creator):
        for method, pattern, name in ROUTES:
            match = pattern.fullmatch(parsed.path)
            if match is None:
                continue
            if method != self.command:
                raise ApiError(405, 10003, "Request method '%s' not supported" % self.command)
            ids = [int(g) for g in match.groups()]
            if name == "backup_now":
                return self.sim.backup_now(ids[0], ids[1] if len(ids) > 1 else None,
                                           headers, body, creator)
            if name == "task":
                return self.sim.task(ids[0])
            return self.sim.task_list(parsed.query)
        raise ApiError(404, 10004, "No handler found for %s %s" % (self.command, parsed.path))

    # -- faults --

    def normal_answer_bytes(self, parsed, headers, body):
        try:
            data = self.route(parsed, headers, body, "admin")
            return self.envelope(200, self.sim.next_trace_id(headers), data=data)
        except ApiError as err:
            return self.envelope(err.status, self.sim.next_trace_id(headers),
                                 error={"code": err.code, "message": err.message})

    def hang(self):
        """Keeps the connection open, answering nothing, until the peer closes."""
        self.close_connection = True
        while not self.sim.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.2)
            if readable:
                try:
                    if not self.connection.recv(4096):
                        return
                except (OSError, ssl.SSLError):
                    return

    def inject(self, fault, parsed, headers, body):
        kind = fault["kind"]
        if kind == "hang":
            self.hang()
        elif kind in ("stall", "close"):
            answer = self.normal_answer_bytes(parsed, headers, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer[:fault.get("bytes", 20)])
            self.wfile.flush()
            if kind == "stall":
                self.hang()
            self.close_connection = True
        elif kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        elif kind == "envelope":
            status = fault.get("status", 500)
            error = {"code": fault.get("code", 60018),
                     "message": fault.get("message", "Unexpected error.")}
            self.send_bytes(status, self.envelope(status, self.sim.next_trace_id(headers),
                                                  error=error))
        elif kind == "raw":
            self.send_bytes(fault.get("status", 200), fault.get("body", "").encode(),
                            fault.get("content_type", "application/json"),
                            fault.get("headers"))
        elif kind == "rate_limit":
            trace_id = ""
            answer = json.dumps({"duration": 0, "error": {"code": 0, "message": THROTTLED},
                                 "server": "ocp-sim", "status": 429, "successful": False,
                                 "timestamp": iso_colon(self.sim.now()), "traceId": trace_id},
                                sort_keys=True, separators=(",", ":")).encode()
            self.send_bytes(429, answer, extra={"RateLimit-Limit": 100,
                                                "RateLimit-Remaining": 0,
                                                "RateLimit-Reset": fault.get("reset", 30)})
        elif kind == "huge":
            self.send_huge(fault.get("bytes", 16 * 1024 * 1024))
        else:
            self.send_bytes(400, b'{"error":"unknown fault kind"}')

    def send_huge(self, size):
        head = b'{"successful":true,"data":{"padding":"'
        tail = b'"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.close_connection = True
        self.wfile.write(head)
        left = size - len(head) - len(tail)
        chunk = b"x" * 65536
        while left > 0:
            self.wfile.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)
        self.wfile.write(tail)

    # -- control API --

    def control(self, parsed, body):
        name = parsed.path[len("/__sim/"):]
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            self.send_bytes(400, b'{"error":"body is not JSON"}')
            return
        if name == "requests" and self.command == "GET":
            since = int(urllib.parse.parse_qs(parsed.query).get("since", ["0"])[0])
            with self.sim.lock:
                lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":"))
                         for r in self.sim.requests if r["seq"] > since]
            text = "".join(line + "\n" for line in lines)
            self.send_bytes(200, text.encode(), "application/x-ndjson")
        elif name == "connections":
            self.send_json({"accepted": self.sim.connections})
        elif name == "reset" and self.command == "POST":
            self.sim.reset()
            self.send_json({"ok": True})
        elif name == "config" and self.command == "POST":
            with self.sim.lock:
                self.sim.config.update(payload)
                if "task_id_base" in payload:
                    self.sim.next_task_id = int(payload["task_id_base"])
                config = dict(self.sim.config)
            self.send_json(config)
        elif name == "faults" and self.command == "POST":
            faults = payload if isinstance(payload, list) else [payload]
            with self.sim.lock:
                self.sim.faults.extend(dict(f) for f in faults)
            self.send_json({"queued": len(faults)})
        elif name == "faults" and self.command == "DELETE":
            with self.sim.lock:
                self.sim.faults = []
            self.send_json({"ok": True})
        elif name.startswith("tasks/") and self.command == "POST":
            self.force_task(int(name[len("tasks/"):]), payload.get("status", "SUCCESSFUL"))
        else:
            self.send_bytes(404, b'{"error":"unknown control path"}')

    def force_task(self, task_id, status):
        with self.sim.lock:
            task = self.sim.tasks.get(task_id)
            if task is not None:
                task["forced"] = status
                task["finished"] = self.sim.now() if status in TERMINAL else None
        if task is None:
            self.send_bytes(404, b'{"error":"no such task"}')
        else:
            self.send_json({"id": task_id, "status": status})

    def send_json(self, value):
        self.send_bytes(200, json.dumps(value).encode())


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls_context = None

    def finish_request(self, request, client_address):
        # The handshake happens here, in the connection's own thread.
        if self.tls_context is not None:
            try:
                request.settimeout(10)
                request = self.tls_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def parse_pairs(values):
    pairs = {}
    for value in values:
        name, sep, secret = value.partition(":")
        if not sep:
            raise SystemExit("expected NAME:SECRET, got %r" % value)
        pairs[name] = secret
    return pairs


def main():
    parser = argparse.ArgumentParser(description="OCP REST API simulator for ocp_backup's tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--basic", action="append", default=[], metavar="USER:PASSWORD")
    parser.add_argument("--access-key", action="append", default=[], metavar="AK:SK")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    basic = parse_pairs(args.basic)
    access_keys = parse_pairs(args.access_key)
    if not basic and not access_keys:
        basic = {"admin": "admin"}
    Handler.sim = Simulator(basic, access_keys)
    Handler.verbose = args.verbose
    server = Server((args.host, args.port), Handler)
    scheme = "http"
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls_context = context
        scheme = "https"
    port = server.server_address[1]
    if args.port_file:
        temporary = args.port_file + ".tmp"
        with open(temporary, "w") as f:
            f.write("%d\n" % port)
        os.replace(temporary, args.port_file)
    print("ocp_sim listening on %s://%s:%d" % (scheme, args.host, port), flush=True)

    def stop(signum, frame):
        Handler.sim.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
