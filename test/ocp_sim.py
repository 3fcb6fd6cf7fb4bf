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
    GET    /__sim/connections           {"accepted": N, "open": O, "in_flight_peak": M}:
                                        O client connections are open now (this
                                        one included), and M is the most API
                                        requests answered at once since the
                                        last reset
    DELETE /__sim/connections/in_flight_peak   restart that count, nothing else
    POST   /__sim/reset                 forget requests, tasks, faults, config, fleet
    GET    /__sim/config                the configuration
    POST   /__sim/config                merge {"task_seconds": 2, ...}
    POST   /__sim/tasks/ID              force {"status": "SUCCESSFUL"}
    GET    /__sim/faults                the queued faults
    POST   /__sim/faults                queue {"kind": "hang", ...} or a list
    DELETE /__sim/faults                drop the queued faults
    POST   /__sim/fleet                 replace the fleet: {"clusters": [...]} or
                                        {"generate": {"clusters": N, "seed": S}}
    GET    /__sim/fleet                 the fleet as stored (times: epoch seconds)
    POST   /__sim/fleet/clusters/ID/jobs        append a backup job to its history
    POST   /__sim/fleet/clusters/ID/jobs/JOBID  update that job {"status": "DONE", ...}
    DELETE /__sim/fleet/clusters/ID     drop the cluster from the inventory

Configuration keys (POST /__sim/config merges; POST /__sim/reset restores these):
    task_seconds        10            how long a backup task runs
    task_outcome        "SUCCESSFUL"  how a task ends, or "FAILED"
    task_ids_as_strings false         task ids as JSON strings of digits
    task_id_base        3000041       the next task id
    missing_clusters    [99]          clusters whose backupNow answers 404
    clock_skew_seconds  0             added to the simulator's clock
    list_page_limit     null          a positive integer caps the rows per page
                                      of every paged list, whatever size was
                                      asked; page.size shows the size used
    answer_delay_ms     0             every API answer comes that much later,
                                      as from a distant OCP

The fleet (empty until uploaded; reset empties it) is what OCP's inventory
and backup history show: GET /api/v2/ob/clusters, .../clusters/ID/tenants and
.../clusters/ID/backup/task/dataBackupTasks (ocp-api.md sections 5 and 6),
paged like the task list: clusters and tenants by id, jobs newest first (by
startTime, then taskId) with dates of the +0800 form; an unknown cluster
answers 404 OBE11001.  A job appended (404 for a cluster not in the fleet,
409 for a taskId it has) is OCP's own schedule starting a backup.
A cluster:
    {"id": 1000005, "name": "prod-a", "obClusterId": id, "obVersion": "4.2.1.0",
     "type": "PRIMARY", "status": "RUNNING", "tenants": [...], "history": [...]}
a tenant:
    {"id": 1001, "name": "sys", "mode": "MYSQL", "status": "NORMAL",
     "obVersion": the cluster's, "locked": false, "readonly": false,
     "created_ago": 2592000}
and a job of the history (the defaults shown; taskId, status and started_ago
are required):
    {"taskId": 7, "backupSetId": taskId, "backupMode": "PHYSICAL_BACKUP",
     "dataBackupTaskType": "FULL_BACKUP", "status": "DONE", "started_ago": 3600,
     "finished_ago": null, "errorMsg": null,
     "backupUri": "file:///obbackup/<cluster name>", "tenantId": null}
*_ago are seconds before the simulator's clock at upload, stored as absolute
times; a null or absent finished_ago means no finishTime.  An unknown key or
a value of the wrong type is refused with a 400.  "generate" builds N
clusters 2000001.. ("fleet-0001"..) from the seed (N up to 20000; seed 0 by
default).  Both forms answer
    {"clusters": N, "tenants": T, "jobs": J, "never_backed_up": [ids],
     "stale": [ids], "failing": [ids], "running": [ids], "fresh": [ids]}
classifying each cluster, at upload, by its newest job (latest startTime,
then highest taskId): none is never_backed_up; BEGINNING, INITIALIZING or
DOING is running; FAILED is failing; otherwise the newest DONE job decides:
fresh if it finished less than 24 h ago, else stale (stale too without any).
A cluster may also give its backup overview: "backupStrategy" (true;
obClusterBackupStatus HAS_BACKUP_STRATEGY or NO_BACKUP_STRATEGY),
"backupScheduleStatus" (NONE, NORMAL, PAUSED, WAITING or ABNORMAL; NORMAL
with a strategy, NONE without), "backupSize" (a number, absent by default)
and "obStorageVolumeUnit" (B, KB, MB, GB, TB, PB; GB); a tenant its log
archive, "logBackup": null (none, the default), a round or a list of rounds
oldest first, each
    {"status": "INPROGRESS", "checkpoint_ago": 30, "delay": checkpoint_ago,
     "errorMsg": null, "backupUri": "file:///obbackup/<cluster>/<tenant>/archive",
     "created_ago": 2592000, "modified_ago": checkpoint_ago}
