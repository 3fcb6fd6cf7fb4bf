#!/usr/bin/env python3
"""ocp_sim.py - a simulator of the OCP (OceanBase Cloud Platform) REST API.

It serves the part of the OCP API that ocp_backup calls, the way
/work/shared/ocp-api.md describes it: the response envelope, HTTP Basic and
AK/SK (HMAC-SHA1) authentication checked by its own signature code, backup
tasks whose state moves on with time, faults injected on demand, and a record
of every request received.  Tests drive it through a control API under
/__sim/.  Python standard library only.

    python3 test/ocp_sim.py [--host 127.0.0.1] [--port 8080] [--port-file F]
                            [--basic USER:PASSWORD ...] [--access-key AK:SK ...]
                            [--tls-cert PEM --tls-key PEM] [--verbose]
                            [--path-prefix /ocp]

With --path-prefix, the OCP API is served under that prefix, as behind a
gateway (/ocp/api/v2/...): a request without it gets 404, the signature is
checked over the path as received, prefix included, and the record shows
that path.  The control API stays at /__sim/.

Control API (no authentication, never recorded):
    GET    /__sim/requests[?since=SEQ]  recorded requests, JSON Lines
    GET    /__sim/connections           {"accepted": N}
    POST   /__sim/reset                 forget requests, tasks, faults, config
    GET    /__sim/config                the configuration
    POST   /__sim/config                merge {"task_seconds": 2, ...}
    POST   /__sim/tasks/ID              force {"status": "SUCCESSFUL"}
    GET    /__sim/faults                the queued faults
    POST   /__sim/faults                queue {"kind": "hang", ...} or a list
    DELETE /__sim/faults                drop the queued faults

Fault kinds; any fault may have "path" (it then waits for a request whose
path and query contain that string; without it, for the next /api/ request)
and "count" (how many requests it answers, 1 by default):
    delay       {"ms": 100}: the normal answer, that much later
    hang        no answer; the connection is held until the client closes it
    stall       {"bytes": 20}: the normal head, that much of its body, then hang
    close       {"bytes": 20}: the same, then the connection is closed
    reset       the connection closed without a byte
    envelope    {"status": 500, "code": 60018, "message": "..."}: an OCP error
    raw         {"status": 200, "body": "", "content_type": "application/json",
                "headers": {}}: that answer; a "body" that is not a string is
                sent as JSON; "body_base64" (not with a non-empty "body") gives
                the body's exact bytes, e.g. invalid UTF-8: {"body_base64": "wyg="}
    huge        {"bytes": 16777216, "length": true}: a 200 of that size; with
                "length": false it has no Content-Length and ends with the
                connection
    rate_limit  {"reset": 30}: OCP's 429 with RateLimit-* headers
    echo        a 400 validation error (code 10001) echoing the request: its
                message is "Invalid parameter: " and every string and number
                of the JSON body, in document order, joined by ", "; its
                subErrors one {"object": "backupNowParam", "field": "a.b[0].c",
                "rejectedValue": <the value>, "message": "rejected"} each.  A
                body that is not JSON echoes nothing.
"""

import argparse
import base64
import binascii
import dataclasses
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
import socketserver
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from datetime import datetime, timedelta, timezone

SERVER_NAME = "ocp-sim"
CONTROL_PREFIX = "/__sim/"
API_PREFIX = "/api/"
TIME_PATH = "/api/v2/time"

# OCP answers in its own time zone; the tests' sample dates carry +08:00.
OCP_TZ = timezone(timedelta(hours=8))
# OCP refuses a signed request whose Date is this far or farther from its clock.
DATE_WINDOW_SECONDS = 15 * 60
# First half of the generated trace ids; the second half counts answers.
TRACE_PREFIX = "5962f337"
# The envelope's "duration": constant, so that answers stay reproducible.
DURATION_MS = 1

MSG_UNAUTHENTICATED = ("The current user has not logged on or a logon error has "
                       "occurred. Please log on and try again.")
MSG_THROTTLED = ("Excessive number of requests. You have exceeded the request "
                 "limit for the current throttling window.")
MSG_BACKUP_EXISTS = "The baseline backup task for the cluster or tenant already exists."

BACKUP_MODES = ("LOGICAL_BACKUP", "PHYSICAL_BACKUP")
DATA_BACKUP_MODES = ("FULL_BACKUP", "INCREMENTAL_BACKUP")
SUBTASK_NAMES = ("Check backup config", "Start data backup",
                 "Wait data backup", "Record backup result")
TERMINAL = ("SUCCESSFUL", "FAILED")
FORCEABLE = ("SUCCESSFUL", "FAILED", "RUNNING")

# Error codes of the simulator's own validation and routing answers.
CODE_INVALID = 10001
CODE_METHOD = 10003
CODE_NOT_FOUND = 10004
CODE_MEDIA_TYPE = 10005

MAX_BODY_BYTES = 16 * 1024 * 1024
HANDSHAKE_TIMEOUT_SECONDS = 10
IDLE_TIMEOUT_SECONDS = 600
HANG_POLL_SECONDS = 0.1
HUGE_CHUNK_BYTES = 64 * 1024


def default_config():
    return {
        "task_seconds": 10.0,
        "task_outcome": "SUCCESSFUL",
        "task_ids_as_strings": False,
        "task_id_base": 3000041,
        "missing_clusters": [99],
        "clock_skew_seconds": 0.0,
    }


