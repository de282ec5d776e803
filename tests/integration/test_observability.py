"""Observability against real components: `eden run --metrics-port` scraped during a run and
after it (read with a text-format parser written from the specification), the dashboard loaded
in headless Chromium (playwright-core, Debian's chromium) during a run, and Sentry events
received by a Sentry-compatible receiver written here. The demo PACS (PostgreSQL + Orthanc)
has four bad rows (NULL URL, 404, not DICOM, truncated file), so every run has failures."""
import argparse
import base64
import contextlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import harness
import prometheus_text

ARGS = None
ENV = {}
LOADED = {}
sh = harness.sh


def eden(*args, env=None):
    return subprocess.run([ARGS.eden, *args], env={**os.environ, **ENV, **(env or {})}, text=True, capture_output=True)


def http_get(url, auth=None, timeout=10):
    """(status, body text) of a GET; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def psql_column(sql):
    r = sh(["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d", "pacs", "-qAt",
            "-c", sql])
    return [line for line in r.stdout.splitlines() if line]


def identifying_strings():
    """What must never reach a metric label or a Sentry event: every instance and study id and
    file path of the PACS, its patient ids, and the patients' names and ids in Orthanc's files."""
    found = set(psql_column("SELECT id FROM pacs_instances"))
    found |= set(psql_column("SELECT coalesce(file_path, '') FROM pacs_instances"))
    found |= set(psql_column("SELECT study_instance_uid FROM pacs_studies"))
    found |= set(psql_column("SELECT coalesce(patient_id, '') FROM pacs_studies"))
    with urllib.request.urlopen(ENV["EDEN_ORTHANC_URL"] + "/patients?expand", timeout=10) as r:
        for p in json.load(r):
            tags = p.get("MainDicomTags", {})
            for k in ("PatientName", "PatientID", "PatientBirthDate"):
                if len(tags.get(k, "")) >= 4:
                    found.add(tags[k])
    return {s for s in found if len(s) >= 4}


def labels_and_help(fams):
    """Every metric name, help text, label name and label value of a parsed exposition."""
    words = []
    for name, f in fams.items():
        words += [name, f["help"] or ""]
        for sample, labels, _ in f["samples"]:
            words.append(sample)
            for k, v in labels.items():
                words += [k, v]
    return words


def json_strings(value):
    """Every key and string value of a parsed JSON document."""
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in [k] + json_strings(v)]
    if isinstance(value, list):
        return [w for v in value for w in json_strings(v)]
    return [value] if isinstance(value, str) else []


def leaks(secret, word):
    """Whether `word` carries `secret`: anywhere, or for an all-digit secret as a whole number
    (a hex event id may contain its digits by chance)."""
    if secret.isdigit():
        return re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", word) is not None
    return secret in word


@contextlib.contextmanager
def slow_pacs_query(tmp, delay_ms="80"):
    """A --query whose downloads go through a proxy answering each in `delay_ms`: a run long
    enough to be watched midway."""
    port = harness.usable_port(ARGS.proxy_port)
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"),
                              str(port), ENV["EDEN_ORTHANC_URL"], delay_ms])
    try:
        harness.wait_listening(port, proxy)
        base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
        path = os.path.join(tmp, "slow.sql")
        with open(path, "w", encoding="utf-8") as f:
            f.write("SELECT study_id, series_number, instance_id, instance_number, file_path, "
                    f"replace(file_url, '{ENV['EDEN_ORTHANC_URL']}', 'http://127.0.0.1:{port}') AS file_url, "
                    f"report_value, field_created_at, modality, body_part FROM ({base_sql}) base")
        yield path
    finally:
        proxy.kill()
        proxy.wait()


def wait_for(predicate, timeout=120, every=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def scrape(port):
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, (status, body[:200])
    return body, prometheus_text.parse(body)


# ---- tests -------------------------------------------------------------------------------------
def test_metrics_scraped_during_a_run_parse_and_end_equal_to_the_summary(tmp):
    port = harness.usable_port(ARGS.metrics_port)
    summary_path = os.path.join(tmp, "summary.json")
    secrets = identifying_strings()
    with slow_pacs_query(tmp) as query:
        p = subprocess.Popen([ARGS.eden, "run", "--all-studies", "--query", query, "-o", os.path.join(tmp, "out"),
                              "--progress", "none", "--download-concurrency", "2", "--threads", "1",
                              "--metrics-port", str(port), "--metrics-linger", "300", "--summary-json", summary_path],
                             env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            harness.wait_listening(port, p)
            assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
            scrapes = []

            def midway():
                text, fams = scrape(port)
                scrapes.append((text, fams))
                done = prometheus_text.value(fams, "eden_instances_total")
                pending = prometheus_text.value(fams, "eden_run_pending_instances")
                return done >= 3 and pending > 0 and fams
            during = wait_for(midway, what="a scrape midway through the run")
            assert prometheus_text.value(during, "eden_run_sample_instances") == LOADED["instances"]
            assert prometheus_text.value(during, "eden_run_phase", phase="extract") == 1
            # Every family eden documents, each with HELP and TYPE.
            for name, kind in [("eden_instances_total", "counter"), ("eden_instance_failures_total", "counter"),
                               ("eden_downloaded_bytes_total", "counter"), ("eden_stored_bytes_total", "counter"),
                               ("eden_download_seconds", "histogram"), ("eden_convert_seconds", "histogram"),
                               ("eden_store_seconds", "histogram"), ("eden_run_pending_instances", "gauge"),
                               ("eden_build_info", "gauge")]:
                assert during[name]["type"] == kind and during[name]["help"], (name, during.get(name))
            stored_so_far = prometheus_text.value(during, "eden_instances_total", outcome="stored")
            assert prometheus_text.value(during, "eden_download_seconds_count") >= stored_so_far > 0, scrapes[-1][0]
            assert prometheus_text.value(during, "eden_convert_seconds_count") >= stored_so_far

            wait_for(lambda: os.path.exists(summary_path) and os.path.getsize(summary_path) > 0, timeout=300,
                     what="the run's summary")
            time.sleep(0.2)
            text, final = scrape(port)
            scrapes.append((text, final))
            summary = json.load(open(summary_path))
            inst = summary["instances"]
            assert prometheus_text.value(final, "eden_instances_total", outcome="stored") == inst["stored"], summary
            assert prometheus_text.value(final, "eden_instances_total", outcome="failed") == inst["failed"], summary
            assert prometheus_text.value(final, "eden_instances_total", outcome="excluded") == inst["excluded"]
            assert inst["failed"] >= 3 and inst["stored"] > 50, inst
            by_code = {}
            for _, labels, v in final["eden_instance_failures_total"]["samples"]:
                by_code[labels["code"]] = by_code.get(labels["code"], 0) + v
            assert by_code == {k: float(v) for k, v in summary["failures_by_code"].items()}, (by_code, summary)
            assert prometheus_text.value(final, "eden_stored_bytes_total", kind="dicom") == summary["bytes"]["dicom"]
            assert prometheus_text.value(final, "eden_stored_bytes_total", kind="jpeg") == summary["bytes"]["jpeg"]
            assert prometheus_text.value(final, "eden_run_pending_instances") == 0
            # Counters never went down between scrapes.
            for (_, a), (_, b) in zip(scrapes, scrapes[1:]):
                for outcome in ("stored", "failed"):
                    assert (prometheus_text.value(a, "eden_instances_total", outcome=outcome)
                            <= prometheus_text.value(b, "eden_instances_total", outcome=outcome))
            # No label or help text carries an id, a path or a patient. (Sample values are numbers:
            # a byte counter may well contain the digits of a numeric instance id.)
            for _, fams in scrapes:
                words = labels_and_help(fams)
                leaked = [s for s in secrets if any(leaks(s, w) for w in words)]
                assert not leaked, leaked[:5]
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
            assert p.returncode == 1, p.returncode  # The run's own exit code (it had failures).
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_dashboard_in_headless_chromium_shows_the_runs_numbers(tmp):
    port = harness.usable_port(ARGS.dashboard_port)
    out = os.path.join(tmp, "out")
    user, password = "radiology-ops", "s3cret-dash"
    # Refused on a non-loopback address without credentials, before binding anything.
    r = eden("dashboard", out, "--address", "0.0.0.0", "--port", str(port),
             env={"EDEN_DASHBOARD_USER": "", "EDEN_DASHBOARD_PASSWORD": "", "FLOWER_USER": "", "FLOWER_PASSWORD": ""})
    assert r.returncode == 2 and "without credentials" in r.stderr, (r.returncode, r.stderr)
    with slow_pacs_query(tmp, "120") as query:
        run = subprocess.Popen([ARGS.eden, "run", "--all-studies", "--query", query, "-o", out, "--progress", "none",
                                "--download-concurrency", "1", "--threads", "1",
                                "--summary-json", os.path.join(tmp, "s.json")],
                               env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The seed's Flower names work for the credentials.
        dash = subprocess.Popen([ARGS.eden, "dashboard", out, "--port", str(port)],
                                env={**os.environ, **ENV, "FLOWER_USER": user, "FLOWER_PASSWORD": password},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            harness.wait_listening(port, dash)
            url = f"http://127.0.0.1:{port}/"
            assert http_get(url)[0] == 401
            assert http_get(url, (user, "wrong"))[0] == 401
            assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # Open, for probes.

            def midway():
                st = eden("status", out, "--json")
                return st.returncode == 0 and json.loads(st.stdout)["stored"] >= 5 and json.loads(st.stdout)["pending"] > 5
            wait_for(midway, what="the run to be midway")
            before = json.loads(eden("status", out, "--json").stdout)
            shot = os.path.join(tmp, "dashboard.png")
            page = subprocess.run(["node", os.path.join(ARGS.repo, "tests/dashboard/load_dashboard.js"), url, user,
                                   password, shot], text=True, capture_output=True, timeout=120)
            assert page.returncode == 0, page.stderr
            after = json.loads(eden("status", out, "--json").stdout)
            seen = json.loads(page.stdout)
            assert seen["unauth_status"] == 401 and seen["status"] == 200, seen
            n = {k: (int(v) if v and v.isdigit() else v) for k, v in seen["numbers"].items()}
            assert n["total"] == LOADED["instances"], n
            assert before["stored"] <= n["stored"] <= after["stored"], (before, n, after)
            assert n["stored"] + n["failed"] + n["excluded"] + n["pending"] == n["total"], n
            assert n["pending"] > 0, n
            # The screenshot shows the same progress: the green share of the progress bar's
            # middle row is the stored share of the sample.
            from PIL import Image
            img = Image.open(shot).convert("RGB")
            box = seen["bar"]
            y = int(box["y"] + box["height"] / 2)
            x0, x1 = int(box["x"]) + 1, int(box["x"] + box["width"]) - 1
            green = sum(1 for x in range(x0, x1) if abs(img.getpixel((x, y))[0] - 0x1e) < 12
                        and abs(img.getpixel((x, y))[1] - 0x7b) < 12 and abs(img.getpixel((x, y))[2] - 0x34) < 12)
            share = green / (x1 - x0)
            assert abs(share - n["stored"] / n["total"]) < 0.03, (share, n)
            assert img.size[0] >= 1000 and len(set(img.getdata())) > 20, img.size  # A rendered page, not blank.
            run.wait(timeout=600)
            summary = json.load(open(os.path.join(tmp, "s.json")))
            page = subprocess.run(["node", os.path.join(ARGS.repo, "tests/dashboard/load_dashboard.js"), url, user,
                                   password, os.path.join(tmp, "done.png")], text=True, capture_output=True, timeout=120)
            assert page.returncode == 0, page.stderr
            done = json.loads(page.stdout)
            assert int(done["numbers"]["stored"]) == summary["instances"]["stored"], (done["numbers"], summary)
            assert int(done["numbers"]["pending"]) == 0 and done["numbers"]["percent"] == "100.0", done["numbers"]
            assert done["failures"] == summary["failures_by_code"], (done["failures"], summary["failures_by_code"])
            assert int(done["numbers"]["images"]) == summary["instances"]["stored"], done["numbers"]
            assert done["chart_bars"] >= 1 and "Latest" in done["text"], done["chart_bars"]
            if os.environ.get("EDEN_SCREENSHOT_DIR"):  # To look at them: docs/operations.md has one.
                import shutil
                for name in ("dashboard.png", "done.png"):
                    shutil.copy(os.path.join(tmp, name), os.path.join(os.environ["EDEN_SCREENSHOT_DIR"], name))
            status, body = http_get(f"http://127.0.0.1:{port}/status.json", (user, password))
            assert status == 200 and json.loads(body)["stored"] == summary["instances"]["stored"]
        finally:
            for proc in (run, dash):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    assert dash.returncode == 0, (dash.returncode, dash.stderr.read() if dash.stderr else "")


class SentryReceiver:
    """A Sentry-compatible receiver: POST /api/<project>/envelope/ with X-Sentry-Auth, an
    envelope body (newline-separated JSON: header, item header, payload). Keeps every request."""

    def __init__(self, port, answer=200):
        self.requests, self.answer = [], answer
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(receiver.answer)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "accepted"}')

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        """Each request's (auth header, envelope header, item header, event), checked against the format."""
        out = []
        for r in self.requests:
            assert r["path"] == "/api/42/envelope/", r["path"]
            assert r["headers"].get("Content-Type") == "application/x-sentry-envelope", r["headers"]
            header, item, rest = r["body"].split(b"\n", 2)
            header, item = json.loads(header), json.loads(item)
            payload = rest[:item["length"]]
            assert rest[item["length"]:] in (b"", b"\n"), rest[item["length"]:]
            event = json.loads(payload)
            assert item["type"] == "event" and header["event_id"] == event["event_id"], (header, item)
            out.append((r["headers"].get("X-Sentry-Auth", ""), header, item, event))
        return out