with status one of STARTING INPROGRESS STOPPING STOPPED FAILED INTERRUPTED
UNKNOWN, or RUNNING as OCP's samples show, a null checkpoint_ago for no
checkpoint yet, and delay a whole or fractional number (77.6421 in OCP's
sample, though typed Long).  GET .../clusters/ID/backup/overview answers the
ClusterBackupInfoDetail they make (lastDataBackupTime: the newest DONE job's
end; latestLogBackupCheckpoint: the earliest checkpoint of the tenants'
latest rounds; logBackupDelaySeconds: their largest delay), and
.../clusters/ID/backup/task/logBackupTasks (paged; per tenant on OCP 4.3 at
.../clusters/ID/tenants/TID/backup/task/logBackupTasks) every round by tenant
id, with OCP's sample's undocumented agentServerIp; checkpoints come in the
+08:00 form with microseconds, other times in the +0800 form.  A generated
fleet has log archives running, lagging, interrupted, stopped or absent, a
few clusters without a strategy and a few with the schedule PAUSED.
backupNow on a fleet cluster adds a job (taskId: the cluster's highest + 1)
to its history that follows the task: RUNNING is DOING, SUCCESSFUL is DONE,
FAILED is FAILED with errorMsg "backup failed"; GET /__sim/fleet shows its
ocpTaskId.  A job update ({"status", "finished_ago", "errorMsg"}, null
removes the last two) cuts that tie.  On a fleet cluster, the tenant
backupNow answers 404 OBE11002 for a tenant the cluster does not have.
Clusters outside the fleet are served as before the fleet existed.

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
import math
import os
import random
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
        "list_page_limit": None,
        "answer_delay_ms": 0,
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


def format_time_colon_micro(ts):
    """2024-03-06T10:21:07.123456+08:00: the log backup samples' checkpoints,
    microseconds and a colon in the offset."""
    moment = datetime.fromtimestamp(ts, OCP_TZ)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+08:00"


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
    # The cluster and tenant objects shown, when they come from the fleet.
    cluster_label: object = None
    tenant_label: object = None

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

    def to_json(self, now, ids_as_strings):
        """The task's detail, GET /api/v2/tasks/instances/{id}: OCP's
        TaskInstance (OCP 4.2 and 4.3 API reference, "Query a task"; the
        class of that name in OCP Express's source), ocp-api.md section 5."""
        as_id = str if ids_as_strings else int
        status = self.status(now)
        data = {
            "id": as_id(self.id),
            "name": "Backup cluster" if self.tenant_id is None else "Backup tenant",
            "status": status,
            "type": "MANUAL",
            "operation": "EXECUTE",
            "creator": {"id": 1, "name": self.creator},
            "cluster": self.cluster_label or {
                "id": self.cluster_id, "name": "cluster%d" % self.cluster_id,
                "obClusterId": self.cluster_id, "type": "PRIMARY"},
            "createTime": format_time_colon(self.created),
            "startTime": format_time_colon(self.created),
            "prohibitRollback": False,
        }
        if self.tenant_id is not None:
            data["tenant"] = self.tenant_label or {"id": self.tenant_id,
                                                   "name": "tenant%d" % self.tenant_id}
        end = self.finish_time(now)
        if end is not None:
            data["finishTime"] = format_time_colon(end)
        data["subtasks"] = [self.subtask_json(i, state, now, as_id)
                            for i, state in enumerate(self.subtask_states(now))]
        return data

    # The fields of a row of the task list, exactly: BasicTaskInstance (OCP
    # 4.2 and 4.3 API reference, "Query the list of tasks"; the class of that
    # name in OCP Express's source, com.oceanbase.ocp.task.model).  No
    # createTime, type or operation: only the detail carries them.
    LIST_ROW_FIELDS = ("id", "name", "cluster", "tenant", "creator", "status",
                       "startTime", "finishTime", "subtasks")
    # A row's subtasks: BasicSubtaskInstance (same sources).
    LIST_SUBTASK_FIELDS = ("id", "name", "description", "status", "operation")

    def to_list_row(self, now, ids_as_strings):
        """The task as a row of GET /api/v2/tasks/instances."""
        detail = self.to_json(now, ids_as_strings)
        row = {key: detail[key] for key in self.LIST_ROW_FIELDS if key in detail}
        row["subtasks"] = [{key: sub[key] for key in self.LIST_SUBTASK_FIELDS if key in sub}
                           for sub in detail["subtasks"]]
        return row

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


def _config_delay_ms(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60000:
        raise ControlError(400, "answer_delay_ms must be an integer from 0 to 60000")
    return value


def _config_page_limit(value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ControlError(400, "list_page_limit must be a positive integer or null")
    return value


CONFIG_CHECKS = {
    "task_seconds": _config_task_seconds,
    "task_outcome": _config_outcome,
    "task_ids_as_strings": _config_bool,
    "task_id_base": _config_task_id_base,
    "missing_clusters": _config_clusters,
    "clock_skew_seconds": lambda v: _number(v, "clock_skew_seconds"),
    "list_page_limit": _config_page_limit,
    "answer_delay_ms": _config_delay_ms,
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
# The fleet: OCP's inventory of clusters and tenants, and each cluster's
# backup history, as tests upload or generate it.

CLUSTER_TYPES = ("PRIMARY", "STANDBY")
CLUSTER_STATUSES = ("RUNNING", "CREATING", "DELETING", "STARTING", "RESTARTING", "STOPPING",
                    "STOPPED", "TAKINGOVER", "MOVINGOUT", "SWITCHOVER", "FAILOVER",
                    "OPERATING")
TENANT_MODES = ("MYSQL", "ORACLE")
TENANT_STATUSES = ("NORMAL", "CREATING", "MODIFYING", "DELETING")
JOB_STATUSES = ("BEGINNING", "INITIALIZING", "DOING", "DONE", "FAILED", "CANCELING",
                "CANCELED", "OVERDUE", "UNKNOWN")
JOB_RUNNING = ("BEGINNING", "INITIALIZING", "DOING")
# A history job made by backupNow shows its task's status this way.
JOB_STATUS_OF_TASK = {"RUNNING": "DOING", "SUCCESSFUL": "DONE", "FAILED": "FAILED"}
TASK_JOB_ERROR = "backup failed"
DEFAULT_OB_VERSION = "4.2.1.0"
# Recoverability (the OCP API reference, "Backup and restoration": the
# cluster's backup overview, ClusterBackupInfoDetail, and its log backup
# tasks, LogBackupWrapperTask; the OCP 4.3 per-tenant list documents the
# status values).  The samples answer "RUNNING" too, which the status list
# does not name: the simulator serves both.
LOG_BACKUP_STATUSES = ("STARTING", "INPROGRESS", "STOPPING", "STOPPED", "FAILED",
                       "INTERRUPTED", "UNKNOWN", "RUNNING")
SCHEDULE_STATUSES = ("NONE", "NORMAL", "PAUSED", "WAITING", "ABNORMAL")
STORAGE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
DEFAULT_AGENT_SERVER_IP = "127.0.0.7"
DEFAULT_TENANT_AGE_SECONDS = 30 * 86400
# A cluster whose newest DONE job finished this recently is "fresh".
FRESH_SECONDS = 24 * 3600
MAX_ID = (1 << 63) - 1
# The kinds of cluster the upload's answer counts, in the answer's order.
FLEET_KINDS = ("never_backed_up", "stale", "failing", "running", "fresh")

REQUIRED = object()  # a field without a default


@dataclasses.dataclass
class Job:
    """One row of a cluster's backup history (dataBackupTasks)."""
    task_id: int        # OceanBase's backup job id, not an OCP task id
    backup_set_id: int
    backup_mode: str
    task_type: str      # dataBackupTaskType
    status: str
    started_at: float
    finished_at: object  # None: no finishTime
    error_msg: object
    backup_uri: str
    tenant_id: object
    task: object = None  # the Task of a backupNow: its status decides the job's

    def resolved(self, now):
        """(status, finished_at, error_msg) at `now`."""
        if self.task is None:
            return self.status, self.finished_at, self.error_msg
        status = self.task.status(now)
        return (JOB_STATUS_OF_TASK[status], self.task.finish_time(now),
                TASK_JOB_ERROR if status == "FAILED" else None)

    def untie(self, now):
        """Freezes what the task shows now: the control API takes over."""
        self.status, self.finished_at, self.error_msg = self.resolved(now)
        self.task = None

    def row(self, cluster_id, now):
        status, finished_at, error_msg = self.resolved(now)
        data = {"taskId": self.task_id, "backupSetId": self.backup_set_id,
                "backupMode": self.backup_mode, "dataBackupTaskType": self.task_type,
                "backupUri": self.backup_uri, "status": status, "clusterId": cluster_id,
                "startTime": format_time_no_colon(self.started_at)}
        if finished_at is not None:
            data["finishTime"] = format_time_no_colon(finished_at)
        if error_msg is not None:
            data["errorMsg"] = error_msg
        if self.tenant_id is not None:
            data["tenantId"] = self.tenant_id
        return data

    def stored(self, now):
        """For GET /__sim/fleet: the job's fields, times in epoch seconds."""
        status, finished_at, error_msg = self.resolved(now)
        data = {"taskId": self.task_id, "backupSetId": self.backup_set_id,
                "backupMode": self.backup_mode, "dataBackupTaskType": self.task_type,
                "status": status, "started_at": self.started_at,
                "finished_at": finished_at, "errorMsg": error_msg,
                "backupUri": self.backup_uri, "tenantId": self.tenant_id,
                "ocpTaskId": self.task.id if self.task else None}
        return {key: value for key, value in data.items() if value is not None}


def newest_first(history):
    return sorted(history, key=lambda j: (j.started_at, j.task_id), reverse=True)


# Field checks: check(value, where) returns the value or raises a 400 that
# names the field, e.g. "clusters[2].history[0].status must be one of ...".

def _fleet_id(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ControlError(400, "%s must be a positive integer" % where)
    return value


def _fleet_name(value, where):
    if not isinstance(value, str) or not value:
        raise ControlError(400, "%s must be a non-empty string" % where)
    return value


def _fleet_text(value, where):
    if not isinstance(value, str):
        raise ControlError(400, "%s must be a string" % where)
    return value


def _fleet_bool(value, where):
    if not isinstance(value, bool):
        raise ControlError(400, "%s must be true or false" % where)
    return value


def _fleet_ago(value, where):
    seconds = _number(value, where)
    if not math.isfinite(seconds) or seconds < 0:
        raise ControlError(400, "%s must be a number of seconds, not negative" % where)
    return seconds


def _fleet_list(value, where):
    if not isinstance(value, list):
        raise ControlError(400, "%s must be a list" % where)
    return value


def _fleet_enum(*allowed):
    def check(value, where):
        if not isinstance(value, str) or value not in allowed:
            raise ControlError(400, "%s must be one of %s" % (where, ", ".join(allowed)))
        return value
    return check


def _fleet_optional(check):
    """null is accepted and means absent."""
    return lambda value, where: None if value is None else check(value, where)


CLUSTER_FIELDS = {
    "id": (_fleet_id, REQUIRED),
    "name": (_fleet_name, REQUIRED),
    "obClusterId": (_fleet_id, None),  # None: filled in from the other fields
    "obVersion": (_fleet_name, DEFAULT_OB_VERSION),
    "type": (_fleet_enum(*CLUSTER_TYPES), "PRIMARY"),
    "status": (_fleet_enum(*CLUSTER_STATUSES), "RUNNING"),
    "tenants": (_fleet_list, None),
    "history": (_fleet_list, None),
    # The backup overview: a strategy (obClusterBackupStatus), its schedule
    # (NORMAL with a strategy, NONE without, unless given) and the size.
    "backupStrategy": (_fleet_bool, True),
    "backupScheduleStatus": (_fleet_optional(_fleet_enum(*SCHEDULE_STATUSES)), None),
    "backupSize": (_fleet_optional(lambda v, w: _fleet_size(v, w)), None),
    "obStorageVolumeUnit": (_fleet_enum(*STORAGE_UNITS), "GB"),
}
TENANT_FIELDS = {
    "id": (_fleet_id, REQUIRED),
    "name": (_fleet_name, REQUIRED),
    "mode": (_fleet_enum(*TENANT_MODES), "MYSQL"),
    "status": (_fleet_enum(*TENANT_STATUSES), "NORMAL"),
    "obVersion": (_fleet_name, None),
    "locked": (_fleet_bool, False),
    "readonly": (_fleet_bool, False),
    "created_ago": (_fleet_ago, DEFAULT_TENANT_AGE_SECONDS),
    # Its log archive: one round ({...}) or its rounds, oldest first ([...]);
    # null: no log backup.
    "logBackup": (_fleet_optional(lambda v, w: v), None),
}
LOG_BACKUP_FIELDS = {
    "status": (_fleet_enum(*LOG_BACKUP_STATUSES), REQUIRED),
    "checkpoint_ago": (_fleet_optional(_fleet_ago), None),  # None: no checkpoint yet
    "delay": (_fleet_optional(lambda v, w: _fleet_delay(v, w)), None),  # None: checkpoint_ago
    "errorMsg": (_fleet_optional(_fleet_text), None),
    "backupUri": (_fleet_name, None),
    "created_ago": (_fleet_ago, DEFAULT_TENANT_AGE_SECONDS),
    "modified_ago": (_fleet_optional(_fleet_ago), None),  # None: checkpoint_ago, else 0
}
JOB_FIELDS = {
    "taskId": (_fleet_id, REQUIRED),
    "backupSetId": (_fleet_id, None),
    "backupMode": (_fleet_enum(*BACKUP_MODES), "PHYSICAL_BACKUP"),
    "dataBackupTaskType": (_fleet_enum(*DATA_BACKUP_MODES), "FULL_BACKUP"),
    "status": (_fleet_enum(*JOB_STATUSES), REQUIRED),
    "started_ago": (_fleet_ago, REQUIRED),
    "finished_ago": (_fleet_optional(_fleet_ago), None),
    "errorMsg": (_fleet_optional(_fleet_text), None),
    "backupUri": (_fleet_name, None),
    "tenantId": (_fleet_optional(_fleet_id), None),
}
# What OCP's schedule changes of a job as it runs; None: left as it is.
JOB_UPDATE_FIELDS = {
    "status": (JOB_FIELDS["status"][0], None),
    "finished_ago": JOB_FIELDS["finished_ago"],
    "errorMsg": JOB_FIELDS["errorMsg"],
}


def _fleet_size(value, where):
    size = _number(value, where)
    if not math.isfinite(size) or size < 0:
        raise ControlError(400, "%s must be a size, not negative" % where)
    return value


def _fleet_delay(value, where):
    """Seconds as OCP sends them: typed Long, yet 77.6421 in the sample."""
    delay = _number(value, where)
    if not math.isfinite(delay) or delay < 0:
        raise ControlError(400, "%s must be a number of seconds, not negative" % where)
    return value


def fleet_fields(value, where, fields):
    """`value` checked against `fields` (key -> (check, default)), defaults
    filled in; an unknown key is refused rather than ignored."""
    if not isinstance(value, dict):
        raise ControlError(400, "%s must be a JSON object" % where)
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ControlError(400, "%s: unknown key(s): %s" % (where, ", ".join(unknown)))
    result = {}
    for key, (check, default) in fields.items():
        if key in value:
            result[key] = check(value[key], "%s.%s" % (where, key))
        elif default is REQUIRED:
            raise ControlError(400, "%s.%s is required" % (where, key))
        else:
            result[key] = default
    return result


def default_backup_uri(cluster):
    return "file:///obbackup/" + cluster["name"]


def stored_tenant(tenant):
    """For GET /__sim/fleet: the tenant's fields, its log archive's rounds
    (times in epoch seconds) when it has one."""
    stored = {key: value for key, value in tenant.items() if key != "logBackup"}
    if tenant["logBackup"] is not None:
        stored["logBackup"] = [dict(log) for log in tenant["logBackup"]]
    return stored


def find_tenant(cluster, tenant_id):
    return next((t for t in cluster["tenants"] if t["id"] == tenant_id), None)


def normalize_log_round(raw, where, cluster, tenant, now):
    """One round of a tenant's log archive, times absolute."""
    fields = fleet_fields(raw, where, LOG_BACKUP_FIELDS)
    checkpoint = fields.pop("checkpoint_ago")
    modified = fields.pop("modified_ago")
    if modified is None:
        modified = checkpoint if checkpoint is not None else 0
    if fields["delay"] is None:
        fields["delay"] = 0 if checkpoint is None else int(checkpoint)
    if fields["backupUri"] is None:
        fields["backupUri"] = "file:///obbackup/%s/%s/archive" % (cluster["name"], tenant["name"])
    fields["checkpoint_at"] = None if checkpoint is None else now - checkpoint
    fields["created_at"] = now - fields.pop("created_ago")
    fields["modified_at"] = now - modified
    return fields


def normalize_tenant(raw, where, cluster, now):
    tenant = fleet_fields(raw, where, TENANT_FIELDS)
    if tenant["obVersion"] is None:
        tenant["obVersion"] = cluster["obVersion"]
    tenant["created_at"] = now - tenant.pop("created_ago")
    rounds = tenant["logBackup"]
    if rounds is not None:
        rounds = rounds if isinstance(rounds, list) else [rounds]
        tenant["logBackup"] = [normalize_log_round(item, "%s.logBackup[%d]" % (where, index),
                                                   cluster, tenant, now)
                               for index, item in enumerate(rounds)]
    return tenant


def normalize_job(raw, where, cluster, now):
    """A Job of `cluster` (its tenants already normalized)."""
    fields = fleet_fields(raw, where, JOB_FIELDS)
    started, finished = fields["started_ago"], fields["finished_ago"]
    if finished is not None and finished > started:
        raise ControlError(400, "%s.finished_ago must not be more than started_ago" % where)
    tenant_id = fields["tenantId"]
    if tenant_id is not None and find_tenant(cluster, tenant_id) is None:
        raise ControlError(400, "%s.tenantId %d is not a tenant of cluster %d"
                           % (where, tenant_id, cluster["id"]))
    return Job(task_id=fields["taskId"], backup_set_id=fields["backupSetId"] or fields["taskId"],
               backup_mode=fields["backupMode"], task_type=fields["dataBackupTaskType"],
               status=fields["status"], started_at=now - started,
               finished_at=None if finished is None else now - finished,
               error_msg=fields["errorMsg"],
               backup_uri=fields["backupUri"] or default_backup_uri(cluster),
               tenant_id=tenant_id)


def normalize_cluster(raw, where, now):
    cluster = fleet_fields(raw, where, CLUSTER_FIELDS)
    if cluster["obClusterId"] is None:
        cluster["obClusterId"] = cluster["id"]
    if cluster["backupScheduleStatus"] is None:
        cluster["backupScheduleStatus"] = "NORMAL" if cluster["backupStrategy"] else "NONE"
    tenants, cluster["tenants"] = cluster["tenants"] or [], []
    for index, item in enumerate(tenants):
        tenant = normalize_tenant(item, "%s.tenants[%d]" % (where, index), cluster, now)
        for other in cluster["tenants"]:
            for key in ("id", "name"):  # both are unique within an OceanBase cluster
                if other[key] == tenant[key]:
                    raise ControlError(400, "%s.tenants[%d]: tenant %s %r given twice"
                                       % (where, index, key, tenant[key]))
        cluster["tenants"].append(tenant)
    history, cluster["history"] = cluster["history"] or [], []
    for index, item in enumerate(history):
        job = normalize_job(item, "%s.history[%d]" % (where, index), cluster, now)
        if any(j.task_id == job.task_id for j in cluster["history"]):
            raise ControlError(400, "%s.history[%d]: taskId %d given twice"
                               % (where, index, job.task_id))
        cluster["history"].append(job)
    return cluster


def build_fleet(payload, now):
    """The fleet (cluster id -> cluster) a POST /__sim/fleet describes."""
    if not isinstance(payload, dict) or set(payload) not in ({"clusters"}, {"generate"}):
        raise ControlError(400, 'the fleet must be {"clusters": [...]} or '
                           '{"generate": {"clusters": N, "seed": S}}')
    if "generate" in payload:
        clusters = generate_fleet(payload["generate"])
    else:
        clusters = _fleet_list(payload["clusters"], "clusters")
    fleet = {}
    for index, item in enumerate(clusters):
        cluster = normalize_cluster(item, "clusters[%d]" % index, now)
        if cluster["id"] in fleet:
            raise ControlError(400, "clusters[%d]: cluster id %d given twice"
                               % (index, cluster["id"]))
        fleet[cluster["id"]] = cluster
    return fleet


def cluster_kind(cluster, now):
    """Which of FLEET_KINDS the cluster's history makes it, at `now`."""
    jobs = newest_first(cluster["history"])
    if not jobs:
        return "never_backed_up"
    status = jobs[0].resolved(now)[0]
    if status in JOB_RUNNING:
        return "running"
    if status == "FAILED":
        return "failing"
    for job in jobs:
        status, finished_at, _ = job.resolved(now)
        if status == "DONE":
            ended = job.started_at if finished_at is None else finished_at
            return "fresh" if now - ended < FRESH_SECONDS else "stale"
    return "stale"  # nothing ever succeeded, though something was tried


def fleet_summary(fleet, now):
    kinds = {kind: [] for kind in FLEET_KINDS}
    for cluster_id in sorted(fleet):
        kinds[cluster_kind(fleet[cluster_id], now)].append(cluster_id)
    return {"clusters": len(fleet),
            "tenants": sum(len(c["tenants"]) for c in fleet.values()),
            "jobs": sum(len(c["history"]) for c in fleet.values()), **kinds}


# The generated fleet: the same seed, the same fleet (its *_ago values; the
# absolute times follow the clock at upload).

GENERATED_ID_BASE = 2000000
GENERATED_TENANT_ID_BASE = 1000
GENERATED_MAX_CLUSTERS = 20000
GENERATED_OB_VERSIONS = ("4.2.1.0", "4.2.1.8", "4.2.5.1", "4.3.3.0")
GENERATED_TENANT_NAMES = ("orders", "billing", "users", "audit", "crm", "ledger")
# Relative weights of the kinds beyond the first of each: mostly healthy.
GENERATED_KIND_WEIGHTS = {"never_backed_up": 2, "stale": 3, "failing": 3, "running": 2,
                          "fresh": 10}
GENERATED_ERRORS = (
    "backup destination is not accessible: file:///obbackup (ret=-9081)",
    "log archive is not enabled for the tenant (ret=-9044)",
    "backup task timed out: no progress for 3600 s (ret=-4012)",
    "disk is full on the backup destination (ret=-4184)",
)
HOUR = 3600.0
DAY = 86400.0


def _generated_count(value, where):
    if (isinstance(value, bool) or not isinstance(value, int)
            or not 1 <= value <= GENERATED_MAX_CLUSTERS):
        raise ControlError(400, "%s must be an integer from 1 to %d"
                           % (where, GENERATED_MAX_CLUSTERS))
    return value


def _generated_seed(value, where):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(400, "%s must be an integer" % where)
    return value


GENERATE_FIELDS = {"clusters": (_generated_count, REQUIRED), "seed": (_generated_seed, 0)}


def generate_fleet(spec):
    """The clusters, as an upload would give them, of a generated fleet."""
    params = fleet_fields(spec, "generate", GENERATE_FIELDS)
    rng = random.Random(params["seed"])
    kinds = generated_kinds(rng, params["clusters"])
    tenant_ids = iter(range(GENERATED_TENANT_ID_BASE + 1, MAX_ID))
    clusters = [generated_cluster(rng, number, kind, tenant_ids)
                for number, kind in enumerate(kinds, start=1)]
    for number, cluster in enumerate(clusters, start=1):
        generated_log_backup(params["seed"], number, cluster)
    return clusters


def generated_kinds(rng, count):
    """Every kind at least once (when there are clusters enough), the rest drawn."""
    kinds = list(FLEET_KINDS)
    rng.shuffle(kinds)
    kinds = kinds[:count] + rng.choices(list(GENERATED_KIND_WEIGHTS),
                                        list(GENERATED_KIND_WEIGHTS.values()),
                                        k=max(0, count - len(FLEET_KINDS)))
    rng.shuffle(kinds)
    return kinds


def generated_cluster(rng, number, kind, tenant_ids):
    names = ["sys"] + rng.sample(GENERATED_TENANT_NAMES, rng.randint(1, 3))
    tenants = [{"id": next(tenant_ids), "name": name,
                "mode": "ORACLE" if name != "sys" and rng.random() < 0.2 else "MYSQL",
                "created_ago": round(rng.uniform(30, 400) * DAY, 3)} for name in names]
    # obClusterId differs from id, so that a client mixing them up is caught.
    return {"id": GENERATED_ID_BASE + number, "name": "fleet-%04d" % number,
            "obClusterId": number, "obVersion": rng.choice(GENERATED_OB_VERSIONS),
            "tenants": tenants, "history": generated_history(rng, kind)}


# How a generated cluster's log archive stands; weights as the kinds above.
GENERATED_LOG_KIND_WEIGHTS = {"running": 12, "lagging": 2, "interrupted": 1, "stopped": 1,
                              "absent": 2}
GENERATED_LOG_ERRORS = (
    "archive destination is not accessible (ret=-9081)",
    "log archive piece switch failed (ret=-4012)",
)


def generated_log_backup(seed, number, cluster):
    """The cluster's backup strategy and its tenants' log archives, from a
    random source of its own: the fleet the seed gave before is unchanged."""
    rng = random.Random("log-backup-%d-%d" % (seed, number))
    kind = rng.choices(list(GENERATED_LOG_KIND_WEIGHTS),
                       list(GENERATED_LOG_KIND_WEIGHTS.values()))[0]
    cluster["backupSize"] = round(rng.uniform(1, 900), 2)
    cluster["obStorageVolumeUnit"] = "GB"
    if kind == "absent":
        cluster["backupStrategy"] = rng.random() < 0.5
        return
    if rng.random() < 0.05:
        cluster["backupScheduleStatus"] = "PAUSED"
    odd = rng.randrange(len(cluster["tenants"]))
    for index, tenant in enumerate(cluster["tenants"]):
        checkpoint = round(rng.uniform(5, 120), 3)
        log = {"status": rng.choice(("INPROGRESS", "RUNNING")), "checkpoint_ago": checkpoint,
               "delay": round(checkpoint, 4)}
        if index == odd and kind == "lagging":
            log["checkpoint_ago"] = log["delay"] = round(rng.uniform(20, 90) * 60, 3)
        elif index == odd and kind in ("interrupted", "stopped"):
            log["checkpoint_ago"] = round(rng.uniform(2, 30) * HOUR, 3)
            log["delay"] = int(log["checkpoint_ago"])
            log["status"] = kind.upper()
            if kind == "interrupted":
                log["errorMsg"] = rng.choice(GENERATED_LOG_ERRORS)
        tenant["logBackup"] = log


def generated_history(rng, kind):
    """Nightly jobs of OCP's backup schedule (a FULL one a week, INCREMENTAL
    the other nights), oldest first, ending the way `kind` says."""
    if kind == "never_backed_up":
        return []
    if kind == "stale":
        newest_done = rng.uniform(30, 240) * HOUR
    else:
        newest_done = rng.uniform(2, 20) * HOUR
    last = None
    if kind == "failing":
        newest_done += DAY  # the night before the failure
        duration = rng.uniform(60, 900)
        last = {"status": "FAILED", "started_ago": newest_done - DAY,
                "finished_ago": newest_done - DAY - duration,
                "errorMsg": rng.choice(GENERATED_ERRORS)}
    elif kind == "running":
        last = {"status": "DOING", "started_ago": rng.uniform(5, 50) * 60}
    nights = rng.randint(3, 7)
    jobs = []
    for night in reversed(range(nights)):
        started = newest_done + night * DAY
        jobs.append({"status": "DONE", "started_ago": started,
                     "finished_ago": started - rng.uniform(10, 60) * 60})
    if last is not None:
        jobs.append(last)
    for number, job in enumerate(jobs, start=1):
        job["taskId"] = job["backupSetId"] = number
        job["dataBackupTaskType"] = "FULL_BACKUP" if number % 7 == 1 else "INCREMENTAL_BACKUP"
        for key in ("started_ago", "finished_ago"):
            if key in job:
                job[key] = round(job[key], 3)
    return jobs


# ---------------------------------------------------------------------------
# The simulator's state, shared by all connection threads.

class SimState:
    def __init__(self, basic, access_keys):
        self.basic = basic              # user -> password
        self.access_keys = access_keys  # AK -> SK
        self.in_flight = 0              # API requests being answered now
        self.open_connections = 0       # client connections open now
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
            self.fleet = {}          # cluster id -> cluster (normalize_cluster)
            self.fleet_at = None     # when the fleet was uploaded, for *_ago
            self.in_flight_peak = self.in_flight

    def now(self):
        """The simulator's clock: real time plus the configured skew."""
        return time.time() + self.config["clock_skew_seconds"]

    def answering(self, delta):
        """Counts API requests being answered; returns the delay to apply."""
        with self.lock:
            self.in_flight += delta
            self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
            return self.config["answer_delay_ms"] / 1000.0

    def count_connection(self, delta=1):
        """A connection accepted (1) or ended (-1); returns the accepted count."""
        with self.lock:
            if delta > 0:
                self.accepted += 1
            self.open_connections += delta
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

    # -- the fleet --

    def replace_fleet(self, payload):
        """Built outside the lock: a large generated fleet takes a while."""
        now = self.now()
        fleet = build_fleet(payload, now)
        with self.lock:
            self.fleet, self.fleet_at = fleet, now
            return fleet_summary(fleet, now)

    def fleet_json(self):
        with self.lock:
            now = self.now()
            clusters = [{**cluster, "tenants": [stored_tenant(t) for t in cluster["tenants"]],
                         "history": [job.stored(now) for job in cluster["history"]]}
                        for _, cluster in sorted(self.fleet.items())]
            return {"uploaded_at": self.fleet_at, "clusters": clusters}

    def fleet_cluster(self, cluster_id):
        """The caller holds self.lock."""
        cluster = self.fleet.get(cluster_id)
        if cluster is None:
            raise ControlError(404, "no cluster %d in the fleet" % cluster_id)
        return cluster

    def append_job(self, cluster_id, payload):
        """OCP's own schedule starting a backup: a new job, the newest."""
        with self.lock:
            now = self.now()
            cluster = self.fleet_cluster(cluster_id)
            job = normalize_job(payload, "job", cluster, now)
            if any(j.task_id == job.task_id for j in cluster["history"]):
                raise ControlError(409, "cluster %d already has a job %d"
                                   % (cluster_id, job.task_id))
            cluster["history"].append(job)
            return job.stored(now)

    def update_job(self, cluster_id, job_id, payload):
        """OCP's schedule moving a job on; a job of a backupNow stops
        following its task."""
        changes = fleet_fields(payload, "job update", JOB_UPDATE_FIELDS)
        given = set(payload)
        with self.lock:
            now = self.now()
            cluster = self.fleet_cluster(cluster_id)
            job = next((j for j in cluster["history"] if j.task_id == job_id), None)
            if job is None:
                raise ControlError(404, "cluster %d has no job %d" % (cluster_id, job_id))
            finished_at = None
            if changes["finished_ago"] is not None:
                finished_at = now - changes["finished_ago"]
                if finished_at < job.started_at:
                    raise ControlError(400, "job update.finished_ago must not be more than "
                                       "the job's age")
            job.untie(now)
            if "finished_ago" in given:
                job.finished_at = finished_at
            if "status" in given:
                job.status = changes["status"]
            if "errorMsg" in given:
                job.error_msg = changes["errorMsg"]
            return job.stored(now)

    def delete_cluster(self, cluster_id):
        with self.lock:
            self.fleet_cluster(cluster_id)
            del self.fleet[cluster_id]

    def add_task_job(self, cluster, task, backup_request):
        """The history job of a backupNow's task; the caller holds self.lock."""
        history = cluster["history"]
        job = Job(task_id=max((j.task_id for j in history), default=0) + 1,
                  backup_set_id=max((j.backup_set_id for j in history), default=0) + 1,
                  backup_mode=backup_request["backupMode"],
                  task_type=backup_request["dataBackupMode"], status="DOING",
                  started_at=task.created, finished_at=None, error_msg=None,
                  backup_uri=default_backup_uri(cluster), tenant_id=task.tenant_id,
                  task=task)
        history.append(job)


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
        # The window, not the measured distance: the Date header has whole
        # seconds and the request takes time, so the distance is not exact.
        raise unauthenticated("date is %d s or more away from server time" % DATE_WINDOW_SECONDS)


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
    backup_request = parse_json_body(request)
    problems = validate_backup_request(backup_request)
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
        cluster = state.fleet.get(cluster_id)
        tenant = None
        if cluster is not None and tenant_id is not None:
            tenant = find_tenant(cluster, tenant_id)
            if tenant is None:
                raise ApiError(404, "OBE11002", "The specified tenant with the ID of %d "
                               "does not exist." % tenant_id)
        now = state.now()
        if state.running_task_of(cluster_id, now):
            result = {"beSuccessful": False, "errorCode": "BAK31005",
                      "hint": MSG_BACKUP_EXISTS, "obBackupObjectList": [backup_object]}
        else:
            task = state.create_task(cluster_id, tenant_id, user, now)
            if cluster is not None:
                label_fleet_task(task, cluster, tenant)
                state.add_task_job(cluster, task, backup_request)
            task_id = str(task.id) if state.config["task_ids_as_strings"] else task.id
            result = {"beSuccessful": True, "obBackupObjectList": [backup_object],
                      "taskIdList": [task_id]}
    return {"backupObjectOpsResultList": [result], "obBackupTaskType": "DATA_BACKUP_NOW"}


def label_fleet_task(task, cluster, tenant):
    """A task of a fleet cluster shows that cluster's name, as of its creation."""
    task.cluster_label = {"id": cluster["id"], "name": cluster["name"],
                          "obClusterId": cluster["obClusterId"], "type": cluster["type"]}
    if tenant is not None:
        task.tenant_label = {"id": tenant["id"], "name": tenant["name"]}


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


def query_list(params, name):
    """The values of a comma-separated filter ("status=RUNNING,FAILED")."""
    return {s for value in params.get(name, []) for s in value.split(",") if s}


def query_text(params, name):
    """An exact-match filter; absent or empty filters nothing."""
    values = params.get(name)
    return values[-1] if values and values[-1] else None


def page_request(params):
    """(page, size) of a paged list: page is 1-based, size at most 2000."""
    return (query_int(params, "page", 1, 1, 1 << 31),
            query_int(params, "size", 10, 1, 2000))


def paged(state, items, page, size, render):
    """One page of `items` (filtered and ordered), OCP's way; only the page's
    rows are rendered.  list_page_limit caps the size whatever was asked, and
    page.size says what was used, so a client that trusts its own size and
    stops early is caught.  The caller holds state.lock."""
    limit = state.config["list_page_limit"]
    if limit is not None:
        size = min(size, limit)
    total = len(items)
    return {"contents": [render(item) for item in items[(page - 1) * size:page * size]],
            "page": {"number": page, "size": size, "totalElements": total,
                     "totalPages": (total + size - 1) // size}}


def list_tasks(state, request, user):
    """Paged like OCP lists (page is 1-based), newest task first."""
    params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    cluster_id = query_int(params, "clusterId", None, 0, 1 << 63)
    statuses = query_list(params, "status")
    page, size = page_request(params)
    with state.lock:
        now = state.now()
        as_strings = state.config["task_ids_as_strings"]
        # A cluster's tasks come from its index: a long run lists one
        # cluster after another among tens of thousands of tasks.
        source = (state.tasks.values() if cluster_id is None
                  else state.cluster_tasks.get(cluster_id, []))
        tasks = [t for t in sorted(source, key=lambda t: t.id, reverse=True)
                 if not statuses or t.status(now) in statuses]
        return paged(state, tasks, page, size, lambda t: t.to_list_row(now, as_strings))


def cluster_row(cluster):
    return {key: cluster[key] for key in ("id", "name", "obClusterId", "obVersion", "type",
                                          "status")}


def tenant_row(cluster, tenant):
    return {"id": tenant["id"], "name": tenant["name"], "clusterId": cluster["id"],
            "clusterName": cluster["name"], "obClusterId": cluster["obClusterId"],
            "clusterType": cluster["type"], "mode": tenant["mode"],
            "status": tenant["status"], "locked": tenant["locked"],
            "readonly": tenant["readonly"], "obVersion": tenant["obVersion"],
            "createTime": format_time_colon(tenant["created_at"])}


def delay_json(delay):
    """A delay as the samples send it: a whole number, or 77.6421."""
    return int(delay) if float(delay).is_integer() else delay


def log_backup_rows(cluster, tenant):
    """LogBackupWrapperTask rows of a tenant (OCP API reference, "Backup and
    restoration", query log backup tasks; the fields the reference gives,
    and agentServerIp, which only its sample shows).  The checkpoint in the
    samples' +08:00 form with microseconds, createTime and modifyTime in the
    +0800 form: a client must read both.  Null fields are left out."""
    rows = []
    for log in tenant["logBackup"] or []:
        row = {"tenantId": tenant["id"], "tenantName": tenant["name"],
               "obTenantId": ob_tenant_id(cluster, tenant), "status": log["status"],
               "delay": delay_json(log["delay"]), "backupUri": log["backupUri"],
               "createTime": format_time_no_colon(log["created_at"]),
               "modifyTime": format_time_no_colon(log["modified_at"]),
               "agentServerIp": DEFAULT_AGENT_SERVER_IP}
        if log["checkpoint_at"] is not None:
            row["checkpoint"] = format_time_colon_micro(log["checkpoint_at"])
        if log["errorMsg"] is not None:
            row["errorMsg"] = log["errorMsg"]
        rows.append(row)
    return rows


def ob_tenant_id(cluster, tenant):
    """OceanBase's own tenant id: 1 for sys, 1002, 1004, ... for the others
    in the order of OCP's ids (the odd ones are their meta tenants)."""
    if tenant["name"] == "sys":
        return 1
    others = sorted(t["id"] for t in cluster["tenants"] if t["name"] != "sys")
    return 1002 + 2 * others.index(tenant["id"])


def backup_overview(cluster, now):
    """ClusterBackupInfoDetail (OCP API reference, "Backup and restoration",
    the cluster's backup overview): the last DONE data backup's end, the
    earliest checkpoint of the tenants' latest log archive rounds and the
    largest delay among them, the strategy, its schedule and the size.
    lastDataBackupTime in the +0800 form, the checkpoint in the +08:00 form
    with microseconds.  Null fields are left out."""
    data = {"backupDimension": "CLUSTER",
            "obClusterBackupStatus": ("HAS_BACKUP_STRATEGY" if cluster["backupStrategy"]
                                      else "NO_BACKUP_STRATEGY"),
            "backupScheduleStatus": cluster["backupScheduleStatus"]}
    done = [finished if finished is not None else job.started_at
            for job in cluster["history"]
            for status, finished, _ in [job.resolved(now)] if status == "DONE"]
    if done:
        data["lastDataBackupTime"] = format_time_no_colon(max(done))
    latest = [t["logBackup"][-1] for t in cluster["tenants"] if t["logBackup"]]
    checkpoints = [log["checkpoint_at"] for log in latest if log["checkpoint_at"] is not None]
    if checkpoints:
        data["latestLogBackupCheckpoint"] = format_time_colon_micro(min(checkpoints))
        data["logBackupDelaySeconds"] = int(max(float(log["delay"]) for log in latest))
    if cluster["backupSize"] is not None:
        data["backupSize"] = cluster["backupSize"]
        data["obStorageVolumeUnit"] = cluster["obStorageVolumeUnit"]
    return data


def fleet_cluster_or_404(state, cluster_id):
    """The caller holds state.lock."""
    cluster = state.fleet.get(cluster_id)
    if cluster is None:
        raise ApiError(404, "OBE11001", "The specified cluster with the ID of %d does "
                       "not exist." % cluster_id)
    return cluster


def list_clusters(state, request, user):
    """The fleet's clusters by id; filters name (exact) and status (a list)."""
    params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    name = query_text(params, "name")
    statuses = query_list(params, "status")
    page, size = page_request(params)
    with state.lock:
        clusters = [state.fleet[i] for i in sorted(state.fleet)
                    if (name is None or state.fleet[i]["name"] == name)
                    and (not statuses or state.fleet[i]["status"] in statuses)]
        return paged(state, clusters, page, size, cluster_row)


def list_tenants(state, request, user, cluster_id):
    """A fleet cluster's tenants by id; filters name, mode and status."""
    params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    name = query_text(params, "name")
    modes, statuses = query_list(params, "mode"), query_list(params, "status")
    page, size = page_request(params)
    with state.lock:
        cluster = fleet_cluster_or_404(state, cluster_id)
        tenants = [t for t in sorted(cluster["tenants"], key=lambda t: t["id"])
                   if (name is None or t["name"] == name)
                   and (not modes or t["mode"] in modes)
                   and (not statuses or t["status"] in statuses)]
        return paged(state, tenants, page, size, lambda t: tenant_row(cluster, t))


def list_backup_jobs(state, request, user, cluster_id):
    """A fleet cluster's backup history, newest job first."""
    params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    page, size = page_request(params)
    with state.lock:
        now = state.now()
        cluster = fleet_cluster_or_404(state, cluster_id)
        return paged(state, newest_first(cluster["history"]), page, size,
                     lambda job: job.row(cluster_id, now))


def get_backup_overview(state, request, user, cluster_id):
    with state.lock:
        return backup_overview(fleet_cluster_or_404(state, cluster_id), state.now())


def list_log_backup_tasks(state, request, user, cluster_id, tenant_id=None):
    """The log backup rounds of a cluster's tenants (of one tenant: the OCP
    4.3 path), by tenant id, oldest round first; startTime and endTime are
    taken and filter nothing."""
    params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    page, size = page_request(params)
    with state.lock:
        cluster = fleet_cluster_or_404(state, cluster_id)
        tenants = sorted(cluster["tenants"], key=lambda t: t["id"])
        if tenant_id is not None:
            tenants = [t for t in tenants if t["id"] == tenant_id]
            if not tenants:
                raise ApiError(404, "OBE11002", "The specified tenant with the ID of %d does "
                               "not exist." % tenant_id)
        rows = [row for t in tenants for row in log_backup_rows(cluster, t)]
        return paged(state, rows, page, size, lambda row: row)


ROUTES = (
    (re.compile(r"/api/v2/ob/clusters/(\d+)/backup/backupNow"), {"POST": backup_now}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/tenants/(\d+)/backup/backupNow"),
     {"POST": backup_now}),
    (re.compile(r"/api/v2/tasks/instances/(\d+)"), {"GET": get_task}),
    (re.compile(r"/api/v2/tasks/instances"), {"GET": list_tasks}),
    (re.compile(r"/api/v2/ob/clusters"), {"GET": list_clusters}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/tenants"), {"GET": list_tenants}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/backup/task/dataBackupTasks"),
     {"GET": list_backup_jobs}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/backup/overview"), {"GET": get_backup_overview}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/backup/task/logBackupTasks"),
     {"GET": list_log_backup_tasks}),
    (re.compile(r"/api/v2/ob/clusters/(\d+)/tenants/(\d+)/backup/task/logBackupTasks"),
     {"GET": list_log_backup_tasks}),
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
        return control_answer(200, {"accepted": state.accepted,
                                    "open": state.open_connections,
                                    "in_flight_peak": state.in_flight_peak})
    if (method, name) == ("DELETE", "connections/in_flight_peak"):
        with state.lock:
            state.in_flight_peak = state.in_flight
        return control_answer(200, {"ok": True})
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
    if name == "fleet" or name.startswith("fleet/"):
        answer = fleet_action(state, method, name, payload)
        if answer is not None:
            return answer
    match = re.fullmatch(r"tasks/(\d+)", name)
    if match and method == "POST":
        status = (payload or {}).get("status") if isinstance(payload, dict) else None
        state.force_task(int(match.group(1)), status)
        return control_answer(200, {"id": int(match.group(1)), "status": status})
    raise ControlError(404, "no control endpoint %s %s" % (method, CONTROL_PREFIX + name))


def fleet_action(state, method, name, payload):
    """The /__sim/fleet endpoints; None for a path or method they do not have."""
    if name == "fleet":
        if method == "GET":
            return control_answer(200, state.fleet_json())
        if method == "POST":
            return control_answer(200, state.replace_fleet(payload))
        return None
    match = re.fullmatch(r"fleet/clusters/(\d+)(?:/jobs(?:/(\d+))?)?", name)
    if match is None:
        return None
    cluster_id = int(match.group(1))
    if name.endswith("/jobs") and method == "POST":
        return control_answer(200, state.append_job(cluster_id, payload))
    if match.group(2) is not None and method == "POST":
        return control_answer(200, state.update_job(cluster_id, int(match.group(2)), payload))
    if "/jobs" not in name and method == "DELETE":
        state.delete_cluster(cluster_id)
        return control_answer(200, {"ok": True})
    return None


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
        self.in_flight = False  # this connection's request counts in state.in_flight
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
        delay = self.state.answering(1)
        self.in_flight = True
        try:
            if delay > 0:
                self.server.stopping.wait(delay)
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
        finally:
            self.end_in_flight()

    def end_in_flight(self):
        """Counts this connection's request out of state.in_flight, once."""
        if self.in_flight:
            self.in_flight = False
            self.state.answering(-1)

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
        # Counted out before the body leaves: a client that sends its next
        # request the moment this answer is whole must not find this one
        # still counted, or the peak would exceed its real concurrency.
        self.end_in_flight()
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
        try:
            conn = self.start_tls(request) if self.tls_context else request
            if conn is None:
                return
            try:
                SimHandler(conn, client_address, self, conn_number)
            finally:
                if conn is not request:
                    close_quietly(conn)
        finally:
            self.state.count_connection(-1)

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