def to_json_bytes(value):
    """OCP's JSON: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------
# The AK/SK signature (ocp-api.md section 2b), written from the description.

def percent_encode(text):
    """RFC 3986: keep A-Za-z0-9-._~, everything else %XX in upper-case hex."""
    return urllib.parse.quote(text, safe="")


def canonical_query(raw_query):
    """The query's parameters, decoded, sorted by key, re-encoded per RFC 3986.

    A parameter without "=" counts as one with an empty value, as a servlet
    container would see it.
    """
    params = []
    for piece in raw_query.split("&"):
        if piece:
            key, _, value = piece.partition("=")
            params.append((urllib.parse.unquote(key), urllib.parse.unquote(value)))
    params.sort()
    return "&".join(percent_encode(k) + "=" + percent_encode(v) for k, v in params)


def path_and_query(path, raw_query):
    query = canonical_query(raw_query) if raw_query else ""
    return path + "?" + query if query else path


def ocp_headers_part(headers):
    """x-ocp* headers as name:value, names lower-cased, sorted by name."""
    picked = sorted((name.lower(), value) for name, value in headers.items()
                    if name.lower().startswith("x-ocp"))
    return "\n".join(name + ":" + value for name, value in picked)


def string_to_sign(method, body, content_type, date, host, headers, path, raw_query):
    """The seven parts joined by newlines; `headers` supplies the x-ocp* ones."""
    md5 = hashlib.md5(body).hexdigest().upper() if body else ""
    return "\n".join([method.upper(), md5, content_type or "", date or "", host or "",
                      ocp_headers_part(headers), path_and_query(path, raw_query)])


def sign(secret, text):
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


# ---------------------------------------------------------------------------
# Dates as OCP writes them, and the Date header as clients send it.

def format_time_colon(ts):
    """2021-08-25T15:09:31.740+08:00: task instances, envelopes, /api/v2/time."""
    moment = datetime.fromtimestamp(ts, OCP_TZ)
    return "%s.%03d+08:00" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.microsecond // 1000)


def format_time_no_colon(ts):
    """2021-09-16T17:25:02.993+0800: subtasks, so clients must read both forms."""
    moment = datetime.fromtimestamp(ts, OCP_TZ)
    return "%s.%03d+0800" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.microsecond // 1000)


def parse_http_date(value):
    """Seconds since the epoch of an RFC 1123 date, or None when unreadable."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# ---------------------------------------------------------------------------
# Answers and errors.

@dataclasses.dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict = dataclasses.field(default_factory=dict)


class ApiError(Exception):
    """An OCP error envelope to answer with."""

    def __init__(self, status, code, message, debug=None, sub_errors=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.debug = debug
        self.sub_errors = sub_errors

    def error_object(self):
        error = {"code": self.code, "message": self.message}
        if self.debug:
            error["debugMessage"] = self.debug
        if self.sub_errors is not None:
            error["subErrors"] = self.sub_errors
        return error


def unauthenticated(why):
    return ApiError(401, 0, MSG_UNAUTHENTICATED, debug=why)


def control_answer(status, value):
    """Control API answers are plain JSON, not OCP envelopes."""
    return Answer(status, json.dumps(value, separators=(",", ":")).encode("utf-8"))


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class ApiRequest:
    method: str
    target: str        # as received: path and query
    path: str
    query: str
    headers: dict      # names lower-cased; the last of repeated headers wins
    body: bytes
    tls: bool


# ---------------------------------------------------------------------------
# Backup tasks.  Their state is computed from the clock when asked, so nothing
# runs in the background.

@dataclasses.dataclass
class Task:
    id: int
    cluster_id: int
    tenant_id: object  # int, or None for a cluster backup
    creator: str
    created: float
    seconds: float
    outcome: str
    forced_status: object = None
    forced_at: object = None

    def status(self, now):
        if self.forced_status:
            return self.forced_status
        return self.outcome if now >= self.created + self.seconds else "RUNNING"

    def finish_time(self, now):
        """When the task ended, or None while it runs."""
        if self.status(now) not in TERMINAL:
            return None
        return self.forced_at if self.forced_status else self.created + self.seconds

    def subtask_states(self, now):
        """(name, status, start, finish) of each subtask, at `now`.

        Subtask i runs from created + d*i/n to created + d*(i+1)/n.  A task
        that ended (naturally or forced) ends its last subtask with its own
        status; an early forced end finishes what was left at that moment.
        A task forced to RUNNING keeps its last subtask running.
        """
        status = self.status(now)
        end = self.finish_time(now)
        count = len(SUBTASK_NAMES)
        states = []
        for i, name in enumerate(SUBTASK_NAMES):
            start = self.created + self.seconds * i / count
            finish = self.created + self.seconds * (i + 1) / count
            last = i == count - 1
            if end is not None:
                start, finish = min(start, end), min(finish, end)
                sub_status = status if last else "SUCCESSFUL"
            elif now >= finish and not last:
                sub_status = "SUCCESSFUL"
            elif now >= start:
                sub_status = "RUNNING"
            else:
                sub_status = "PENDING"
            states.append((name, sub_status, start, finish))
        return states

    def to_json(self, now, ids_as_strings, with_subtasks=True):
        as_id = str if ids_as_strings else int
        status = self.status(now)
        data = {
            "id": as_id(self.id),
            "name": "Backup cluster" if self.tenant_id is None else "Backup tenant",
            "status": status,
            "type": "MANUAL",
            "operation": "EXECUTE",
            "creator": {"id": 1, "name": self.creator},
            "cluster": {"id": self.cluster_id, "name": "cluster%d" % self.cluster_id,
                        "obClusterId": self.cluster_id, "type": "PRIMARY"},
            "createTime": format_time_colon(self.created),
            "startTime": format_time_colon(self.created),
            "prohibitRollback": False,
        }
        if self.tenant_id is not None:
            data["tenant"] = {"id": self.tenant_id, "name": "tenant%d" % self.tenant_id}
        end = self.finish_time(now)
        if end is not None:
            data["finishTime"] = format_time_colon(end)
        if with_subtasks:
            data["subtasks"] = [self.subtask_json(i, state, now, as_id)
                                for i, state in enumerate(self.subtask_states(now))]
        return data

    def subtask_json(self, index, state, now, as_id):
        name, status, start, finish = state
        if status == "PENDING":
            run_seconds = 0
        elif status in TERMINAL:
            run_seconds = finish - start
        else:
            run_seconds = now - start
        data = {"id": as_id(self.id * 10 + index), "name": name, "description": name,
                "status": status, "operation": "EXECUTE",
                "createTime": format_time_no_colon(self.created),
                "runTime": int(max(0, run_seconds))}
        if status != "PENDING":
            data["startTime"] = format_time_no_colon(start)
        if status in TERMINAL:
            data["finishTime"] = format_time_no_colon(finish)
        return data


# ---------------------------------------------------------------------------
# Configuration checks for POST /__sim/config: a typo must fail loudly rather
# than leave a test running with the default.

def _number(value, key):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError(400, "%s must be a number" % key)
    return float(value)


def _config_task_seconds(value):
    seconds = _number(value, "task_seconds")
    if seconds < 0:
        raise ControlError(400, "task_seconds must not be negative")
    return seconds


def _config_outcome(value):
    if value not in TERMINAL:
        raise ControlError(400, "task_outcome must be SUCCESSFUL or FAILED")
    return value


def _config_bool(value):
    if not isinstance(value, bool):
        raise ControlError(400, "task_ids_as_strings must be true or false")
    return value


def _config_task_id_base(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ControlError(400, "task_id_base must be a positive integer")
    return value


def _config_clusters(value):
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int)
                                          for v in value):
        raise ControlError(400, "missing_clusters must be a list of integers")
    return list(value)


