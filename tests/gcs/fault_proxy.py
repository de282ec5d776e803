#!/usr/bin/python3
"""A loopback HTTP proxy that injects faults between eden and the GCS test server (tests only).

Every request is read whole, then, by its sequence number among requests of its kind:
  --status-every N:CODE    answer CODE (503, 429, ...) without forwarding, every Nth request (repeatable)
  --cut-chunk-every N      every Nth resumable chunk (PUT with a body): forward the headers and half
                           the body, then close both connections (the client gets no answer; the
                           server keeps only whole 256 KiB blocks of what arrived)
  --drop-response-every N  forward the request, let the server act on it, then close the client's
                           connection instead of answering (the client must not upload twice)
  --slow-every N:SECONDS   forward, then wait before answering
GET /_proxy/stats returns what was injected.
"""
import argparse
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {"requests": 0, "chunks": 0}
STATS = {"status": 0, "cut_chunks": 0, "dropped_responses": 0, "slow": 0, "forwarded": 0}
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def parse_pair(text, cast):
    n, v = text.split(":", 1)
    return int(n), cast(v)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # (host, port)
    args = None

    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_proxy/stats":
            with LOCK:
                data = json.dumps(STATS).encode()
            return self.reply(200, {"Content-Type": "application/json"}, data)
        a = self.args
        is_chunk = self.command == "PUT" and "upload_id=" in self.path and len(body) > 0
        with LOCK:
            COUNTS["requests"] += 1
            n = COUNTS["requests"]
            if is_chunk:
                COUNTS["chunks"] += 1
            c = COUNTS["chunks"]
        code = next((code for every, code in a.status_every if n % every == 0), None)
        if code:
            with LOCK:
                STATS["status"] += 1
            err = {"error": {"code": code, "message": f"injected {code}", "errors": [{"reason": "injected"}]}}
            return self.reply(code, {"Content-Type": "application/json"}, json.dumps(err).encode())
        if is_chunk and a.cut_chunk_every and c % a.cut_chunk_every == 0:
            with LOCK:
                STATS["cut_chunks"] += 1
            self.cut(body)
            self.close_connection = True
            return
        status, headers, data = self.forward(body)
        if a.drop_response_every and n % a.drop_response_every == 0:
            with LOCK:
                STATS["dropped_responses"] += 1
            self.close_connection = True
            return
        if a.slow_every and n % a.slow_every[0] == 0:
            with LOCK:
                STATS["slow"] += 1
            time.sleep(a.slow_every[1])
        with LOCK:
            STATS["forwarded"] += 1
        self.reply(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def request_head(self, length):
        lines = [f"{self.command} {self.path} HTTP/1.1"]
        for k, v in self.headers.items():
            if k.lower() not in HOP and k.lower() not in ("content-length", "host"):
                lines.append(f"{k}: {v}")
        lines += [f"Host: {self.upstream[0]}:{self.upstream[1]}", f"Content-Length: {length}", "Connection: close"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def forward(self, body):
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"]
        conn.close()
        # Location headers name the upstream; clients must come back through the proxy.
        me = f"http://127.0.0.1:{self.server.server_address[1]}"
        them = f"http://{self.upstream[0]}:{self.upstream[1]}"
        out = [(k, v.replace(them, me) if k.lower() == "location" else v) for k, v in out]
        return resp.status, dict(out), data

    def cut(self, body):
        s = socket.create_connection(self.upstream, timeout=30)
        s.sendall(self.request_head(len(body)) + body[: len(body) // 2])
        time.sleep(0.05)
        s.close()

    def reply(self, status, headers, data):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--status-every", type=lambda t: parse_pair(t, int), action="append", default=[])
    ap.add_argument("--cut-chunk-every", type=int)
    ap.add_argument("--drop-response-every", type=int)
    ap.add_argument("--slow-every", type=lambda t: parse_pair(t, float))
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.upstream)
    Proxy.upstream = (u.hostname, u.port)
    Proxy.args = args
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
