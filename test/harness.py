"""harness.py - what the Python test programs (faults.py, crashes.py) share:
their PASS/FAIL lines, which test/run counts, and the simulator's control
API (test/ocp_sim.py, /__sim/).  Python standard library only."""

import json
import urllib.request

_failures = 0


def report(ok, name, text):
    """One "PASS name: text" or "FAIL name: text" line."""
    global _failures
    if not ok:
        _failures += 1
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, text), flush=True)


def info(text):
    print(text, flush=True)


def failures():
    """How many FAIL lines were printed."""
    return _failures


class SimulatorControl:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + "/__sim/" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read().decode()

    def requests(self):
        """Every request the simulator recorded, as dicts."""
        return [json.loads(line) for line in self.control("GET", "requests").splitlines()]