CONFIG_CHECKS = {
    "task_seconds": _config_task_seconds,
    "task_outcome": _config_outcome,
    "task_ids_as_strings": _config_bool,
    "task_id_base": _config_task_id_base,
    "missing_clusters": _config_clusters,
    "clock_skew_seconds": lambda v: _number(v, "clock_skew_seconds"),
}


# ---------------------------------------------------------------------------
# Faults.

FAULT_KINDS = ("delay", "hang", "stall", "close", "reset", "envelope", "raw", "huge",
               "rate_limit", "echo")
FAULT_DEFAULTS = {
    "delay": {"ms": 100},
    "stall": {"bytes": 20},
    "close": {"bytes": 20},
    "envelope": {"status": 500, "code": 60018, "message": "Unexpected error."},
    "raw": {"status": 200, "body": "", "content_type": "application/json", "headers": {}},
    "huge": {"bytes": 16 * 1024 * 1024, "length": True},
    "rate_limit": {"reset": 30},
}


def _check_int(fault, key, low, high):
    value = fault[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ControlError(400, "fault %s must be an integer from %d to %d" % (key, low, high))


def normalize_fault(fault):
    """A queued fault with its defaults filled in; ControlError when unusable."""
    if not isinstance(fault, dict):
        raise ControlError(400, "a fault must be a JSON object")
    kind = fault.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError(400, "fault kind must be one of " + ", ".join(FAULT_KINDS))
    result = dict(FAULT_DEFAULTS.get(kind, {}))
    result.update(fault)
    result.setdefault("count", 1)
    _check_int(result, "count", 1, 1 << 30)
    if "path" in result and not isinstance(result["path"], str):
        raise ControlError(400, "fault path must be a string")
    if kind in ("stall", "close", "huge"):
        _check_int(result, "bytes", 0, 1 << 40)
    if kind in ("envelope", "raw"):
        _check_int(result, "status", 100, 999)
    if kind == "delay" and _number(result["ms"], "fault ms") < 0:
        raise ControlError(400, "fault ms must not be negative")
    if kind == "huge" and not isinstance(result["length"], bool):
        raise ControlError(400, "fault length must be true or false")
    if kind == "raw" and not isinstance(result["headers"], dict):
        raise ControlError(400, "fault headers must be a JSON object")
    if kind == "raw" and "body_base64" in result:
        _check_body_base64(result)
    return result


def _check_body_base64(fault):
    """Kept as given (the queue is shown as JSON); decoded when answering."""
    encoded = fault["body_base64"]
    if not isinstance(encoded, str):
        raise ControlError(400, "fault body_base64 must be a string")
    try:
        base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(400, "fault body_base64 must be valid base64")
    if fault["body"] != "":
        raise ControlError(400, "fault body and body_base64 exclude each other")


class _JsonObject(list):
    """The (key, value) pairs of a JSON object, in order, duplicates kept."""


def _finite_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")  # no valid JSON could echo it
    return value


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def json_leaves(value, path=""):
    """(dotted path, value) of every string and number, in document order;
    array elements are named like Spring's fields: list[0].name."""
    if isinstance(value, _JsonObject):
        for key, item in value:
            yield from json_leaves(item, path + "." + key if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_leaves(item, "%s[%d]" % (path, index))
    elif isinstance(value, str) or (isinstance(value, (int, float))
                                    and not isinstance(value, bool)):
        yield path, value


def echo_error(body):
    """The "echo" fault's 400: the body's values, rejected one by one, the way
    OCP's validation errors quote what the client sent."""
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_JsonObject,
                              parse_float=_finite_float, parse_constant=_no_constant)
        leaves = list(json_leaves(document))
    except (UnicodeDecodeError, ValueError, RecursionError):
        leaves = []  # no body, not JSON, or nested too deep: nothing to echo
    texts = [value if isinstance(value, str) else json.dumps(value) for _, value in leaves]
    sub_errors = [{"object": "backupNowParam", "field": field, "rejectedValue": value,
                   "message": "rejected"} for field, value in leaves]
    return ApiError(400, CODE_INVALID, "Invalid parameter: " + ", ".join(texts),
                    sub_errors=sub_errors)


def fault_matches(fault, target):
    """Without a "path", a fault lies in wait for the next /api/ request."""
    if "path" in fault:
        return fault["path"] in target
    return target.startswith(API_PREFIX)


# ---------------------------------------------------------------------------
# The simulator's state, shared by all connection threads.

class SimState:
    def __init__(self, basic, access_keys):
        self.basic = basic              # user -> password
        self.access_keys = access_keys  # AK -> SK
        self.lock = threading.Lock()
        self.accepted = 0               # never reset: tests compare connection numbers
        self.reset()

    def reset(self):
        with self.lock:
            self.config = default_config()
            self.requests = []
            self.tasks = {}
            # Per cluster, for running_task_of: its tasks, the latest natural
            # end among those not forced, and how many are forced to RUNNING.
            self.cluster_tasks = {}
            self.running_until = {}
            self.forced_running = {}
            self.faults = []
            self.answers = 0
            self.next_task_id = self.config["task_id_base"]

    def now(self):
        """The simulator's clock: real time plus the configured skew."""
        return time.time() + self.config["clock_skew_seconds"]

    def count_connection(self):
        with self.lock:
            self.accepted += 1
            return self.accepted

    def next_trace_id(self, headers):
        """The client's x-trace-id, else a deterministic counter value."""
        with self.lock:
            self.answers += 1
            counter = self.answers
        if "x-trace-id" in headers:
            return headers["x-trace-id"]
        return TRACE_PREFIX + "%08x" % (counter & 0xFFFFFFFF)

    # -- the record --

    def record(self, request, conn_number):
        entry = {"conn": conn_number, "method": request.method, "path": request.target,
                 "headers": request.headers,
                 "body": request.body.decode("utf-8", "replace"),
                 "body_md5": hashlib.md5(request.body).hexdigest().upper(),
                 "auth": "none", "tls": request.tls}
        with self.lock:
            entry = {"seq": len(self.requests) + 1, **entry}
            self.requests.append(entry)
        return entry

    def set_auth(self, entry, label):
        with self.lock:
            entry["auth"] = label

    def request_lines(self, since):
        with self.lock:
            return [json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
                    for entry in self.requests if entry["seq"] > since]

    # -- faults --

    def queue_faults(self, faults):
        with self.lock:
            self.faults.extend(faults)

    def take_fault(self, target):
        """Consumes one use of the first queued fault matching the request."""
        with self.lock:
            for fault in self.faults:
                if fault_matches(fault, target):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- configuration --

    def update_config(self, changes):
        if not isinstance(changes, dict):
            raise ControlError(400, "the configuration must be a JSON object")
        unknown = sorted(set(changes) - set(CONFIG_CHECKS))
        if unknown:
            raise ControlError(400, "unknown configuration key(s): " + ", ".join(unknown))
        checked = {key: CONFIG_CHECKS[key](value) for key, value in changes.items()}
        with self.lock:
            self.config.update(checked)
            if "task_id_base" in checked:
                self.next_task_id = checked["task_id_base"]
            return dict(self.config)

    # -- envelopes --

    def envelope(self, status, headers, data=None, error=None):
        body = {"duration": DURATION_MS, "server": SERVER_NAME, "status": status,
                "successful": error is None, "timestamp": format_time_colon(self.now()),
                "traceId": self.next_trace_id(headers)}
        if data is not None:
            body["data"] = data
        if error is not None:
            body["error"] = error
        return Answer(status, to_json_bytes(body))

    def error_envelope(self, err, headers):
        return self.envelope(err.status, headers, error=err.error_object())

    def throttled_answer(self, reset_seconds):
        """OCP's own throttling sample: duration 0 and an empty trace id."""
        body = {"duration": 0, "server": SERVER_NAME, "status": 429, "successful": False,
                "timestamp": format_time_colon(self.now()), "traceId": "",
                "error": {"code": 0, "message": MSG_THROTTLED}}
        headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "0",
                   "RateLimit-Reset": str(reset_seconds)}
        return Answer(429, to_json_bytes(body), headers=headers)

    # -- tasks --

    # The task methods below expect the caller to hold self.lock.

    def running_task_of(self, cluster_id, now):
        """Whether a task of the cluster has status RUNNING at `now`.

        Constant time however many tasks there are (a long test makes tens
        of thousands): a task not forced runs while now < created + seconds,
        so one runs iff the latest such end is after `now`; a forced task
        runs iff it was forced to RUNNING.
        """
        return (self.forced_running.get(cluster_id, 0) > 0
                or self.running_until.get(cluster_id, float("-inf")) > now)

    def index_cluster(self, cluster_id):
        """Recomputes the cluster's entries of the running_task_of index."""
        tasks = self.cluster_tasks.get(cluster_id, [])
        ends = [t.created + t.seconds for t in tasks if not t.forced_status]
        self.running_until[cluster_id] = max(ends, default=float("-inf"))
        self.forced_running[cluster_id] = sum(1 for t in tasks if t.forced_status == "RUNNING")

    def create_task(self, cluster_id, tenant_id, creator, now):
        task = Task(id=self.next_task_id, cluster_id=cluster_id, tenant_id=tenant_id,
                    creator=creator, created=now,
                    seconds=float(self.config["task_seconds"]),
                    outcome=self.config["task_outcome"])
        self.next_task_id += 1
        replaced = self.tasks.get(task.id)  # task_id_base set back onto old ids
        self.tasks[task.id] = task
        if replaced is not None:
            self.cluster_tasks[replaced.cluster_id].remove(replaced)
            self.index_cluster(replaced.cluster_id)
        self.cluster_tasks.setdefault(cluster_id, []).append(task)
        self.running_until[cluster_id] = max(self.running_until.get(cluster_id, float("-inf")),
                                             task.created + task.seconds)
        return task

    def force_task(self, task_id, status):
        if status not in FORCEABLE:
            raise ControlError(400, "status must be one of " + ", ".join(FORCEABLE))
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise ControlError(404, "no task %d" % task_id)
            task.forced_status = status
            task.forced_at = self.now()
            self.index_cluster(task.cluster_id)


