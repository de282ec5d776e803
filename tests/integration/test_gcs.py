#!/usr/bin/python3
"""Integration tests of eden's Google Cloud Storage destination, all on loopback:
real PostgreSQL + Orthanc (the demo PACS), the GCS JSON API test server (tests/gcs), Google's
official Node client (@google-cloud/storage) as the independent checker, and a fault-injecting
proxy. Prints one line per test and 'N passed, N failed'; exit 1 on any failure."""
import argparse
import csv
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

import harness
from dataset_check import check_dataset_packages

ARGS = None
ENV = {}
LOADED = {}
PREFIX = "eden-dataset-vlms/sample-test"
CSV_NAME = "dicom-reports-extracted-sample.csv"


class Background:
    """A helper process that prints 'listening PORT' when ready; stopped by its PID."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(f"{cmd[1]} did not start: {line}{self.proc.stderr.read()}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path) as r:
            return json.load(r)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def gcs_server(tmp, *extra):
    root = os.path.join(tmp, "gcs-root")
    return Background(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/gcs/gcs_test_server.py"), "--root", root,
                       "--bucket", "eden-it", *extra])


def fault_proxy(upstream, *faults):
    return Background(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/gcs/fault_proxy.py"), "--port", "0",
                       "--upstream", upstream, *faults])


def eden(tmp, *args, env=None):
    """eden with the services' environment, from `tmp` (the gs:// journal lives under tmp/state)."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GCS_CREDENTIALS_PATH")}
    return subprocess.run([ARGS.eden, *args], env={**base, **ENV, "HOME": tmp, "XDG_STATE_HOME": os.path.join(tmp, "state"), **(env or {})}, cwd=tmp, text=True,
                          capture_output=True)


def official_client(script, server, *args):
    r = subprocess.run(["node", os.path.join(ARGS.repo, "tests/gcs/client", script), *args],
                       env={**os.environ, "STORAGE_EMULATOR_HOST": server.url}, text=True, capture_output=True,
                       timeout=600)
    return r


def listed_by_official_client(server, prefix):
    r = official_client("list_objects.js", server, "eden-it", prefix)
    assert r.returncode == 0, r.stderr
    return {o["name"]: o for o in map(json.loads, r.stdout.splitlines())}


def big_instances_query(tmp, count=2):
    """The built-in selection plus `count` radiograph-sized instances (2 MiB each, made from the
    corpus's MR_small.dcm tiled to 1024x1024 with new UIDs), served as file:// URLs, so uploads
    take several resumable chunks."""
    import numpy as np
    import pydicom
    from pydicom.uid import generate_uid
    src = pydicom.dcmread("/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm")
    pixels = src.pixel_array
    rows = []
    for n in range(count):
        ds = pydicom.dcmread("/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm")
        arr = np.tile(pixels, (16, 16))
        arr = np.roll(arr, n * 7, axis=1)
        ds.Rows, ds.Columns = arr.shape
        ds.PixelData = arr.astype(pixels.dtype).tobytes()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = os.path.join(tmp, f"big{n}.dcm")
        ds.save_as(path, write_like_original=False)
        rows.append(f"SELECT '{uuid.uuid4()}'::uuid, 1, '{uuid.uuid4()}'::uuid, {n + 1}, 'big{n}.dcm', "
                    f"'file://{path}', 'Big radiograph {n}.', now(), 'MR', 'CHEST', 'BIG-PATIENT-{n}'")
    base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
    query = os.path.join(tmp, "with-big.sql")
    with open(query, "w", encoding="utf-8") as f:
        f.write(f"SELECT * FROM ({base_sql}) base UNION ALL " + " UNION ALL ".join(rows))
    return query


