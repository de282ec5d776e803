#!/usr/bin/python3
"""Test fixture: an HTTP proxy that forwards GETs to a backend after a delay, so a run lasts
long enough to be killed in the middle; with LOG_FILE, each request's path is appended to it (the
requests a run made, counted at the DICOM server's door).
Usage: slow_proxy.py PORT BACKEND_URL DELAY_MS [LOG_FILE]"""
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, BACKEND, DELAY = int(sys.argv[1]), sys.argv[2].rstrip("/"), int(sys.argv[3]) / 1000.0
LOG = sys.argv[4] if len(sys.argv) > 4 else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if LOG:
            with open(LOG, "a") as f:
                f.write(self.path + "\n")
        time.sleep(DELAY)
        try:
            with urllib.request.urlopen(BACKEND + self.path) as r:
                body, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            body, status = e.read(), e.code
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The client was killed mid-transfer: that is the point of the test.

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