# ---------------------------------------------------------------------------
# Authentication.

def authenticate(state, request):
    """The record's label for the caller ("basic:USER", "aksk:AK"); raises a 401."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        raise unauthenticated("no Authorization header")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic":
        return "basic:" + check_basic(state, credentials.strip())
    if scheme == "OCP-ACCESS-KEY-HMACSHA1":
        return "aksk:" + check_signature(state, request, credentials)
    raise unauthenticated("unknown authorization scheme")


def check_basic(state, credentials):
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise unauthenticated("malformed Basic credentials")
    user, separator, password = decoded.partition(":")
    expected = state.basic.get(user)
    if not separator or expected is None or not hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")):
        raise unauthenticated("wrong user name or password")
    return user


def check_signature(state, request, credentials):
    """Verifies AK:Signature.  The debug messages never show the secret or the
    expected signature: they only say which check failed."""
    match = re.fullmatch(r"([^:\s]+):([A-Za-z0-9+/=]+)", credentials)
    if match is None:
        raise unauthenticated("malformed access key credentials")
    access_key, sent = match.groups()
    secret = state.access_keys.get(access_key)
    if secret is None:
        raise unauthenticated("unknown access key")
    check_date(state, request.headers.get("date"))
    # The path as received, any --path-prefix included: the client signs what it sends.
    text = string_to_sign(request.method, request.body, request.headers.get("content-type"),
                          request.headers.get("date"), request.headers.get("host"),
                          request.headers, request.target.partition("?")[0], request.query)
    if not hmac.compare_digest(sign(secret, text), sent):
        raise unauthenticated("signature mismatch")
    return access_key


def check_date(state, date):
    if not date:
        raise unauthenticated("no Date header")
    sent = parse_http_date(date)
    if sent is None:
        raise unauthenticated("unreadable Date header")
    away = abs(state.now() - sent)
    if away >= DATE_WINDOW_SECONDS:
        raise unauthenticated("date is %d s away from server time" % away)


# ---------------------------------------------------------------------------
# The OCP API.

def validate_backup_request(request):
    """subErrors as Spring's validation would list them; empty when valid."""
    problems = []

    def reject(field, value, message):
        problem = {"object": "backupNowParam", "field": field, "message": message}
        if value is not None:
            problem["rejectedValue"] = value  # OCP omits null fields
        problems.append(problem)

    if not isinstance(request, dict):
        reject("", None, "the request body must be a JSON object")
        return problems
    for field, allowed in (("backupMode", BACKUP_MODES), ("dataBackupMode", DATA_BACKUP_MODES)):
        if request.get(field) not in allowed:
            reject(field, request.get(field), "must be one of " + ", ".join(allowed))
    storage = request.get("obBackupServiceStorageConfig")
    if not isinstance(storage, dict):
        reject("obBackupServiceStorageConfig", storage, "must be an object")
    elif not isinstance(storage.get("configName"), str):
        reject("obBackupServiceStorageConfig.configName", storage.get("configName"),
               "must be a string")
    return problems


