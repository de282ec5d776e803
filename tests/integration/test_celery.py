#!/usr/bin/python3
"""Integration tests of `eden worker` and `eden run --broker` against a real Redis 7, the real
Python Celery client (Debian python3-celery 5.2.6) and its CLI, and the demo PACS (real
PostgreSQL + Orthanc). Prints one line per test and 'N passed, N failed'; exit 1 on any failure."""
import argparse
import base64
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
import threading
import time
import uuid

import harness
import prometheus_text
from dataset_check import check_dataset_packages

ARGS = None
ENV = {}
LOADED = {}
CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
PREFIX = "eden-dataset-vlms/sample-test"


def broker(db=0):
    return f"redis://127.0.0.1:{ARGS.redis_port}/{db}"


def redis_cli(*args):
    r = subprocess.run(["redis-cli", "-p", str(ARGS.redis_port), *args], capture_output=True, text=True, check=True)
    return r.stdout.strip()


def celery_app():
    from celery import Celery
    return Celery(broker=broker(0), backend=broker(1))


class Worker:
    """An `eden worker` process; stopped with SIGTERM (warm) or SIGKILL."""

    def __init__(self, tmp, name, *extra, env=None):
        self.name = f"{name}@eden-test"
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([ARGS.eden, "worker", "--broker", broker(0), "--result-backend", broker(1),
                                      "-n", self.name, *extra], stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **ENV, **(env or {})})
        deadline = time.time() + 20
        while time.time() < deadline and " ready: " not in open(self.log_path).read():
            assert self.proc.poll() is None, open(self.log_path).read()
            time.sleep(0.05)

    def text(self):
        return open(self.log_path).read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        finally:
            self.log.close()
        return self.proc.returncode


class EventDump:
    """`celery events --dump`, read line by line in the background; `wait_for` returns once a
    line names the worker and the event (so a test starts only when the capture is live)."""

    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", "-m", "celery", "-b", broker(0), "events", "--dump"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines, self.changed = [], threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def text(self):
        with self.changed:
            return "".join(self.lines)

    def wait_for(self, worker, event, timeout=30):
        deadline = time.time() + timeout
        with self.changed:
            while not any(worker in line and event in line for line in self.lines):
                left = deadline - time.time()
                assert left > 0 and self.proc.poll() is None, \
                    f"no '{event}' from {worker} in celery events --dump:\n" + "".join(self.lines)[-2000:]
                self.changed.wait(min(left, 0.5))

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)
        self.reader.join(timeout=20)
        return self.text()


def celery_cli(*args, timeout=30):
    return subprocess.run(["/usr/bin/python3", "-m", "celery", "-b", broker(0), "--result-backend", broker(1), *args],
                          capture_output=True, text=True, timeout=timeout)


def read_csv(out):
    path = os.path.join(out, PREFIX, "dicom-reports-extracted-sample.csv")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def slow_query(tmp, delay_ms):
    """The built-in selection with downloads through a proxy that waits `delay_ms` per file."""
    port = ARGS.proxy_port
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"), str(port),
                              ENV["EDEN_ORTHANC_URL"], str(delay_ms)])
    harness.wait_listening(port, proxy)
    base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
    path = os.path.join(tmp, "slow.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write("SELECT study_id, series_number, instance_id, instance_number, file_path, "
                f"replace(file_url, '{ENV['EDEN_ORTHANC_URL']}', 'http://127.0.0.1:{port}') AS file_url, "
                f"report_value, field_created_at, modality, body_part FROM ({base_sql}) base")
    return proxy, path


def unacked_count():
    return int(redis_cli("-n", "0", "HLEN", "unacked"))


# ---- tests -------------------------------------------------------------------------------------