def read_csv_text(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def check_dataset_with_official_client(server, prefix=PREFIX):
    """Every object the CSV names is in the bucket as the official client sees it: name, size,
    content type, md5/crc32c from the server equal to the downloaded bytes' and to the CSV's."""
    objects = listed_by_official_client(server, prefix + "/")
    csv_obj = objects.get(f"{prefix}/{CSV_NAME}")
    assert csv_obj and csv_obj["contentType"] == "text/csv", "CSV missing or wrong content type"
    readme = objects.get(f"{prefix}/README-dataset.md")
    assert readme and readme["contentType"] == "text/markdown", "README missing or wrong content type"
    for o in objects.values():
        assert o["bytes"] == o["size"] and o["md5"] == o["md5Hash"] and o["crc"] == o["crc32c"], o
    with urllib.request.urlopen(f"{server.url}/download/storage/v1/b/eden-it/o/"
                                f"{urllib.request.quote(prefix + '/' + CSV_NAME, safe='')}?alt=media") as r:
        rows = read_csv_text(r.read().decode("utf-8"))
    expected = set()
    for row in rows:
        iid = row["instance_id"]
        if row["downloaded"] == "True":
            name = f"{prefix}/dicom-files/{iid}.dcm"
            o = objects.get(name)
            assert o, f"{name} missing"
            assert o["contentType"] == "application/dicom", o
            assert o["sha256"] == row["dicom_sha256"] and o["crc32c"] == row["dicom_crc32c"], (o, row["dicom_crc32c"])
            assert str(o["size"]) == row["dicom_bytes"]
            assert row["dicom_uri"] == f"gs://eden-it/{name}"
            expected.add(name)
        if row["status"] == "stored":
            name = f"{prefix}/images-jpg/{iid}.jpg"
            o = objects.get(name)
            assert o, f"{name} missing"
            assert o["contentType"] == "image/jpeg" and o["sha256"] == row["jpg_sha256"], o
            assert o["crc32c"] == row["jpg_crc32c"] and str(o["size"]) == row["jpg_bytes"]
            expected.add(name)
    expected |= {f"{prefix}/{CSV_NAME}", f"{prefix}/README-dataset.md"}
    # The packages (docs/datasets.md): metadata.jsonl always, one per split, LLaVA and shards when asked.
    packages = {n for n in objects if n in (f"{prefix}/metadata.jsonl", f"{prefix}/llava.json", f"{prefix}/llava.jsonl")
                or n.startswith((f"{prefix}/metadata/", f"{prefix}/shards/"))}
    assert f"{prefix}/metadata.jsonl" in packages and f"{prefix}/metadata/train.jsonl" in packages, sorted(packages)
    expected |= packages
    # The dataset's record: a copy of the run's journal, from which a run on another machine goes on.
    record = f"{prefix}/.eden/journal.sqlite"
    assert record in objects and objects[record]["contentType"] == "application/vnd.sqlite3", sorted(objects)[:3]
    expected.add(record)
    assert set(objects) == expected, f"unexpected objects: {sorted(set(objects) - expected)[:5]}"
    return rows, objects


def mirror(server, objects, folder, prefix=PREFIX):
    """Downloads every listed object of the dataset into `folder` (laid out as in the bucket)."""
    for name in objects:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with urllib.request.urlopen(f"{server.url}/download/storage/v1/b/eden-it/o/"
                                    f"{urllib.request.quote(name, safe='')}?alt=media") as r, open(path, "wb") as f:
            f.write(r.read())
    return os.path.join(folder, prefix)


# ---- tests -------------------------------------------------------------------------------------

def test_official_client_against_the_test_server(tmp):
    server = gcs_server(tmp)
    try:
        r = official_client("check_server.js", server, "eden-it")
        assert r.returncode == 0, r.stdout + r.stderr
        assert " 0 failed" in r.stdout and "FAIL" not in r.stdout, r.stdout
    finally:
        server.stop()


def test_run_to_gcs_checked_by_the_official_client(tmp):
    server = gcs_server(tmp)
    try:
        env = {"STORAGE_EMULATOR_HOST": server.url}
        r = eden(tmp, "run", "--all-studies", "-o", "gs://eden-it", "--progress", "plain",
                 "--summary-json", os.path.join(tmp, "s.json"), env=env)
        assert r.returncode == 1, f"exit {r.returncode} (4 bad rows expected): {r.stdout[-2000:]} {r.stderr}"
        # The journal lives in the user's state folder (the same from any working directory), said.
        journal = os.path.join(tmp, "state", "eden", "gs", "eden-it", PREFIX, "journal.sqlite")
        assert os.path.exists(journal) and f"journal {journal}" in r.stdout, r.stdout[:500]
        rows, objects = check_dataset_with_official_client(server)
        stored = sum(row["status"] == "stored" for row in rows)
        assert stored == LOADED["instances"] - 4, (stored, LOADED["instances"])
        # The DICOM objects are byte for byte what Orthanc serves.
        for row in rows[:10]:
            if row["status"] == "stored":
                with urllib.request.urlopen(row["file_url"]) as resp:
                    original = resp.read()
                assert hashlib.sha256(original).hexdigest() == objects[
                    f"{PREFIX}/dicom-files/{row['instance_id']}.dcm"]["sha256"]
        finalized = server.get_json("/_test/stats")["finalized"]
        assert all(n == 1 for n in finalized.values()), "an object was written twice"
        v = eden(tmp, "verify", "gs://eden-it", env=env)
        assert v.returncode == 0 and " 0 problems" in v.stdout, v.stdout + v.stderr
        # A rerun uploads nothing: every object is already there with its recorded CRC-32C.
        before = server.get_json("/_test/stats")["requests"]
        again = eden(tmp, "run", "--all-studies", "-o", "gs://eden-it", "--progress", "none",
                     "--summary-json", os.path.join(tmp, "s2.json"), env=env)
        assert again.returncode == 1, again.stderr
        after = server.get_json("/_test/stats")
        uploads = {k: after["requests"].get(k, 0) - before.get(k, 0) for k in after["requests"] if k.startswith("upload")}
        assert not any(uploads.values()), f"the rerun uploaded: {uploads}"
        assert all(n == 1 for n in after["finalized"].values())
        s2 = json.load(open(os.path.join(tmp, "s2.json")))
        assert s2["instances"]["already_stored"] == stored and s2["upload"]["bytes_sent"] == 0, s2
        # A deleted object is noticed by verify and uploaded again by a rerun.
        victim = next(row for row in rows if row["status"] == "stored")["instance_id"]
        req = urllib.request.Request(f"{server.url}/storage/v1/b/eden-it/o/"
                                     f"{urllib.request.quote(f'{PREFIX}/images-jpg/{victim}.jpg', safe='')}",
                                     method="DELETE")
        urllib.request.urlopen(req).read()
        v = eden(tmp, "verify", "gs://eden-it", env=env)
        assert v.returncode == 1 and f"missing: gs://eden-it/{PREFIX}/images-jpg/{victim}.jpg" in v.stdout, v.stdout
        fixed = eden(tmp, "run", "--all-studies", "-o", "gs://eden-it", "--progress", "none", env=env)
        assert fixed.returncode == 1, fixed.stderr
        assert eden(tmp, "verify", "gs://eden-it", env=env).returncode == 0
        # No report text or patient data in what eden prints.
        assert "café" not in r.stdout + r.stderr and "comma" not in r.stdout + r.stderr
    finally:
        server.stop()


def test_faults_end_with_every_object_once_and_verified(tmp):
    server = gcs_server(tmp)
    proxy = fault_proxy(server.url, "--status-every", "7:503", "--status-every", "11:429", "--cut-chunk-every", "4",
                        "--drop-response-every", "13", "--slow-every", "17:0.3")
    try:
        query = big_instances_query(tmp)
        # The big files are file:// URLs under tmp: allowed beside the demo's own folder.
        env = {"STORAGE_EMULATOR_HOST": proxy.url, "EDEN_ALLOW_URLS": f"{ENV['EDEN_ALLOW_URLS']},file://{tmp}/"}
        args = ["run", "--all-studies", "--query", query, "-o", "gs://eden-it", "--progress", "none",
                "--resumable-threshold-kib", "256", "--upload-chunk-kib", "256", "--retries", "8",
                "--summary-json", os.path.join(tmp, "s.json")]
        r = eden(tmp, *args, env=env)
        assert r.returncode == 1, f"exit {r.returncode}: {r.stdout[-3000:]} {r.stderr}"
        summary = json.load(open(os.path.join(tmp, "s.json")))
        assert summary["instances"]["failed"] == 4, summary["failures"]  # only the 4 bad rows
        injected = proxy.get_json("/_proxy/stats")
        assert injected["status"] > 0 and injected["cut_chunks"] > 0 and injected["dropped_responses"] > 0, injected
        stats = server.get_json("/_test/stats")
        # Exactly once: every object finalized once, although requests were retried and answers lost.
        assert all(n == 1 for n in stats["finalized"].values()), [k for k, v in stats["finalized"].items() if v != 1]
        # Resumed, not restarted: the client asked where the session was and went on from there.
        # (A chunk whose answer was lost may reach the server twice: libcurl resends a request
        # once when a reused connection dies before any answer; the server skips those bytes.)
        assert stats["status_queries_with_progress"] > 0 and stats["ignored_committed_offset"] == 0, \
            {k: stats[k] for k in stats if k != "finalized"}
        assert summary["upload"]["retries"] > 0 and summary["upload"]["resumed_uploads"] > 0, summary["upload"]
        rows, objects = check_dataset_with_official_client(server)
        big = [o for n, o in objects.items() if n.endswith(".dcm") and o["size"] > 2_000_000]
        assert len(big) == 2, "the radiograph-sized objects are missing"
        v = eden(tmp, "verify", "gs://eden-it", env={"STORAGE_EMULATOR_HOST": server.url})
        assert v.returncode == 0, v.stdout + v.stderr
        # A rerun through the same faults uploads nothing that was verified.
        before = stats["requests"]
        again = eden(tmp, *args, env=env)
        assert again.returncode == 1, again.stderr
        after = server.get_json("/_test/stats")
        assert {k: v for k, v in after["requests"].items() if k.startswith("upload")} == \
            {k: v for k, v in before.items() if k.startswith("upload")}, "the rerun uploaded objects again"
        assert after["finalized"] == stats["finalized"]
    finally:
        proxy.stop()
        server.stop()


def test_webdataset_shards_upload_through_cut_resumable_chunks_and_read_back(tmp):
    # Shards go to GCS like any object (spooled beside the journal, then a resumable upload that
    # the proxy cuts); the bucket's copy, downloaded, passes the same read-back as a folder's.
    server = gcs_server(tmp)
    proxy = fault_proxy(server.url, "--cut-chunk-every", "3", "--drop-response-every", "7")
    try:
        query = big_instances_query(tmp, count=3)
        env = {"STORAGE_EMULATOR_HOST": proxy.url, "EDEN_ALLOW_URLS": f"{ENV['EDEN_ALLOW_URLS']},file://{tmp}/"}
        args = ["run", "--all-studies", "--query", query, "-o", "gs://eden-it", "--progress", "none",
                "--resumable-threshold-kib", "256", "--upload-chunk-kib", "256", "--retries", "8",
                "--package", "webdataset,llava", "--shard-size", "1MB", "--summary-json", os.path.join(tmp, "s.json")]
        r = eden(tmp, *args, env=env)
        assert r.returncode == 1, f"exit {r.returncode}: {r.stdout[-3000:]} {r.stderr}"
        summary = json.load(open(os.path.join(tmp, "s.json")))
        assert summary["packages"]["shards"] >= 3 and summary["packages"]["shard_bytes"] > 1_000_000, summary["packages"]
        rows, objects = check_dataset_with_official_client(server)
        shards = [n for n in objects if n.endswith(".tar")]
        assert any(objects[n]["size"] > 256 * 1024 for n in shards), "no shard took a resumable upload"
        base = mirror(server, objects, os.path.join(tmp, "mirror"))
        check_dataset_packages(base, shard_bytes=1_000_000, prefix="")
        stats = server.get_json("/_test/stats")
        assert all(n == 1 for n in stats["finalized"].values())
        left = [n for _, _, names in os.walk(os.path.join(tmp, "state")) for n in names if n.endswith(".tmp")]
        assert not left, f"spool files left behind: {left}"
        # Unchanged: a rerun uploads no shard again.
        again = eden(tmp, *args, env={**env, "STORAGE_EMULATOR_HOST": server.url})
        assert again.returncode == 1, again.stderr
        assert json.load(open(os.path.join(tmp, "s.json")))["packages"]["shards_written"] == 0
    finally:
        proxy.stop()
        server.stop()


def test_large_csv_uploads_from_its_file_through_cut_resumable_chunks(tmp):
    # Report text repeated so the CSV is several MiB: eden writes it to disk and uploads it from
    # there in 256 KiB chunks (never whole in memory); the proxy cuts chunks and loses answers,
    # so the upload must ask where the session is and go on by reading the file from there.
    server = gcs_server(tmp)
    proxy = fault_proxy(server.url, "--cut-chunk-every", "3", "--drop-response-every", "5")
    try:
        base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
        query = os.path.join(tmp, "long-reports.sql")
        with open(query, "w", encoding="utf-8") as f:
            f.write("SELECT study_id, series_number, instance_id, instance_number, file_path, file_url, "
                    "repeat(coalesce(report_value, 'no report') || E'\\n', 400) AS report_value, field_created_at, "
                    f"modality, body_part FROM ({base_sql}) base")
        r = eden(tmp, "run", "--all-studies", "--query", query, "-o", "gs://eden-it", "--progress", "none",
                 "--resumable-threshold-kib", "1024", "--upload-chunk-kib", "256", "--retries", "8",
                 "--summary-json", os.path.join(tmp, "s.json"), env={"STORAGE_EMULATOR_HOST": proxy.url})
        assert r.returncode == 1, f"exit {r.returncode}: {r.stdout[-3000:]} {r.stderr}"
        rows, objects = check_dataset_with_official_client(server)
        csv_size = objects[f"{PREFIX}/{CSV_NAME}"]["size"]
        assert csv_size > 4 * 256 * 1024, f"the CSV is only {csv_size} bytes: not a multi-chunk upload"
        assert len(rows) == LOADED["instances"] and all(row["report_value"].count("\n") >= 400 for row in rows)
        injected = proxy.get_json("/_proxy/stats")
        assert injected["cut_chunks"] > 0 and injected["dropped_responses"] > 0, injected
        stats = server.get_json("/_test/stats")
        assert stats["status_queries_with_progress"] > 0 and stats["ignored_committed_offset"] == 0, \
            {k: stats[k] for k in stats if k != "finalized"}
        assert all(n == 1 for n in stats["finalized"].values())
        left = [n for _, _, names in os.walk(tmp) for n in names if n.endswith(".csv.tmp")]
        assert not left, f"the CSV's local copy was left behind: {left}"
    finally:
        proxy.stop()
        server.stop()


def make_service_account(tmp, token_uri, name="sa"):
    key = os.path.join(tmp, f"{name}.pem")
    pub = os.path.join(tmp, f"{name}.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    email = f"{name}@eden-test.iam.gserviceaccount.com"
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        json.dump({"type": "service_account", "project_id": "eden-test", "private_key_id": "k1",
                   "private_key": open(key).read(), "client_email": email, "token_uri": token_uri}, f)
    return path, pub, email


def test_service_account_jwt_verified_and_token_refreshed(tmp):
    # The server learns its own port first; the key file then names its token endpoint.
    probe = gcs_server(tmp)
    port = probe.port
    probe.stop()
    key_file, pub, email = make_service_account(tmp, f"http://127.0.0.1:{port}/token")
    server = gcs_server(tmp, "--port", str(port), "--auth", "--sa-public-key", pub, "--sa-email", email,
                        "--token-lifetime", "4")
    # Slow answers (0.8 s each) make the run outlast several 4 s tokens.
    slow = fault_proxy(server.url, "--slow-every", "1:0.8")
    try:
        base = {k: v for k, v in os.environ.items() if k not in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS")}
        p = subprocess.Popen([ARGS.eden, "run", "--all-studies", "-o", "gs://eden-it", "--gcs-endpoint", slow.url,
                              "--progress", "plain"], env={**base, **ENV, "HOME": tmp, "XDG_STATE_HOME": os.path.join(tmp, "state"), "GCS_CREDENTIALS_PATH": key_file},
                             cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def stats_now():
            return server.get_json("/_test/stats")

        def wait_for(what, condition):
            deadline = time.time() + 120
            while p.poll() is None and time.time() < deadline:
                st = stats_now()
                if condition(st):
                    return st
                time.sleep(0.05)
            raise AssertionError(f"the run ended (exit {p.poll()}) or 120 s passed before {what}")

        # ... + metadata.jsonl and metadata/<split>.jsonl for the 3 default splits, + the dataset's
        # record (.eden/journal.sqlite).
        expected_objects = 2 * (LOADED["instances"] - 4) + 1 + 2 + 1 + 3 + 1
        # Phase 1: 4 s tokens. eden must fetch a new one before the old one expires, so no
        # request is ever refused.
        refreshed = wait_for("a second token was fetched", lambda st: st["tokens"].get("jwt", 0) >= 2)
        assert refreshed["unauthorized"] == 0, f"{refreshed['unauthorized']} requests refused before revocation"
        # Phase 2: tokens issued from now on last an hour, so once eden holds one it has no reason
        # to fetch another; revoking it then is sure to meet requests that still carry it.
        urllib.request.urlopen(urllib.request.Request(server.url + "/_test/token-lifetime?seconds=3600",
                                                      method="POST")).read()
        before_revoke = wait_for("an hour-long token was fetched", lambda st: st["last_token_lifetime"] == 3600)
        assert before_revoke["unauthorized"] == 0, f"{before_revoke['unauthorized']} requests refused before revocation"
        assert len(before_revoke["finalized"]) < expected_objects, "the run had nothing left to upload"
        # Phase 3: the server revokes every token it issued. The next requests get 401, and eden
        # must fetch a new token and carry on.
        urllib.request.urlopen(urllib.request.Request(server.url + "/_test/revoke-tokens", method="POST")).read()
        out, err = p.communicate(timeout=300)
        assert p.returncode == 1, out[-2000:] + err
        assert "service account sa@eden-test" in out, out[:500]
        stats = stats_now()
        # The refused requests made eden fetch a new token (at most one 401 per request in flight).
        assert 1 <= stats["unauthorized"] <= 32, stats["unauthorized"]
        assert stats["tokens"]["jwt"] > before_revoke["tokens"]["jwt"], stats["tokens"]
        assert all(n == 1 for n in stats["finalized"].values())
        assert len(stats["finalized"]) == expected_objects, len(stats["finalized"])
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        private = open(key_file).read()
        assert json.loads(private)["private_key"][40:80] not in r.stdout + r.stderr, "key material printed"
        v = eden(tmp, "verify", "gs://eden-it", "--gcs-endpoint", server.url, env={"GCS_CREDENTIALS_PATH": key_file})
        assert v.returncode == 0, v.stdout + v.stderr
        # A key the server does not know: the token endpoint refuses it, eden says so and exits 3.
        other, _, _ = make_service_account(tmp, f"http://127.0.0.1:{port}/token", name="stranger")
        bad = eden(tmp, "run", "--all-studies", "-o", "gs://eden-it/other", "--gcs-endpoint", server.url,
                   "--progress", "none", env={"GCS_CREDENTIALS_PATH": other})
        assert bad.returncode == 3, bad.stdout + bad.stderr
        assert "refused the credentials" in bad.stderr and "invalid_grant" in bad.stderr, bad.stderr
    finally:
        slow.stop()
        server.stop()


def test_authorized_user_refresh_token_and_metadata_server(tmp):
    probe = gcs_server(tmp)
    port = probe.port
    probe.stop()
    user = {"type": "authorized_user", "client_id": "eden-client.apps.googleusercontent.com",
            "client_secret": "s3cret-client", "refresh_token": "1//refresh-token-value",
            "token_uri": f"http://127.0.0.1:{port}/token"}
    user_file = os.path.join(tmp, "adc.json")
    json.dump(user, open(user_file, "w"))
    server = gcs_server(tmp, "--port", str(port), "--auth", "--authorized-user", user_file)
    try:
        # gcloud's well-known ADC file, found through $HOME.
        adc_dir = os.path.join(tmp, ".config", "gcloud")
        os.makedirs(adc_dir)
        json.dump(user, open(os.path.join(adc_dir, "application_default_credentials.json"), "w"))
        r = eden(tmp, "run", "--studies", "4", "-o", "gs://eden-it/user", "--gcs-endpoint", server.url,
                 "--progress", "none")
        assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr
        assert "user credentials (refresh token" in r.stdout, r.stdout[:400]
        assert "s3cret" not in r.stdout + r.stderr and "refresh-token-value" not in r.stdout + r.stderr
        stats = server.get_json("/_test/stats")
        assert stats["tokens"].get("refresh", 0) >= 1 and stats["unauthorized"] == 0, stats
        # No key file, no ADC file: the metadata server (GCE_METADATA_HOST) supplies tokens.
        os.remove(os.path.join(adc_dir, "application_default_credentials.json"))
        m = eden(tmp, "run", "--studies", "4", "-o", "gs://eden-it/meta", "--gcs-endpoint", server.url,
                 "--progress", "none", env={"GCE_METADATA_HOST": f"127.0.0.1:{port}"})
        assert m.returncode in (0, 1), m.stdout[-2000:] + m.stderr
        assert server.get_json("/_test/stats")["tokens"].get("metadata", 0) >= 1
        # Anonymous requests to a server that wants tokens: a clear 401 message and exit 3.
        anon = eden(tmp, "run", "--studies", "4", "-o", "gs://eden-it/anon", "--progress", "none",
                    env={"STORAGE_EMULATOR_HOST": server.url})
        assert anon.returncode == 3, anon.stdout + anon.stderr
        assert "HTTP 401" in anon.stderr and "credentials were refused" in anon.stderr, anon.stderr
    finally:
        server.stop()


def test_missing_bucket_is_a_clear_error(tmp):
    server = gcs_server(tmp)
    try:
        r = eden(tmp, "run", "--studies", "2", "-o", "gs://no-such-bucket/x", "--progress", "none",
                 env={"STORAGE_EMULATOR_HOST": server.url})
        assert r.returncode == 3, r.stdout + r.stderr
        assert "bucket gs://no-such-bucket does not exist" in r.stderr, r.stderr
    finally:
        server.stop()


def test_fresh_leaves_only_the_new_samples_objects_in_the_bucket(tmp):
    server = gcs_server(tmp)
    try:
        env = {"STORAGE_EMULATOR_HOST": server.url}
        r = eden(tmp, "run", "--studies", "8", "--seed", "old", "-o", "gs://eden-it", "--progress", "none", env=env)
        assert r.returncode in (0, 1), r.stderr
        before = {k for k in listed_by_official_client(server, PREFIX + "/") if "/dicom-files/" in k}
        r = eden(tmp, "run", "--studies", "2", "--seed", "new", "-o", "gs://eden-it", "--progress", "none", "--fresh",
                 env=env)
        assert r.returncode in (0, 1), r.stderr
        rows, objects = check_dataset_with_official_client(server)
        named = {f"{PREFIX}/dicom-files/{x['instance_id']}.dcm" for x in rows if x["downloaded"] == "True"} | \
            {f"{PREFIX}/images-jpg/{x['instance_id']}.jpg" for x in rows if x["status"] == "stored"}
        in_folders = {k for k in objects if "/dicom-files/" in k or "/images-jpg/" in k}
        assert in_folders == named and len(before) > len(rows), (len(in_folders), len(named), len(before))
        v = eden(tmp, "verify", "gs://eden-it", env=env)
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        server.stop()


def test_deid_check_reads_a_dataset_in_the_bucket(tmp):
    server = gcs_server(tmp)
    try:
        env = {"STORAGE_EMULATOR_HOST": server.url}
        key = os.path.join(tmp, "deid.key")
        assert eden(tmp, "deid", "keygen", "--out", key).returncode == 0
        r = eden(tmp, "run", "--all-studies", "-o", "gs://eden-it/deid-set", "--progress", "none", "--deid-key-file",
                 key, env={**env, "EDEN_DEID": "basic"})
        assert r.returncode == 1, r.stdout[-1500:] + r.stderr  # The demo PACS's broken rows.
        c = eden(tmp, "deid", "check", "gs://eden-it/deid-set", env=env)
        assert c.returncode == 0 and " 0 findings" in c.stdout, c.stdout[-1500:] + c.stderr
        assert re.search(r"\(([1-9][0-9]+) DICOM\)", c.stdout), c.stdout[-300:]
        plain = eden(tmp, "run", "--all-studies", "-o", "gs://eden-it/plain-set", "--progress", "none", env=env)
        assert plain.returncode == 1, plain.stderr
        c = eden(tmp, "deid", "check", "gs://eden-it/plain-set", env=env)
        assert c.returncode == 1 and "Patient Identity Removed is not YES" in c.stdout, c.stdout[-800:] + c.stderr
    finally:
        server.stop()



def psql(sql):
    return subprocess.run(["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d",
                           "pacs", "-qAt", "-c", sql], check=True, text=True, capture_output=True).stdout.split()


def visible_query(tmp, proxy_port):
    """The built-in selection limited to the studies in table eden_visible, downloads through a
    proxy on proxy_port."""
    psql("CREATE TABLE IF NOT EXISTS eden_visible (study_id text PRIMARY KEY); TRUNCATE eden_visible")
    base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
    query = os.path.join(tmp, "visible.sql")
    with open(query, "w", encoding="utf-8") as f:
        f.write("SELECT study_id, series_number, instance_id, instance_number, file_path, "
                f"replace(file_url, '{ENV['EDEN_ORTHANC_URL']}', 'http://127.0.0.1:{proxy_port}') AS file_url, "
                f"report_value, field_created_at, modality, body_part FROM ({base_sql}) base "
                "WHERE study_id::text IN (SELECT study_id FROM eden_visible)")
    return query


def machine(tmp, name):
    """Another machine's home: its own state folder, so no journal of another run."""
    home = os.path.join(tmp, name)
    os.makedirs(home, exist_ok=True)
    return {"HOME": home, "XDG_STATE_HOME": os.path.join(home, "state")}


def test_incremental_from_another_machine_continues_from_the_buckets_record(tmp):
    server = gcs_server(tmp)
    port = harness.usable_port(ARGS.orthanc_port + 40)
    log = os.path.join(tmp, "requests.log")
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"),
                              str(port), ENV["EDEN_ORTHANC_URL"], "0", log])
    try:
        harness.wait_listening(port, proxy)
        query = visible_query(tmp, port)
        good = [i for i in psql("SELECT id FROM pacs_studies WHERE NOT deleted ORDER BY id") if i != LOADED["bad_study"]]
        psql("INSERT INTO eden_visible VALUES " + ",".join(f"('{i}')" for i in good[:10]))
        args = ["run", "--incremental", "--query", query, "-o", "gs://eden-it", "--progress", "none"]
        r = eden(tmp, *args, env={"STORAGE_EMULATOR_HOST": server.url, **machine(tmp, "a")})
        assert r.returncode == 0, r.stdout + r.stderr
        first, _ = check_dataset_with_official_client(server)
        assert {row["study_id"] for row in first} == set(good[:10])
        assert ".eden/journal.sqlite" in " ".join(listed_by_official_client(server, PREFIX + "/.eden/"))

        # Five more studies; machine B has never run eden: it continues from the bucket's record.
        open(log, "w").close()
        psql("INSERT INTO eden_visible VALUES " + ",".join(f"('{i}')" for i in good[10:15]))
        r = eden(tmp, *args, env={"STORAGE_EMULATOR_HOST": server.url, **machine(tmp, "b")})
        assert r.returncode == 0, r.stdout + r.stderr
        assert "5 new studies" in r.stdout, r.stdout
        rows, _ = check_dataset_with_official_client(server)
        assert {row["study_id"] for row in rows} == set(good[:15]), "the CSV in the bucket covers all 15 studies"
        new_rows = [row for row in rows if row["study_id"] in set(good[10:15])]
        assert len(open(log).read().splitlines()) == len(new_rows), "only the new studies' files were downloaded"
        assert len(rows) == len(first) + len(new_rows)

        # Machine A again: its own journal is older than the record; it takes the record, finds nothing new.
        open(log, "w").close()
        r = eden(tmp, *args, env={"STORAGE_EMULATOR_HOST": server.url, **machine(tmp, "a")})
        assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout + r.stderr
        assert open(log).read() == ""
    finally:
        proxy.kill()
        proxy.wait()
        server.stop()


def test_every_lease_in_the_bucket_expires_when_its_holder_is_killed(tmp):
    server = gcs_server(tmp)
    port = harness.usable_port(ARGS.orthanc_port + 41)
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"),
                              str(port), ENV["EDEN_ORTHANC_URL"], "200"])
    try:
        harness.wait_listening(port, proxy)
        query = visible_query(tmp, port)
        good = [i for i in psql("SELECT id FROM pacs_studies WHERE NOT deleted ORDER BY id") if i != LOADED["bad_study"]]
        psql("INSERT INTO eden_visible VALUES " + ",".join(f"('{i}')" for i in good[:10]))
        args = [ARGS.eden, "run", "--every", "1s", "--lease", "6", "--query", query, "-o", "gs://eden-it",
                "--progress", "none", "--download-concurrency", "1"]
        base = {k: v for k, v in os.environ.items() if k not in ("STORAGE_EMULATOR_HOST", "GCS_CREDENTIALS_PATH")}
        env_a = {**base, **ENV, "STORAGE_EMULATOR_HOST": server.url, **machine(tmp, "a")}
        env_b = {**base, **ENV, "STORAGE_EMULATOR_HOST": server.url, **machine(tmp, "b")}
        holder = subprocess.Popen(args, env=env_a, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen, deadline = "", time.time() + 60
        while "scheduled run 1 started" not in seen and time.time() < deadline:
            seen += holder.stdout.readline()
        lease = server.get_json(f"/storage/v1/b/eden-it/o/{urllib.parse.quote(PREFIX + '/.eden/schedule.lock', safe='')}?alt=media")
        assert lease["lease_s"] == 6 and "pid" in lease["holder"], lease
        time.sleep(0.5)
        holder.kill()  # Mid-run: the lease stays in the bucket until it expires.
        holder.wait()
        killed_at = time.time()
        other = subprocess.Popen(args, env=env_b, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        text, deadline = "", time.time() + 60
        while "started" not in text and time.time() < deadline:
            text += other.stdout.readline()
        started_after = time.time() - killed_at
        while "scheduled run" not in text.split("started")[-1] and "ended" not in text and time.time() < deadline:
            text += other.stdout.readline()
        other.send_signal(signal.SIGTERM)
        rest, _ = other.communicate(timeout=120)
        assert "another scheduler holds" in text, text  # Refused while the lease was live...
        assert "started" in text and 3 <= started_after <= 15, (started_after, text)  # ...taken once it expired.
    finally:
        proxy.kill()
        proxy.wait()
        server.stop()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--eden", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--services-dir", default=os.path.join(tempfile.gettempdir(), f"eden-gcs-itest-{os.getuid()}"))
    p.add_argument("--pg-port", type=int, default=55443)
    p.add_argument("--orthanc-port", type=int, default=58053)
    ARGS = p.parse_args()
    ARGS.eden = os.path.abspath(ARGS.eden)

    tests = harness.tests_of(globals())
    return harness.run_suite(ARGS.repo, ARGS.services_dir, ARGS.pg_port, ARGS.orthanc_port, tests,
                             harness.setter_of(globals()))


if __name__ == "__main__":
    sys.exit(main())