def parse_json_body(request):
    """The body of a POST, after the checks Spring makes before the handler."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, CODE_MEDIA_TYPE, "Content type '%s' not supported" % content_type)
    if not request.body:
        raise ApiError(400, CODE_INVALID, "Invalid parameter: the request body is missing.")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, CODE_INVALID, "Invalid parameter: the request body is not valid JSON.")


def backup_now(state, request, user, cluster_id, tenant_id=None):
    problems = validate_backup_request(parse_json_body(request))
    if problems:
        summary = "; ".join("%s %s" % (p["field"], p["message"]) for p in problems)
        raise ApiError(400, CODE_INVALID, "Invalid parameter: " + summary, sub_errors=problems)
    backup_object = {"backupDimension": "CLUSTER", "clusterId": cluster_id}
    if tenant_id is not None:
        backup_object = {"backupDimension": "TENANT", "clusterId": cluster_id,
                         "tenantId": tenant_id}
    with state.lock:
        if cluster_id in state.config["missing_clusters"]:
            raise ApiError(404, "OBE11001", "The specified cluster with the ID of %d does "
                           "not exist." % cluster_id)
        now = state.now()
        if state.running_task_of(cluster_id, now):
            result = {"beSuccessful": False, "errorCode": "BAK31005",
                      "hint": MSG_BACKUP_EXISTS, "obBackupObjectList": [backup_object]}
        else:
            task = state.create_task(cluster_id, tenant_id, user, now)
            task_id = str(task.id) if state.config["task_ids_as_strings"] else task.id
            result = {"beSuccessful": True, "obBackupObjectList": [backup_object],
                      "taskIdList": [task_id]}
    return {"backupObjectOpsResultList": [result], "obBackupTaskType": "DATA_BACKUP_NOW"}


def get_task(state, request, user, task_id):
    with state.lock:
        task = state.tasks.get(task_id)
        if task is None:
            raise ApiError(404, "TSK10001", "The %d task does not exist." % task_id)
        return task.to_json(state.now(), state.config["task_ids_as_strings"])


def query_int(params, name, default, low, high):
    values = params.get(name)
    if not values or values[-1] == "":
        return default  # "clusterId=" filters nothing, as Spring binds it to null
    try:
        value = int(values[-1])
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(400, CODE_INVALID, "Invalid parameter: %s must be an integer from "
                       "%d to %d." % (name, low, high))
    return value


def list_tasks(state, request, user):
    """Paged like OCP lists (page is 1-based), newest task first."""
    params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    cluster_id = query_int(params, "clusterId", None, 0, 1 << 63)
    statuses = {s for value in params.get("status", []) for s in value.split(",") if s}
    page = query_int(params, "page", 1, 1, 1 << 31)
    size = query_int(params, "size", 10, 1, 2000)
    with state.lock:
        now = state.now()
        as_strings = state.config["task_ids_as_strings"]
        tasks = sorted(state.tasks.values(), key=lambda t: t.id, reverse=True)
        rows = [t.to_json(now, as_strings, with_subtasks=False) for t in tasks
                if (cluster_id is None or t.cluster_id == cluster_id)
                and (not statuses or t.status(now) in statuses)]
    total = len(rows)
    return {"contents": rows[(page - 1) * size:page * size],
            "page": {"number": page, "size": size, "totalElements": total,
                     "totalPages": (total + size - 1) // size}}


ROUTES = (
    (re.compile(r"/api/v2/ob/clusters/(\d+)/backup/backupNow"), {"POST": backup_now}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/tenants/(\d+)/backup/backupNow"),
     {"POST": backup_now}),
    (re.compile(r"/api/v2/tasks/instances/(\d+)"), {"GET": get_task}),
    (re.compile(r"/api/v2/tasks/instances"), {"GET": list_tasks}),
)


def route(state, request, user):
    """The data of a successful answer; ApiError otherwise."""
    for pattern, handlers in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        handler = handlers.get(request.method)
        if handler is None:
            raise ApiError(405, CODE_METHOD, "Request method '%s' not supported" % request.method)
        return handler(state, request, user, *(int(g) for g in match.groups()))
    raise ApiError(404, CODE_NOT_FOUND, "No handler found for %s %s" % (request.method,
                                                                        request.path))


def server_time(state, request):
    """GET /api/v2/time needs no credentials: clients use it to diagnose skew."""
    if request.method != "GET":
        raise ApiError(405, CODE_METHOD, "Request method '%s' not supported" % request.method)
    return Answer(200, format_time_colon(state.now()).encode("ascii"), "text/plain")


def answer_api(state, request, entry):
    """The normal answer to a recorded request (no fault involved)."""
    try:
        if request.path == TIME_PATH:
            return server_time(state, request)
        if not request.path.startswith(API_PREFIX):
            raise ApiError(404, CODE_NOT_FOUND, "No handler found for %s %s"
                           % (request.method, request.path))
        label = "rejected" if "authorization" in request.headers else "none"
        try:
            label = authenticate(state, request)
        finally:
            state.set_auth(entry, label)
        data = route(state, request, label.split(":", 1)[1])
    except ApiError as err:
        return state.error_envelope(err, request.headers)
    return state.envelope(200, request.headers, data=data)


# ---------------------------------------------------------------------------
# The control API.

def answer_control(state, method, path, query, body):
    try:
        payload = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        return control_answer(400, {"error": "the body is not JSON"})
    try:
        return control_action(state, method, path[len(CONTROL_PREFIX):], query, payload)
    except ControlError as err:
        return control_answer(err.status, {"error": str(err)})


def control_action(state, method, name, query, payload):
    if (method, name) == ("GET", "requests"):
        return requests_answer(state, query)
    if (method, name) == ("GET", "connections"):
        return control_answer(200, {"accepted": state.accepted})
    if (method, name) == ("POST", "reset"):
        state.reset()
        return control_answer(200, {"ok": True})
    if name == "config" and method in ("GET", "POST"):
        return control_answer(200, state.update_config(payload or {}))
    if (method, name) == ("GET", "faults"):
        with state.lock:
            return control_answer(200, list(state.faults))
    if (method, name) == ("POST", "faults"):
        faults = [normalize_fault(f) for f in
                  (payload if isinstance(payload, list) else [payload])]
        state.queue_faults(faults)
        return control_answer(200, {"queued": len(faults)})
    if (method, name) == ("DELETE", "faults"):
        with state.lock:
            state.faults.clear()
        return control_answer(200, {"ok": True})
    match = re.fullmatch(r"tasks/(\d+)", name)
    if match and method == "POST":
        status = (payload or {}).get("status") if isinstance(payload, dict) else None
        state.force_task(int(match.group(1)), status)
        return control_answer(200, {"id": int(match.group(1)), "status": status})
    raise ControlError(404, "no control endpoint %s %s" % (method, CONTROL_PREFIX + name))


def requests_answer(state, query):
    params = urllib.parse.parse_qs(query)
    try:
        since = int(params.get("since", ["0"])[-1])
    except ValueError:
        raise ControlError(400, "since must be an integer")
    text = "".join(line + "\n" for line in state.request_lines(since))
    return Answer(200, text.encode("utf-8"), "application/x-ndjson")


# ---------------------------------------------------------------------------
# HTTP plumbing.

class BadRequest(Exception):
    pass


def merged_headers(defaults, extra):
    """defaults, with any header named again in `extra` (any case) replaced."""
    overridden = {name.lower() for name in extra}
    headers = [(n, v) for n, v in defaults.items() if n.lower() not in overridden]
    return headers + [(n, str(v)) for n, v in extra.items()]


def close_quietly(sock):
    try:
        sock.close()
    except OSError:
        pass


class SimHandler(http.server.BaseHTTPRequestHandler):
    """One connection: any number of requests, kept alive."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS  # a vanished client does not hold a thread forever

    def __init__(self, request, client_address, server, conn_number):
        self.conn_number = conn_number
        self.state = server.state
        super().__init__(request, client_address, server)

    def version_string(self):
        return SERVER_NAME

    def setup(self):
        super().setup()
        # Headers and body are separate writes: without this, Nagle's algorithm
        # and the client's delayed ACK add some 40 ms to every answer.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass  # the client went away (reset, broken pipe, TLS error): nothing to report

    def log_message(self, format, *args):
        if self.server.verbose:
            sys.stderr.write("ocp_sim: conn %d: %s\n" % (self.conn_number, format % args))

    def do_GET(self):
        self.serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- one request --

    def serve(self):
        try:
            body = self.read_body()
        except BadRequest as err:
            self.send_error(400, str(err))
            return
        path, _, query = self.path.partition("?")
        if path.startswith(CONTROL_PREFIX):
            self.send_answer(answer_control(self.state, self.command, path, query, body))
            return
        prefix = self.server.path_prefix
        prefixed = not prefix or path.startswith(prefix + "/")
        request = ApiRequest(method=self.command, target=self.path,
                             path=path[len(prefix):] if prefixed else path, query=query,
                             headers={k.lower(): v for k, v in self.headers.items()},
                             body=body, tls=isinstance(self.connection, ssl.SSLSocket))
        entry = self.state.record(request, self.conn_number)
        if not prefixed:
            err = ApiError(404, CODE_NOT_FOUND, "No handler found for %s %s" % (self.command, path))
            self.send_answer(self.state.error_envelope(err, request.headers))
            return
        try:
            fault = self.state.take_fault(request.target)
            if fault is None:
                self.send_answer(answer_api(self.state, request, entry))
            else:
                getattr(self, "fault_" + fault["kind"])(fault, request, entry)
        except OSError:
            raise  # the client went away: handle() ends the connection quietly
        except Exception:  # a bug of the simulator: show it, answer 500
            traceback.print_exc()
            self.close_connection = True
            err = ApiError(500, 60018, "ocp_sim internal error")
            self.send_answer(self.state.error_envelope(err, request.headers))

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked_body()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit() or int(length) > MAX_BODY_BYTES:
            raise BadRequest("unusable Content-Length")
        return self.read_exactly(int(length))

    def read_exactly(self, count):
        data = self.rfile.read(count)
        if len(data) < count:
            raise ConnectionAbortedError("the client closed the connection mid-body")
        return data

    def read_chunked_body(self):
        chunks = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            total += size
            if total > MAX_BODY_BYTES:
                raise BadRequest("body too large")
            if size == 0:
                break
            chunks.append(self.read_exactly(size))
            self.rfile.readline(1024)  # the CRLF after the chunk
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def send_head(self, answer, content_length):
        self.send_response(answer.status)
        defaults = {"Content-Type": answer.content_type, "Content-Length": str(content_length)}
        for name, value in merged_headers(defaults, answer.headers):
            self.send_header(name, value)
        self.end_headers()

    def send_answer(self, answer):
        self.send_head(answer, len(answer.body))
        self.wfile.write(answer.body)

    def wait_for_client_close(self):
        """Holds the connection, answering nothing, until the client closes it
        or the server stops; polls so that the thread ends in either case."""
        self.close_connection = True
        sock = self.connection
        while not self.server.stopping.is_set():
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
            readable, _, _ = select.select([sock], [], [], HANG_POLL_SECONDS)
            if (readable or pending) and not self.discard_input(sock):
                return

    @staticmethod
    def discard_input(sock):
        """Reads and drops what the client sent; False once it closed."""
        try:
            return sock.recv(65536) != b""
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except OSError:
            return False

    # -- faults: fault_KIND(fault, request, entry) --

    def fault_delay(self, fault, request, entry):
        self.server.stopping.wait(fault["ms"] / 1000.0)
        self.send_answer(answer_api(self.state, request, entry))

    def fault_hang(self, fault, request, entry):
        self.wait_for_client_close()

    def send_partial_answer(self, fault, request, entry):
        """The headers of the normal answer, its full length, part of its body."""
        answer = answer_api(self.state, request, entry)
        self.send_head(answer, len(answer.body))
        self.wfile.write(answer.body[:fault["bytes"]])
        self.wfile.flush()

    def fault_stall(self, fault, request, entry):
        self.send_partial_answer(fault, request, entry)
        self.wait_for_client_close()

    def fault_close(self, fault, request, entry):
        self.send_partial_answer(fault, request, entry)
        self.close_connection = True

    def fault_reset(self, fault, request, entry):
        self.close_connection = True  # closed without a byte: an "empty reply"

    def fault_envelope(self, fault, request, entry):
        err = ApiError(fault["status"], fault["code"], fault["message"])
        self.send_answer(self.state.error_envelope(err, request.headers))

    def fault_raw(self, fault, request, entry):
        if "body_base64" in fault:
            body = base64.b64decode(fault["body_base64"], validate=True)
        else:
            body = fault["body"]
            if not isinstance(body, str):
                body = json.dumps(body, separators=(",", ":"))
            body = body.encode("utf-8")
        self.send_answer(Answer(fault["status"], body, fault["content_type"],
                                dict(fault["headers"])))

    def fault_rate_limit(self, fault, request, entry):
        self.send_answer(self.state.throttled_answer(fault["reset"]))

    def fault_echo(self, fault, request, entry):
        self.send_answer(self.state.error_envelope(echo_error(request.body), request.headers))

    def fault_huge(self, fault, request, entry):
        """A 200 of exactly `bytes` bytes, sent in chunks, never held whole.
        With "length": false the answer has no Content-Length: its end is the
        connection's, so a client learns its size only by reading it."""
        size = fault["bytes"]
        if fault["length"]:
            self.send_head(Answer(200, b""), size)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
        for piece in huge_body_pieces(size):
            self.wfile.write(piece)