def test_python_client_tasks_args_kwargs_priority_queue_countdown(tmp):
    w = Worker(tmp, "w1", "-Q", "celery,dicom", "-c", "2", "-E")
    try:
        app = celery_app()
        out = os.path.join(tmp, "ct.jpg")
        r = app.send_task("tasks.convert_dicom_to_jpg", args=[f"{CORPUS}/CT_small.dcm"], kwargs={"output_path": out})
        res = r.get(timeout=20)
        assert res["success"] is True and res["error"] is None and res["output_path"] == out, res
        assert open(out, "rb").read(2) == b"\xff\xd8" and res["rows"] == 128, res
        # A priority-9 message on a non-default queue, with a countdown: held until its ETA.
        out2 = os.path.join(tmp, "mr.jpg")
        sig = app.signature("tasks.convert_dicom_to_jpg", args=(f"{CORPUS}/MR_small.dcm",),
                            kwargs={"output_path": out2, "quality": 80})
        sent = time.time()
        r2 = sig.apply_async(priority=9, queue="dicom", countdown=2)
        res2 = r2.get(timeout=30)
        assert res2["success"] and os.path.exists(out2), res2
        done = r2.date_done.timestamp() if r2.date_done.tzinfo else \
            r2.date_done.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()
        assert done >= sent + 1.9, f"ran {done - sent:.2f} s after sending: countdown not honoured"
        # A conversion that fails is a result with success false and the reason.
        bad = app.send_task("tasks.convert_dicom_to_jpg", args=[f"{CORPUS}/../test_files/no_such.dcm",
                                                                 os.path.join(tmp, "x.jpg")]).get(timeout=20)
        assert bad["success"] is False and bad["error"].startswith("io"), bad
        # A task called wrongly raises in the client, as Python's would.
        try:
            app.send_task("tasks.convert_dicom_to_jpg", args=[], kwargs={}).get(timeout=20)
            raise AssertionError("no exception")
        except TypeError as e:
            assert "dicom_path" in str(e)
        try:
            app.send_task("tasks.does_not_exist", args=[1]).get(timeout=20)
            raise AssertionError("no exception")
        except Exception as e:  # celery.exceptions.NotRegistered
            assert type(e).__name__ == "NotRegistered", repr(e)
        assert unacked_count() == 0, "messages left unacknowledged"
    finally:
        assert w.stop() == 0, w.text()
    assert "stopped after" in w.text()


def test_upload_file_to_gcs_task(tmp):
    root = os.path.join(tmp, "gcs")
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/gcs/gcs_test_server.py"), "--root", root,
                               "--bucket", "seed-bucket"], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split()[1])
    w = Worker(tmp, "wg", env={"STORAGE_EMULATOR_HOST": f"127.0.0.1:{port}", "GCS_BUCKET_NAME": "seed-bucket"})
    try:
        app = celery_app()
        src = f"{CORPUS}/CT_small.dcm"
        res = app.send_task("tasks.upload_file_to_gcs",
                            args=[src, "eden-dataset-vlms/sample-test/dicom-files/ct.dcm"]).get(timeout=30)
        assert res["success"] and res["uri"] == "gs://seed-bucket/eden-dataset-vlms/sample-test/dicom-files/ct.dcm", res
        assert res["size"] == os.path.getsize(src)
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b/seed-bucket/o/"
                                    "eden-dataset-vlms%2Fsample-test%2Fdicom-files%2Fct.dcm") as resp:
            meta = json.load(resp)
        assert meta["crc32c"] == res["crc32c"] and meta["contentType"] == "application/dicom", meta
        missing = app.send_task("tasks.upload_file_to_gcs", args=["/nonexistent", "x/y.dcm"]).get(timeout=30)
        assert missing["success"] is False and missing["error"], missing
    finally:
        w.stop()
        server.kill()
        server.wait()


