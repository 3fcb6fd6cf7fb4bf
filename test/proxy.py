#!/usr/bin/env python3
"""proxy.py - a tiny HTTP forward proxy for ocp_backup's tests.

It forwards absolute-URI requests (GET http://127.0.0.1:PORT/path HTTP/1.1,
any method, a body of Content-Length bytes) and tunnels CONNECT
127.0.0.1:PORT, but only to loopback targets (127.0.0.1, localhost, ::1):
any other target gets 403 and is never contacted.  One request per
connection: every answer it relays says "Connection: close".  Request
headers go upstream unchanged (Host included, which AK/SK signs), except the
hop-by-hop ones.  Python standard library only.

    python3 test/proxy.py [--host 127.0.0.1] [--port 0] [--port-file F]
                          [--log FILE]

Each request it is asked to proxy is a JSON line on stdout (or appended to
--log): {"seq", "method", "target", "host", "status", "refused"}; "status"
is what it answered (upstream's status when forwarded, 200 for a tunnel).
Control API, asked of the proxy itself (origin-form, not proxied):
    GET  /__proxy/requests[?since=SEQ]  the requests seen, JSON Lines
    POST /__proxy/reset                 forget them
"""

import argparse
import http.server
import json
import os
import select
import socket
import socketserver
import sys
import threading
import urllib.parse

ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")
CONTROL_PREFIX = "/__proxy/"
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade")
MAX_BODY_BYTES = 16 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 5
IDLE_TIMEOUT_SECONDS = 120
RELAY_CHUNK = 64 * 1024


class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.path = path

    def add(self, method, target, host, status, refused):
        with self.lock:
            entry = {"seq": len(self.entries) + 1, "method": method, "target": target,
                     "host": host, "status": status, "refused": refused}
            self.entries.append(entry)
            line = json.dumps(entry, separators=(",", ":")) + "\n"
            if self.path:
                with open(self.path, "a") as f:
                    f.write(line)
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
        return entry

    def lines(self, since):
        with self.lock:
            return "".join(json.dumps(e, separators=(",", ":")) + "\n"
                           for e in self.entries if e["seq"] > since)

    def reset(self):
        with self.lock:
            self.entries = []


def is_allowed(host):
    return host.lower().strip("[]") in ALLOWED_HOSTS


def split_host_port(authority, default_port):
    """("127.0.0.1", 8080) from "127.0.0.1:8080", "[::1]:8080" or "localhost"."""
    parsed = urllib.parse.urlsplit("//" + authority)
    return parsed.hostname or "", parsed.port or default_port


def relay(a, b):
    """Copies bytes both ways until either side closes or goes idle."""
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], IDLE_TIMEOUT_SECONDS)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(RELAY_CHUNK)
            except OSError:
                return
            if not data:
                return
            try:
                (b if source is a else a).sendall(data)
            except OSError:
                return


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS

    def log_message(self, format, *args):
        pass  # the JSON lines are the log

    def answer(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def refuse(self, method, target, host, status, why):
        self.server.log.add(method, target, host, status, True)
        self.answer(status, (why + "\n").encode())

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    # -- the control API --

    def control(self):
        path, _, query = self.path.partition("?")
        name = path[len(CONTROL_PREFIX):]
        self.read_body()
        if (self.command, name) == ("GET", "requests"):
            since = urllib.parse.parse_qs(query).get("since", ["0"])[-1]
            self.answer(200, self.server.log.lines(int(since) if since.isdigit() else 0).encode(),
                        "application/x-ndjson")
        elif (self.command, name) == ("POST", "reset"):
            self.server.log.reset()
            self.answer(200, b'{"ok":true}\n', "application/json")
        else:
            self.answer(404, b"no such control endpoint\n")

    # -- forwarding --

    def do_CONNECT(self):
        host, port = split_host_port(self.path, 443)
        if not is_allowed(host):
            self.refuse("CONNECT", self.path, self.headers.get("Host"), 403,
                        "this proxy only reaches loopback targets")
            return
        try:
            upstream = socket.create_connection((host, port), CONNECT_TIMEOUT_SECONDS)
        except OSError as err:
            self.refuse("CONNECT", self.path, self.headers.get("Host"), 502, str(err))
            return
        self.server.log.add("CONNECT", self.path, self.headers.get("Host"), 200, False)
        try:
            upstream.settimeout(None)
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            relay(self.connection, upstream)
        finally:
            upstream.close()
            self.close_connection = True

    def is_own_address(self, target):
        return (target.hostname in ALLOWED_HOSTS and
                (target.port or 80) == self.server.server_address[1])

    def forward(self):
        if self.path.startswith(CONTROL_PREFIX):
            self.control()
            return
        target = urllib.parse.urlsplit(self.path)
        if self.is_own_address(target) and target.path.startswith(CONTROL_PREFIX):
            # A client that proxies everything, curl under http_proxy say.
            self.path = target.path + ("?" + target.query if target.query else "")
            self.control()
            return
        host = self.headers.get("Host")
        if target.scheme != "http" or not target.hostname:
            self.refuse(self.command, self.path, host, 400,
                        "an absolute http:// URI is needed (https goes through CONNECT)")
            return
        if not is_allowed(target.hostname):
            self.refuse(self.command, self.path, host, 403,
                        "this proxy only reaches loopback targets")
            return
        body = self.read_body()
        if body is None:
            self.refuse(self.command, self.path, host, 411, "a Content-Length body is needed")
            return
        origin_form = (target.path or "/") + ("?" + target.query if target.query else "")
        head = ["%s %s HTTP/1.1" % (self.command, origin_form)]
        head += ["%s: %s" % (name, value) for name, value in self.headers.items()
                 if name.lower() not in HOP_BY_HOP]
        if self.headers.get("Host") is None:
            head.append("Host: %s" % target.netloc)
        head.append("Connection: close")
        try:
            upstream = socket.create_connection((target.hostname, target.port or 80),
                                                CONNECT_TIMEOUT_SECONDS)
        except OSError as err:
            self.refuse(self.command, self.path, host, 502, str(err))
            return
        try:
            upstream.settimeout(IDLE_TIMEOUT_SECONDS)
            upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            self.relay_answer(upstream, host)
        finally:
            upstream.close()
            self.close_connection = True

    def relay_answer(self, upstream, host):
        """Upstream's head with "Connection: close" instead of its own
        connection headers, then its body as it comes, until it closes."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = upstream.recv(RELAY_CHUNK)
            if not piece:
                break
            data += piece
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            self.server.log.add(self.command, self.path, host, 502, False)
            self.answer(502, b"no answer from upstream\n")
            return
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            status = 502
        self.server.log.add(self.command, self.path, host, status, False)
        kept = [line for line in lines[1:]
                if line.split(b":", 1)[0].strip().lower().decode("latin-1") not in
                ("connection", "keep-alive", "proxy-connection")]
        self.wfile.write(b"\r\n".join([lines[0]] + kept + [b"Connection: close"]) +
                         b"\r\n\r\n" + rest)
        self.wfile.flush()
        relay(self.connection, upstream)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, log):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.log = log
        super().__init__(address, ProxyHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def write_port_file(path, port):
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as f:
        f.write("%d\n" % port)
    os.replace(temporary, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="A loopback-only HTTP forward proxy for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--port-file", help="where to write the bound port once listening")
    parser.add_argument("--log", help="append the JSON lines here instead of stdout")
    args = parser.parse_args(argv)
    server = ProxyServer((args.host, args.port), Log(args.log))
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write("proxy listening on %s:%d\n" % (args.host, port))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.exit(main())