def huge_body_pieces(size):
    """An envelope whose data holds one long string, `size` bytes in all."""
    head = b'{"data":{"padding":"'
    tail = b'"},"status":200,"successful":true}'
    if size < len(head) + len(tail):
        yield b" " * size
        return
    yield head
    left = size - len(head) - len(tail)
    filler = b"x" * HUGE_CHUNK_BYTES
    while left > 0:
        piece = filler[:min(left, HUGE_CHUNK_BYTES)]
        left -= len(piece)
        yield piece
    yield tail


class SimServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False   # a hanging connection must not delay the exit
    request_queue_size = 128

    def __init__(self, address, state, tls_context=None, verbose=False, path_prefix=""):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.path_prefix = path_prefix
        self.tls_context = tls_context
        self.verbose = verbose
        self.stopping = threading.Event()
        super().__init__(address, SimHandler)

    def server_bind(self):
        # HTTPServer.server_bind would look the host up in DNS: not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        """Runs in the connection's thread, so a slow TLS handshake blocks no one."""
        conn_number = self.state.count_connection()
        conn = self.start_tls(request) if self.tls_context else request
        if conn is None:
            return
        try:
            SimHandler(conn, client_address, self, conn_number)
        finally:
            if conn is not request:
                close_quietly(conn)

    def start_tls(self, request):
        try:
            conn = self.tls_context.wrap_socket(request, server_side=True,
                                                do_handshake_on_connect=False)
        except (OSError, ValueError):
            return None
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            conn.do_handshake()
            conn.settimeout(None)
            return conn
        except (OSError, ValueError):
            close_quietly(conn)
            return None

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away
        sys.stderr.write("ocp_sim: error on a connection from %s\n" % (client_address,))
        traceback.print_exc()