def test_inspect_ping_active_and_events_dump(tmp):
    w = Worker(tmp, "wi", "-E", "-c", "1")
    proxy, query = slow_query(tmp, 1500)
    try:
        ping = celery_cli("inspect", "ping")
        assert ping.returncode == 0 and f"{w.name}: OK" in ping.stdout and "pong" in ping.stdout, ping.stdout + ping.stderr
        status = celery_cli("status")
        assert f"{w.name}: OK" in status.stdout, status.stdout
        registered = celery_cli("inspect", "registered")
        assert "tasks.convert_dicom_to_jpg" in registered.stdout and "eden.process_instance" in registered.stdout
        dump = EventDump()
        dump.wait_for(w.name, "heartbeat")  # the capture is live before the task is sent
        # A slow instance task (its download waits 1.5 s) is active while we ask.
        run = subprocess.Popen([ARGS.eden, "run", "--studies", "1", "--seed", "inspect", "--query", query, "-o",
                                os.path.join(tmp, "out"), "--broker", broker(0), "--result-backend", broker(1),
                                "--progress", "none"], env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        active = ""
        deadline = time.time() + 30
        while time.time() < deadline and "eden.process_instance" not in active:
            active = celery_cli("inspect", "active").stdout
        assert "eden.process_instance" in active and w.name in active, active
        run.communicate(timeout=120)
        assert run.returncode in (0, 1), run.returncode
        dump.wait_for(w.name, "task succeeded")
        text = dump.stop()
        for what in ("task received", "task started", "task succeeded", "heartbeat"):
            assert f"{w.name} [" in text and what in text, f"{what} missing from celery events --dump:\n{text[-2000:]}"
        assert "eden.process_instance" in text
    finally:
        proxy.kill()
        proxy.wait()
        w.stop()


def test_sigterm_finishes_running_tasks_and_time_limit(tmp):
    proxy, _ = slow_query(tmp, 5000)  # each download takes 5 s
    try:
        # Warm shutdown: SIGTERM while a task runs -> it finishes and its result is stored; what
        # was reserved but not started goes back to the queue; worker-offline is published.
        w = Worker(tmp, "wt", "-c", "1", "--prefetch", "4", "-E")
        dump = EventDump()
        dump.wait_for(w.name, "heartbeat")
        app = celery_app()
        url = f"http://127.0.0.1:{ARGS.proxy_port}/instances/none/file"
        rows = [{"instance_id": f"slow-{n}", "study_id": "s", "file_url": url} for n in range(3)]
        results = [app.send_task("eden.process_instance", args=[row, {"destination": os.path.join(tmp, "out")}])
                   for row in rows]
        deadline = time.time() + 30
        while time.time() < deadline and "eden.process_instance" not in celery_cli("inspect", "active").stdout:
            pass
        assert w.stop(signal.SIGTERM) == 0, w.text()[-2000:]
        first = results[0].get(timeout=10)  # finished although SIGTERM arrived while it ran
        assert first["instance_id"] == "slow-0" and first["error"].startswith("not_found"), first
        assert int(redis_cli("-n", "0", "LLEN", "celery")) == 2, "reserved tasks were not put back"
        assert unacked_count() == 0
        dump.wait_for(w.name, "shutdown")  # worker-offline was published
        dump.stop()
        # The same two tasks, now under a 1 s time limit: each fails with TimeLimitExceeded.
        w2 = Worker(tmp, "wt2", "-c", "2", "--time-limit", "1")
        try:
            for r in results[1:]:
                try:
                    r.get(timeout=30)
                    raise AssertionError("no time limit")
                except AssertionError:
                    raise
                except Exception as e:
                    assert type(e).__name__ == "TimeLimitExceeded", repr(e)
            assert w2.proc.poll() is None
        finally:
            w2.stop()
    finally:
        proxy.kill()
        proxy.wait()


def test_transient_failures_retry_then_fail_with_started_and_retry_states(tmp):
    w = Worker(tmp, "wr", "-c", "1", "-E", "--track-started", "--max-retries", "2", "--retry-delay", "0.5",
               "--retries", "0")
    try:
        import redis
        app = celery_app()
        listener = redis.Redis(port=ARGS.redis_port, db=1).pubsub()
        listener.psubscribe("celery-task-meta-*")
        row = {"instance_id": "refused-1", "study_id": "s", "file_url": "http://127.0.0.1:1/instances/x/file"}
        r = app.send_task("eden.process_instance", args=[row, {"destination": os.path.join(tmp, "out")}])
        final = r.get(timeout=60)
        states = []
        while (m := listener.get_message(timeout=1)) is not None:
            if m["type"] == "pmessage":
                states.append(json.loads(m["data"])["status"])
        # Each attempt stores STARTED; two transient failures store RETRY; the last attempt's
        # outcome is the result.
        assert states == ["STARTED", "RETRY", "STARTED", "RETRY", "STARTED", "SUCCESS"], states
        assert final["success"] is False and final["error"].startswith("unavailable"), final
        assert w.text().count("retry ") == 2, w.text()[-2000:]
    finally:
        w.stop()


def good_task(app, tmp, n):
    out = os.path.join(tmp, f"good{n}.jpg")
    res = app.send_task("tasks.convert_dicom_to_jpg", args=[f"{CORPUS}/MR_small.dcm", out]).get(timeout=30)
    assert res["success"], res


def envelope(body_text, task="tasks.convert_dicom_to_jpg", task_id=None, content_type="application/json",
             encode=True):
    task_id = task_id or str(uuid.uuid4())
    return task_id, json.dumps({
        "body": base64.b64encode(body_text.encode()).decode() if encode else body_text,
        "content-encoding": "utf-8", "content-type": content_type,
        "headers": {"lang": "py", "task": task, "id": task_id, "root_id": task_id, "retries": 0},
        "properties": {"correlation_id": task_id, "delivery_mode": 2, "priority": 0, "body_encoding": "base64",
                       "delivery_info": {"exchange": "", "routing_key": "celery"}, "delivery_tag": str(uuid.uuid4())}})


def test_hostile_messages_never_stop_the_worker(tmp):
    w = Worker(tmp, "wh", "-c", "1")
    try:
        app = celery_app()
        good_task(app, tmp, 0)
        cases = [("not json", None, b"this is not json at all"),
                 ("bad base64", *envelope("%%%not-base64%%%", encode=False)),
                 ("wrong body shape", *envelope('{"x": 1}')),
                 ("unknown task", *envelope('[[1], {}, {}]', task="tasks.nope")),
                 ("pickle", *envelope("gAN9cQAu", content_type="application/x-python-serialize", encode=False)),
                 ("oversize", *envelope('[["' + "A" * (17 << 20) + '"], {}, {}]'))]
        for n, (label, task_id, raw) in enumerate(cases, start=1):
            data = raw if isinstance(raw, bytes) else raw.encode()
            p = subprocess.run(["redis-cli", "-p", str(ARGS.redis_port), "-n", "0", "-x", "LPUSH", "celery"],
                               input=data, capture_output=True)
            assert p.returncode == 0, p.stderr
            good_task(app, tmp, n)  # The next good task still succeeds.
            assert w.proc.poll() is None, f"worker died on {label}:\n{w.text()[-2000:]}"
            if task_id:
                from celery.result import AsyncResult
                r = AsyncResult(task_id, app=app)
                try:
                    r.get(timeout=10)
                    raise AssertionError(f"{label}: no failure stored")
                except AssertionError:
                    raise
                except Exception as e:
                    assert r.state == "FAILURE", (label, r.state, repr(e))
        assert redis_cli("-n", "0", "LLEN", "celery") == "0", "messages left in the queue"
        assert unacked_count() == 0, "messages left unacknowledged"
        log = w.text()
        assert log.count("discarded a message") >= 4 and "unregistered task tasks.nope" in log, log[-3000:]
    finally:
        assert w.stop() == 0


def test_kill_9_worker_then_another_restores_its_tasks(tmp):
    proxy, query = slow_query(tmp, 300)
    out = os.path.join(tmp, "out")
    a = Worker(tmp, "wa", "-c", "1", "--prefetch", "4", "--visibility-timeout", "3")
    b = None
    try:
        run = subprocess.Popen([ARGS.eden, "run", "--all-studies", "--query", query, "-o", out, "--broker", broker(0),
                                "--result-backend", broker(1), "--progress", "none", "--summary-json",
                                os.path.join(tmp, "s.json")], env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and "succeeded" not in a.text():
            time.sleep(0.05)
        while time.time() < deadline and unacked_count() == 0:
            time.sleep(0.02)
        held = unacked_count()
        assert held > 0, "worker A holds nothing to lose"
        a.stop(signal.SIGKILL)
        # B reserves one message per slot, so with this short visibility timeout it does not
        # restore its own reservations while they wait.
        b = Worker(tmp, "wb", "-c", "2", "--prefetch", "1", "--visibility-timeout", "3")
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 1, stdout[-2000:] + stderr  # the 4 known bad rows
        assert "restored" in b.text(), b.text()[-2000:]
        rows = read_csv(out)
        ids = [r["instance_id"] for r in rows]
        assert len(ids) == len(set(ids)) == LOADED["instances"], "rows missing or duplicated"
        assert sum(r["status"] == "stored" for r in rows) == LOADED["instances"] - 4
        v = subprocess.run([ARGS.eden, "verify", out], capture_output=True, text=True)
        assert v.returncode == 0, v.stdout + v.stderr
        assert b.stop() == 0
        assert unacked_count() == 0, "messages left unacknowledged"
    finally:
        proxy.kill()
        proxy.wait()
        if b:
            b.stop()


def test_workers_share_a_1000_instance_run(tmp):
    # 1,000 instances in 10 studies, each a new row pointing at one of the demo PACS's files.
    psql = ["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d", "pacs", "-q",
            "-v", "ON_ERROR_STOP=1"]
    sql = """
    WITH good AS (SELECT file_url, row_number() OVER (ORDER BY id) AS n FROM pacs_instances
                  WHERE file_url LIKE '%/instances/%/file' AND file_url NOT LIKE '%deadbeef%' AND NOT deleted),
         studies AS (INSERT INTO pacs_studies (id, study_instance_uid, modality, body_part)
                     SELECT gen_random_uuid(), '1.2.3.' || s, 'MR', 'SHARED' FROM generate_series(1, 10) s
                     RETURNING id),
         series AS (INSERT INTO pacs_series (id, study_id, series_number, modality)
                    SELECT gen_random_uuid(), id, 1, 'MR' FROM studies RETURNING id)
    INSERT INTO pacs_instances (id, series_id, instance_number, file_path, file_url)
    SELECT gen_random_uuid(), se.id, k, 'shared/' || k, (SELECT file_url FROM good WHERE n = 1 + (k % 40))
    FROM series se, generate_series(1, 100) k;
    """
    subprocess.run(psql + ["-c", sql], check=True, capture_output=True, text=True)
    # Defaults (two tasks a core, one conversion a core), two tasks at once, and more tasks than
    # conversion slots: the slots must only pace the work, never lose or repeat it.
    flags = [[], ["-c", "2"], ["-c", "3", "--cpu-slots", "1"]]
    workers = [Worker(tmp, f"ws{i}", *f) for i, f in enumerate(flags)]
    out = os.path.join(tmp, "out")
    try:
        r = subprocess.run([ARGS.eden, "run", "--all-studies", "--body-part", "SHARED", "-o", out, "--broker", broker(0),
                            "--result-backend", broker(1), "--progress", "none", "--summary-json",
                            os.path.join(tmp, "s.json"), "--package", "webdataset,llava", "--shard-samples", "150",
                            "--render", "mimic"], env={**os.environ, **ENV}, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        rows = read_csv(out)
        assert len(rows) == 1000 and len({x["instance_id"] for x in rows}) == 1000
        # The packages, written by the run from the workers' outcomes and stored JPEGs; the workers
        # rendered as the run asked.
        check_dataset_packages(out, shard_samples=150)
        meta = [json.loads(line) for line in open(os.path.join(out, "eden-dataset-vlms/sample-test/metadata.jsonl"))]
        assert len(meta) == 1000 and all(m["render"] == "mimic" for m in meta), meta[0]
        mono = {x["instance_id"] for x in rows if x["photometric_interpretation"].startswith("MONOCHROME")}
        grey = [m for m in meta if m["instance_id"] in mono]
        assert grey and all(m["window"].startswith("mimic") for m in grey), [m for m in grey if not m["window"].startswith("mimic")][:2]
        assert all(x["status"] == "stored" for x in rows)
        stats = celery_app().control.inspect(timeout=2).stats()
        shares = {name: s["total"].get("eden.process_instance", 0) for name, s in stats.items()}
        assert sum(shares.values()) == 1000 and all(n > 0 for n in shares.values()), shares
        pools = {name: s["pool"]["max-concurrency"] for name, s in stats.items()}
        assert pools["ws0@eden-test"] == 2 * os.cpu_count() and pools["ws2@eden-test"] == 3, pools
        v = subprocess.run([ARGS.eden, "verify", out], capture_output=True, text=True)
        assert v.returncode == 0, v.stdout
    finally:
        for w in workers:
            assert w.stop() == 0
        subprocess.run(psql + ["-c", "UPDATE pacs_studies SET deleted = true WHERE body_part = 'SHARED'"], check=True,
                       capture_output=True)


def test_deid_instances_are_deidentified_only_by_workers_with_the_runs_key(tmp):
    import hmac
    import pydicom
    keys = []
    for name in ("a.key", "b.key"):
        path = os.path.join(tmp, name)
        subprocess.run([ARGS.eden, "deid", "keygen", "--out", path], check=True, capture_output=True)
        keys.append(path)
    # A worker with de-identification on and no key does not start (exit 2, says how).
    r = subprocess.run([ARGS.eden, "worker", "--broker", broker(0)], env={**os.environ, **ENV, "EDEN_DEID": "basic"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "eden deid keygen" in r.stderr, r.stderr
    deid = {"EDEN_DEID": "basic", "EDEN_DEID_KEY_FILE": keys[0]}

    def run(out):
        return subprocess.run([ARGS.eden, "run", "--all-studies", "-o", out, "--broker", broker(0), "--result-backend",
                               broker(1), "--progress", "none"], env={**os.environ, **ENV, **deid},
                              capture_output=True, text=True, timeout=600)

    # Two workers with the one key: the instances spread over them, the UIDs are the key's.
    workers = [Worker(tmp, "deid-a1", env=deid), Worker(tmp, "deid-a2", env=deid)]
    try:
        out = os.path.join(tmp, "same-key")
        r = run(out)
        assert r.returncode == 1, r.stdout[-1500:] + r.stderr  # The demo PACS's 4 broken rows.
        rows = read_csv(out)
        stored = [x for x in rows if x["status"] == "stored"]
        assert len(stored) > 20 and all(x["patient"].startswith("EDEN-") for x in stored)
        # The UIDs are the key's (docs/deid.md, computed here independently): the worker used the
        # key it was given; the run's message carried only its fingerprint.
        key_hex = open(keys[0]).read().strip()
        psql = ["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d", "pacs",
                "-At", "-F", "\t", "-c", "SELECT id, file_url FROM pacs_instances"]
        urls = dict(line.split("\t", 1) for line in subprocess.run(psql, check=True, capture_output=True,
                                                                    text=True).stdout.splitlines())
        base = os.path.join(out, "eden-dataset-vlms/sample-test/dicom-files")
        for x in stored:
            ds = pydicom.dcmread(os.path.join(base, x["instance_id"] + ".dcm"))
            assert ds.PatientIdentityRemoved == "YES" and ds.PatientID == x["patient"]
            src = pydicom.dcmread(io.BytesIO(urllib.request.urlopen(urls[x["instance_id"]], timeout=30).read()),
                                  force=True)
            mac = hmac.new(bytes.fromhex(key_hex), ("uid:" + str(src.SOPInstanceUID)).encode(), "sha256").digest()
            assert ds.SOPInstanceUID == "2.25." + str(int.from_bytes(mac[:16], "big")), x["instance_id"]
        stats = celery_app().control.inspect(timeout=2).stats()
        shares = {name: st["total"].get("eden.process_instance", 0) for name, st in stats.items() if "deid-a" in name}
        assert len(shares) == 2 and all(n > 0 for n in shares.values()), shares
    finally:
        for w in workers:
            assert w.stop() == 0
    other = Worker(tmp, "deid-b", env={"EDEN_DEID": "basic", "EDEN_DEID_KEY_FILE": keys[1]})
    try:
        out = os.path.join(tmp, "other-key")
        r = run(out)
        assert r.returncode == 1, r.stdout[-1500:] + r.stderr
        rows = read_csv(out)
        assert rows and all(x["status"] != "stored" for x in rows)
        refused = [x for x in rows if x["error"].startswith("failed_precondition: de-identify:")]
        assert len(refused) >= len(rows) - 1, [x["error"] for x in rows][:5]
        assert not os.path.exists(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-files")) or \
            not os.listdir(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-files"))
    finally:
        assert other.stop() == 0


def scrape_metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return prometheus_text.parse(r.read().decode())


def test_worker_metrics_healthz_status_broker_and_dashboard(tmp):
    ports = [harness.usable_port(ARGS.proxy_port + 10), harness.usable_port(ARGS.proxy_port + 11)]
    workers = [Worker(tmp, f"wm{i}", "-c", "2", "--metrics-port", str(port)) for i, port in enumerate(ports)]
    proxy, query = slow_query(tmp, 150)
    dash_port = harness.usable_port(ARGS.proxy_port + 12)
    dash = None
    try:
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                assert r.status == 200 and r.read() == b"ok\n"
        # A queue no worker consumes, bound to the celery exchange as kombu binds one: 3 waiting.
        redis_cli("SADD", "_kombu.binding.celery", "parked\x06\x16\x06\x16parked")
        for i in range(3):
            redis_cli("LPUSH", "parked", f"message {i}")
        st = subprocess.run([ARGS.eden, "status", "--broker", broker(0), "--json"], env={**os.environ, **ENV},
                            capture_output=True, text=True)
        assert st.returncode == 0, st.stderr
        j = json.loads(st.stdout)["broker"]
        assert j["queues"]["parked"] == 3 and j["queues"]["celery"] == 0, j
        assert sorted(w["node"] for w in j["workers"] if w["answered"]) == sorted(w.name for w in workers), j
        # The same workers as Python Celery's own `celery inspect ping` sees.
        ping = celery_cli("inspect", "ping").stdout
        assert all(f"{w.name}: OK" in ping for w in workers), ping
        text = subprocess.run([ARGS.eden, "status", "--broker", broker(0)], env={**os.environ, **ENV},
                              capture_output=True, text=True).stdout
        assert "queue parked: 3 waiting" in text and f"{workers[0].name} online" in text, text

        out = os.path.join(tmp, "out")
        summary_path = os.path.join(tmp, "s.json")
        run = subprocess.Popen([ARGS.eden, "run", "--all-studies", "--query", query, "-o", out, "--broker", broker(0),
                                "--result-backend", broker(1), "--progress", "none", "--summary-json", summary_path],
                               env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # While it runs: active tasks on the workers, through eden status --broker.
        busy = None
        deadline = time.time() + 60
        while busy is None and time.time() < deadline and run.poll() is None:
            st = subprocess.run([ARGS.eden, "status", "--broker", broker(0), "--json", "--timeout", "0.5"],
                                env={**os.environ, **ENV}, capture_output=True, text=True)
            ws = json.loads(st.stdout)["broker"]["workers"]
            if any("eden.process_instance" in t for w in ws for t in w["active_tasks"]):
                busy = ws
        assert busy, "no active task seen during the run"
        in_flight = sum(prometheus_text.value(scrape_metrics(p), "eden_in_flight_tasks") for p in ports)
        assert 0 <= in_flight <= 4, in_flight
        # The dashboard shows the workers and the run.
        dash = subprocess.Popen([ARGS.eden, "dashboard", out, "--port", str(dash_port), "--broker", broker(0)],
                                env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_listening(dash_port, dash)
        run.communicate(timeout=600)
        assert run.returncode == 1, run.returncode  # The demo's four bad rows.
        summary = json.load(open(summary_path))
        with urllib.request.urlopen(f"http://127.0.0.1:{dash_port}/status.json", timeout=30) as r:
            view = json.load(r)
        broker_view = view["broker"]
        assert view["stored"] == summary["instances"]["stored"] and broker_view["queues"]["parked"] == 3, view
        assert sorted(w["node"] for w in broker_view["workers"] if w["answered"]) == sorted(w.name for w in workers)
        assert sum(w["processed"] for w in broker_view["workers"]) >= summary["instances"]["total"], broker_view
        # The workers' counters add up to the run's summary.
        fams = [scrape_metrics(p) for p in ports]
        total = lambda name, **labels: sum(prometheus_text.value(f, name, **labels) for f in fams)
        inst = summary["instances"]
        assert total("eden_instances_total", outcome="stored") == inst["stored"], (inst, [f.get("eden_instances_total") for f in fams])
        assert total("eden_instances_total", outcome="failed") == inst["failed"], inst
        assert total("eden_stored_bytes_total", kind="jpeg") == summary["bytes"]["jpeg"], summary["bytes"]
        assert total("eden_tasks_total", task="eden.process_instance", state="succeeded") == inst["total"], inst
        assert all(prometheus_text.value(f, "eden_worker_consuming") == 1 for f in fams)
        assert all(prometheus_text.value(f, "eden_queue_depth", queue="celery") == 0 for f in fams)
        assert all(prometheus_text.value(f, "eden_instances_total") > 0 for f in fams), "one worker did everything"
    finally:
        if dash is not None:
            dash.terminate()
            dash.wait(timeout=20)
        proxy.kill()
        proxy.wait()
        for w in workers:
            w.stop()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--eden", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--services-dir", default=os.path.join(tempfile.gettempdir(), f"eden-celery-itest-{os.getuid()}"))
    p.add_argument("--pg-port", type=int, default=55444)
    p.add_argument("--orthanc-port", type=int, default=58054)
    p.add_argument("--redis-port", type=int, default=0, help="0: a free port")
    p.add_argument("--proxy-port", type=int, default=58074)
    ARGS = p.parse_args()
    ARGS.eden = os.path.abspath(ARGS.eden)
    if not ARGS.redis_port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ARGS.redis_port = probe.getsockname()[1]
    redis_dir = os.path.join(ARGS.services_dir + "-redis")
    os.makedirs(redis_dir, exist_ok=True)
    pidfile = os.path.join(redis_dir, "redis.pid")
    subprocess.run(["redis-server", "--port", str(ARGS.redis_port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--daemonize", "yes", "--pidfile", pidfile, "--dir", redis_dir,
                    "--logfile", os.path.join(redis_dir, "redis.log")], check=True)
    # Ready, and ours: the server answering on the port has the pid our redis-server wrote.
    for _ in range(200):
        info = subprocess.run(["redis-cli", "-p", str(ARGS.redis_port), "INFO", "server"], capture_output=True,
                              text=True).stdout
        if os.path.exists(pidfile) and f"process_id:{open(pidfile).read().strip()}" in info:
            break
        time.sleep(0.05)
    else:
        print(f"redis did not start on {ARGS.redis_port}:\n" + open(os.path.join(redis_dir, "redis.log")).read()[-2000:])
        return 1
    print(f"redis: running on 127.0.0.1:{ARGS.redis_port}")

    tests = harness.tests_of(globals())

    def each(t):
        def run(tmp):
            redis_cli("FLUSHALL")
            t(tmp)
        run.__name__ = t.__name__
        return run

    try:
        return harness.run_suite(ARGS.repo, ARGS.services_dir, ARGS.pg_port, ARGS.orthanc_port, [each(t) for t in tests],
                                 harness.setter_of(globals()))
    finally:
        try:
            pid = int(open(pidfile).read())
            os.kill(pid, signal.SIGTERM)
            for _ in range(200):  # gone before the next suite binds the port
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.05)
            print("redis: stopped")
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    sys.exit(main())