def test_sentry_gets_run_errors_and_sampled_failures_and_nothing_identifying(tmp):
    port = harness.usable_port(ARGS.sentry_port)
    receiver = SentryReceiver(port)
    secrets = identifying_strings()
    try:
        dsn = f"http://publickey123@127.0.0.1:{port}/42"
        summary_path = os.path.join(tmp, "s.json")
        r = eden("run", "--all-studies", "-o", os.path.join(tmp, "out"), "--progress", "none", "--summary-json",
                 summary_path, env={"SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "itest"})
        assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
        assert dsn not in r.stdout + r.stderr and "publickey123" not in r.stdout + r.stderr
        summary = json.load(open(summary_path))
        events = receiver.events()
        codes = {e["tags"]["error_code"] for _, _, _, e in events}
        # Every failure code is reported (the first of each), each at most log2(n)+1 times.
        assert codes == set(summary["failures_by_code"]), (codes, summary["failures_by_code"])
        for auth, _, _, e in events:
            assert "sentry_key=publickey123" in auth and "sentry_version=7" in auth, auth
            assert e["release"].startswith("eden-etl@") and e["server_name"] and e["environment"] == "itest", e
            assert e["tags"]["kind"] == "instance" and e["level"] == "warning" and e["platform"] == "native", e
            assert e["logger"] == "eden.run", e
        raw = b"".join(r["body"] for r in receiver.requests).decode()
        # Every string of every event (numbers are timestamps and counts: a float timestamp may
        # well contain the digits of a numeric patient id; a number-only secret must match a whole word).
        words = [w for _, header, item, event in events for w in json_strings([header, item, event])]
        leaked = [s for s in secrets if any(leaks(s, w) for w in words)]
        assert not leaked, leaked[:5]
        for forbidden in ("http://", "file://", "/tmp/", ENV["EDEN_ORTHANC_URL"], "publickey123"):
            assert forbidden not in raw, forbidden

        # A run that stops (the database down) is one run-level event; the seed's SENTRY_DNS works.
        receiver.requests.clear()
        r = eden("run", "--all-studies", "-o", os.path.join(tmp, "out2"), "--progress", "none",
                 env={"SENTRY_DNS": dsn, "SENTRY_DSN": "", "SOURCE_DATABASE_PORT": "1"})
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert "SENTRY_DNS" in r.stderr and "SENTRY_DSN" in r.stderr, r.stderr
        events = receiver.events()
        assert len(events) == 1, [e for *_, e in events]
        e = events[0][3]
        assert e["tags"] == {"kind": "run", "error_code": "unavailable"} and e["level"] == "error", e
        assert ENV["SOURCE_DATABASE_PASS"] not in json.dumps(e) and "/tmp/" not in json.dumps(e), e
    finally:
        receiver.close()


def test_sentry_floods_are_rate_limited(tmp):
    """Many failures of one code: a logarithm of them reach Sentry (1st, 2nd, 4th, ...)."""
    port = harness.usable_port(ARGS.sentry_port)
    receiver = SentryReceiver(port)
    try:
        query = os.path.join(tmp, "all404.sql")
        base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
        with open(query, "w", encoding="utf-8") as f:
            f.write("SELECT study_id, series_number, instance_id, instance_number, file_path, "
                    f"'{ENV['EDEN_ORTHANC_URL']}/instances/none/file' AS file_url, report_value, field_created_at, "
                    f"modality, body_part FROM ({base_sql}) base WHERE file_url IS NOT NULL")
        r = eden("run", "--all-studies", "--query", query, "-o", os.path.join(tmp, "out"), "--progress", "none",
                 "--summary-json", os.path.join(tmp, "s.json"),
                 env={"SENTRY_DSN": f"http://k@127.0.0.1:{port}/42"})
        summary = json.load(open(os.path.join(tmp, "s.json")))
        failed = summary["failures_by_code"].get("not_found", 0)
        assert failed >= 60, (r.returncode, summary["failures_by_code"])
        events = receiver.events()
        expected = failed.bit_length()  # 1, 2, 4, ... <= failed
        assert len([e for *_, e in events if e["tags"]["error_code"] == "not_found"]) == expected, (len(events), failed)
    finally:
        receiver.close()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--eden", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--services-dir", default=os.path.join(tempfile.gettempdir(), f"eden-otest-services-{os.getuid()}"))
    p.add_argument("--pg-port", type=int, default=55492)
    p.add_argument("--orthanc-port", type=int, default=58092)
    p.add_argument("--proxy-port", type=int, default=58093)
    p.add_argument("--metrics-port", type=int, default=58094)
    p.add_argument("--dashboard-port", type=int, default=58095)
    p.add_argument("--sentry-port", type=int, default=58096)
    ARGS = p.parse_args()
    ARGS.eden = os.path.abspath(ARGS.eden)
    return harness.run_suite(ARGS.repo, ARGS.services_dir, ARGS.pg_port, ARGS.orthanc_port, harness.tests_of(globals()),
                             harness.setter_of(globals()))


if __name__ == "__main__":
    sys.exit(main())