# ---------------------------------------------------------------------------
# Command line.

def credential_pair(text):
    name, separator, secret = text.partition(":")
    if not separator or not name:
        raise argparse.ArgumentTypeError("expected NAME:SECRET")
    return name, secret


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="OCP REST API simulator for ocp_backup's tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--port-file", help="where to write the bound port once listening")
    parser.add_argument("--basic", action="append", type=credential_pair, default=[],
                        metavar="USER:PASSWORD", help="an accepted Basic login (repeatable)")
    parser.add_argument("--access-key", action="append", type=credential_pair, default=[],
                        metavar="AK:SK", help="an accepted access key pair (repeatable)")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument("--path-prefix", default="", metavar="PREFIX",
                        help="serve the OCP API under this path, e.g. /ocp (not /__sim/)")
    args = parser.parse_args(argv)
    args.path_prefix = args.path_prefix.rstrip("/")
    if args.path_prefix and not re.fullmatch(r"(/[A-Za-z0-9._~%-]+)+", args.path_prefix):
        parser.error("--path-prefix must look like /ocp or /gw/ocp")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if not args.basic and not args.access_key:
        args.basic = [("admin", "admin")]
    return args


def write_port_file(path, port):
    """Atomically, so that a reader polling for the file never sees it half written."""
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as f:
        f.write("%d\n" % port)
    os.replace(temporary, path)


def tls_context_for(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def main(argv=None):
    args = parse_arguments(argv)
    state = SimState(dict(args.basic), dict(args.access_key))
    tls_context = tls_context_for(args.tls_cert, args.tls_key) if args.tls_cert else None
    server = SimServer((args.host, args.port), state, tls_context, args.verbose,
                       args.path_prefix)

    def stop(signum, frame):
        server.stopping.set()
        # shutdown() waits for serve_forever(), which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    host = "[%s]" % args.host if ":" in args.host else args.host
    print("ocp_sim listening on %s://%s:%d" % ("https" if tls_context else "http", host, port),
          flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
