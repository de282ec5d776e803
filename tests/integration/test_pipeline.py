#!/usr/bin/python3
"""Integration tests of `eden run` against a real PostgreSQL and a real Orthanc on loopback,
started here by scripts/services.sh and loaded by scripts/load_demo_pacs.py.
Prints one line per test and a closing 'N passed, N failed' line; exit 1 on any failure."""
import argparse
import contextlib
import csv
import glob
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

import harness
from dataset_check import check_dataset_packages, read_jsonl

ARGS = None
ENV = {}
LOADED = {}


sh = harness.sh


def eden(*args, env=None, cwd=None):
    return subprocess.run([ARGS.eden, *args], env={**os.environ, **ENV, **(env or {})}, cwd=cwd, text=True,
                          capture_output=True)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_csv(out):
    path = os.path.join(out, "eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def psql_csv(sql):
    r = sh(["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d", "pacs", "-q",
            "-c", f"COPY ({sql}) TO STDOUT WITH CSV HEADER"])
    return list(csv.DictReader(io.StringIO(r.stdout)))


def url_rewriting_query(tmp, name, url_sql):
    """A --query file: the built-in selection with file_url replaced by the SQL expression url_sql."""
    base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("SELECT study_id, series_number, instance_id, instance_number, file_path, "
                f"{url_sql} AS file_url, report_value, field_created_at, modality, body_part FROM ({base_sql}) base")
    return path


SEED_COLUMNS = ["study_id", "series_number", "instance_id", "instance_number", "file_path", "file_url",
                "report_value", "field_created_at", "downloaded", "local_file_path"]


@contextlib.contextmanager
def slow_pacs_query(tmp):
    """A --query file whose URLs go through a proxy that answers each download in 60 ms: a run
    long enough to be watched or interrupted midway. The proxy stops with the block."""
    port = str(ARGS.proxy_port)
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"), port,
                              ENV["EDEN_ORTHANC_URL"], "60"])
    try:
        harness.wait_listening(int(port), proxy)
        yield url_rewriting_query(
            tmp, "slow.sql", f"replace(file_url, '{ENV['EDEN_ORTHANC_URL']}', 'http://127.0.0.1:{port}')")
    finally:
        proxy.kill()
        proxy.wait()


def interrupt_once_stored(args, journal, at_least=1, sig=signal.SIGKILL):
    """Starts `eden run` (args) and sends it `sig` as soon as its journal records `at_least`
    stored instances: mid-run by construction, whatever the machine's speed. Returns (exit
    code, stderr)."""
    def stored_count():
        try:
            with sqlite3.connect(journal, timeout=1) as db:
                return db.execute("SELECT count(*) FROM instances WHERE state='stored'").fetchone()[0]
        except sqlite3.Error:
            return 0  # Not created or not frozen yet.

    p = subprocess.Popen(args, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while p.poll() is None and time.time() < deadline and stored_count() < at_least:
        time.sleep(0.02)
    if p.poll() is None:
        p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    return p.returncode, err


def kill_9_once_stored(args, journal, at_least=1):
    code, _ = interrupt_once_stored(args, journal, at_least)
    assert code == -signal.SIGKILL, f"the run ended (exit {code}) before it could be killed"


# ---- tests -------------------------------------------------------------------------------------

def test_full_run_checked_file_by_file(tmp):
    out = os.path.join(tmp, "full")
    r = eden("run", "--all-studies", "-o", out, "--progress", "plain", "--summary-json", os.path.join(tmp, "s.json"))
    assert r.returncode == 1, f"exit {r.returncode} (4 bad rows expected): {r.stderr}"
    rows = read_csv(out)
    assert list(rows[0].keys())[:10] == SEED_COLUMNS, list(rows[0].keys())[:10]
    expected = psql_csv(
        "SELECT i.id::text AS instance_id, st.id::text AS study_id, i.file_url FROM pacs_instances i "
        "JOIN pacs_series se ON se.id = i.series_id JOIN pacs_studies st ON st.id = se.study_id "
        "WHERE NOT i.deleted AND NOT se.deleted AND NOT st.deleted")
    assert sorted(r["instance_id"] for r in rows) == sorted(e["instance_id"] for e in expected), "CSV != database rows"
    assert len({r["instance_id"] for r in rows}) == len(rows), "duplicate CSV rows"
    reports = {e["study_id"]: e["report"] for e in psql_csv(
        "SELECT study_id::text, string_agg(value, E'\\n\\n' ORDER BY created_at, id) AS report FROM pacs_report_fields "
        "WHERE NOT deleted GROUP BY study_id")}
    base = os.path.join(out, "eden-dataset-vlms/sample-test")
    bad = LOADED["bad_rows"]
    want_errors = {bad["null-url"]: "invalid_argument", bad["http-404"]: "not_found", bad["not-dicom"]: "not_dicom",
                   bad["truncated"]: "truncated"}
    stored = 0
    for row in rows:
        iid = row["instance_id"]
        assert row["report_value"] == reports.get(row["study_id"], ""), f"{iid}: report differs"
        assert "DELETED DRAFT" not in row["report_value"]
        if iid in want_errors:
            assert row["status"] == "failed" and row["error"].startswith(want_errors[iid]), f"{iid}: {row['error']}"
            assert not os.path.exists(os.path.join(base, "images-jpg", iid + ".jpg"))
            continue
        assert row["status"] == "stored", f"{iid}: {row['error']}"
        stored += 1
        dcm = open(os.path.join(base, "dicom-files", iid + ".dcm"), "rb").read()
        jpg = open(os.path.join(base, "images-jpg", iid + ".jpg"), "rb").read()
        with urllib.request.urlopen(row["file_url"]) as resp:
            original = resp.read()
        assert sha256(dcm) == sha256(original) == row["dicom_sha256"], f"{iid}: DICOM bytes differ from the PACS"
        assert sha256(jpg) == row["jpg_sha256"] and jpg[:2] == b"\xff\xd8", f"{iid}: JPEG hash"
        assert row["downloaded"] == "True" and row["local_file_path"] == f"dicom-files/{iid}.dcm"
        assert int(row["rows"]) > 0 and int(row["columns"]) > 0 and row["transfer_syntax"].startswith("1.2.840")
    # Each JPEG is exactly what `eden convert` makes of the stored DICOM.
    conv = os.path.join(tmp, "conv")
    c = eden("convert", os.path.join(base, "dicom-files"), "-o", conv)
    for row in rows:
        if row["status"] == "stored":
            a = open(os.path.join(conv, row["instance_id"] + ".jpg"), "rb").read()
            assert sha256(a) == row["jpg_sha256"], f"{row['instance_id']}: JPEG differs from eden convert"
    summary = json.load(open(os.path.join(tmp, "s.json")))
    assert summary["instances"]["stored"] == stored and summary["instances"]["failed"] == 4, summary["instances"]
    assert summary["exit_code"] == 1
    readme = open(os.path.join(base, "README-dataset.md"), encoding="utf-8").read()
    assert f"| stored (DICOM + JPEG) | {stored} |" in readme
    leftovers = [f for _, _, fs in os.walk(out) for f in fs if ".eden-tmp-" in f]
    assert not leftovers, leftovers
    # No report text or patient data in what eden prints.
    assert "comma" not in r.stdout + r.stderr and "café" not in r.stdout + r.stderr


def test_rerun_with_nothing_to_do(tmp):
    out = os.path.join(tmp, "rerun")
    first = eden("run", "--studies", "6", "--seed", "alpha", "-o", out, "--progress", "none")
    assert first.returncode in (0, 1), first.stderr
    csv1 = open(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv"), "rb").read()
    # Stored rows must not be touched again; failed rows are retried (their DICOM may be rewritten).
    stored_ids = {r["instance_id"] for r in read_csv(out) if r["status"] == "stored"}
    mtimes = {f: os.path.getmtime(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(out, "eden-dataset-vlms"))
              for f in fs if f.endswith((".dcm", ".jpg")) and f.rsplit(".", 1)[0] in stored_ids}
    assert mtimes, "no stored rows in the sample"
    second = eden("run", "--studies", "6", "--seed", "alpha", "-o", out, "--progress", "none",
                  "--summary-json", os.path.join(tmp, "s2.json"))
    s2 = json.load(open(os.path.join(tmp, "s2.json")))
    assert s2["resumed"] and s2["instances"]["already_stored"] == s2["instances"]["stored"], s2
    assert s2["instances"]["processed"] == s2["instances"]["failed"], "only failed instances are retried"
    csv2 = open(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv"), "rb").read()
    assert csv1 == csv2, "CSV changed on a rerun with nothing to do"
    for d, _, fs in os.walk(os.path.join(out, "eden-dataset-vlms")):
        for f in fs:
            if f in mtimes:
                assert os.path.getmtime(os.path.join(d, f)) == mtimes[f], f"{f} was rewritten"
    assert second.returncode == first.returncode


def test_same_seed_same_sample(tmp):
    def sample(seed, name):
        out = os.path.join(tmp, name)
        r = eden("run", "--studies", "5", "--seed", seed, "-o", out, "--progress", "none")
        assert r.returncode in (0, 1), r.stderr
        return sorted(r["study_id"] for r in read_csv(out))
    a, b, c = sample("s1", "a"), sample("s1", "b"), sample("s2", "c")
    assert a == b, "same seed gave another sample"
    assert len(set(a)) == 5 and a != c, "a different seed should give another sample"


def test_a_sample_is_selected_whole_through_many_page_queries(tmp):
    # 20 studies with 2-row pages: the sample is asked for a few studies at a time, each page by
    # keyset. Every instance of every sampled study must be there once, and nothing else; the
    # same with a query whose study_id is text rather than uuid (the filter takes the id's type).
    base_sql = open(os.path.join(ARGS.repo, "queries/dicom_reports.sql"), encoding="utf-8").read()
    every = psql_csv(f"SELECT study_id::text AS study_id, instance_id::text AS instance_id FROM ({base_sql}) q")
    text_ids = os.path.join(tmp, "text-ids.sql")
    with open(text_ids, "w", encoding="utf-8") as f:
        f.write("SELECT study_id::text AS study_id, series_number, instance_id::text AS instance_id, instance_number, "
                f"file_path, file_url, report_value, field_created_at, modality, body_part FROM ({base_sql}) base")
    samples = []
    for name, extra in (("uuid", []), ("text", ["--query", text_ids])):
        out = os.path.join(tmp, name)
        r = eden("run", "--studies", "20", "--seed", "wide", "--page-size", "2", *extra, "-o", out, "--progress",
                 "plain")
        assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr
        rows = read_csv(out)
        studies = {row["study_id"] for row in rows}
        assert len(studies) == 20, len(studies)
        got = sorted((row["study_id"], row["instance_id"]) for row in rows)
        want = sorted((e["study_id"], e["instance_id"]) for e in every if e["study_id"] in studies)
        assert got == want, f"{name}: {len(got)} rows, {len(set(got))} distinct, {len(want)} expected"
        # Plain progress: a line per 5% at most, not a line per page; the last one counts them.
        pages = [int(m.replace(",", "")) for m in re.findall(r"select .*  ([\d,]+) pages\n", r.stdout)]
        assert pages and pages[-1] >= len(want) // 2, r.stdout[:1500]
        assert len(pages) <= 21, r.stdout[:1500]
        samples.append(got)
    assert samples[0] == samples[1], "the id's type changed the sample"


def test_resume_after_kill_9_and_after_ctrl_c(tmp):
    with slow_pacs_query(tmp) as query:
        out = os.path.join(tmp, "killed")
        args = [ARGS.eden, "run", "--all-studies", "--query", query, "-o", out, "--progress", "none",
                "--download-concurrency", "2", "--threads", "1"]
        env = {**os.environ, **ENV}
        journal = os.path.join(out, ".eden", "journal.sqlite")
        kill_9_once_stored(args, journal)
        with sqlite3.connect(journal) as db:
            done = db.execute("SELECT count(*) FROM instances WHERE state='stored'").fetchone()[0]
            total = db.execute("SELECT count(*) FROM instances").fetchone()[0]
        assert 0 < done < total, f"killed run stored {done} of {total}: not a mid-run kill"
        final = subprocess.run(args, env=env, capture_output=True, text=True)
        assert final.returncode == 1, final.stderr  # The 4 bad rows.
        rows = read_csv(out)
        assert len(rows) == total and len({r["instance_id"] for r in rows}) == total, "rows missing or duplicated"
        base = os.path.join(out, "eden-dataset-vlms/sample-test")
        for row in rows:
            if row["status"] != "stored":
                continue
            assert sha256(open(os.path.join(base, "dicom-files", row["instance_id"] + ".dcm"), "rb").read()) == row["dicom_sha256"]
            assert sha256(open(os.path.join(base, "images-jpg", row["instance_id"] + ".jpg"), "rb").read()) == row["jpg_sha256"]
        assert sum(r["status"] == "stored" for r in rows) == total - 4
        leftovers = [f for _, _, fs in os.walk(out) for f in fs if ".eden-tmp-" in f]
        assert not leftovers, f"half-written files left: {leftovers}"

        # Ctrl-C mid-run: exit 130, a line that says how to go on, and the rerun completes.
        out = os.path.join(tmp, "interrupted")
        args = [a if a != os.path.join(tmp, "killed") else out for a in args]
        code, err = interrupt_once_stored(args, os.path.join(out, ".eden", "journal.sqlite"), sig=signal.SIGINT)
        assert code == 130, (code, err)
        assert "interrupted" in err and "rerun the same command to resume" in err, err
        final = subprocess.run(args, env=env, capture_output=True, text=True)
        assert final.returncode == 1, final.stderr
        rows = read_csv(out)
        assert len(rows) == total and sum(r["status"] == "stored" for r in rows) == total - 4


def test_unsafe_instance_id_is_rejected(tmp):
    query = os.path.join(tmp, "evil.sql")
    open(query, "w").write(
        "SELECT study_id, series_number, CASE WHEN instance_number = 1 THEN '../../escape' ELSE instance_id::text END "
        "AS instance_id, instance_number, file_path, file_url, report_value, field_created_at, modality, body_part "
        f"FROM ({open(os.path.join(ARGS.repo, 'queries/dicom_reports.sql'), encoding='utf-8').read()}) b")
    out = os.path.join(tmp, "evil", "out")
    r = eden("run", "--all-studies", "--query", query, "-o", out, "--progress", "none")
    assert r.returncode == 1, r.stderr
    rows = [x for x in read_csv(out) if x["instance_id"] == "../../escape"]
    assert rows and all(x["status"] == "failed" and x["error"].startswith("invalid_argument") for x in rows), rows
    assert not os.path.exists(os.path.join(tmp, "evil", "escape.dcm")), "a file escaped the output folder"
    escaped = [f for d, _, fs in os.walk(os.path.join(tmp, "evil")) for f in fs if f.startswith("escape")]
    assert not escaped, escaped


def test_file_urls_are_refused_unless_their_folder_is_allowed(tmp):
    """Rows come from a database others write: a file:// URL must not make eden read any file on
    the machine. The demo's truncated DICOM is a file:// URL; /etc/hostname is added by a query."""
    bad = LOADED["bad_rows"]
    query = url_rewriting_query(
        tmp, "files.sql", f"CASE WHEN instance_id::text = '{bad['http-404']}' THEN 'file:///etc/hostname' "
                          "ELSE file_url END")
    out = os.path.join(tmp, "files")
    r = eden("run", "--all-studies", "--query", query, "-o", out, "--progress", "none", env={"EDEN_ALLOW_URLS": ""})
    assert r.returncode == 1, (r.returncode, r.stderr)
    rows = {x["instance_id"]: x for x in read_csv(out)}
    for iid in (bad["truncated"], bad["http-404"]):
        assert rows[iid]["status"] == "failed" and rows[iid]["error"].startswith("forbidden_url"), rows[iid]
    assert not os.path.exists(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-files", bad["http-404"] + ".dcm"))
    # Allowed, the demo's folder is read (its file is truncated); /etc stays refused.
    out2 = os.path.join(tmp, "files-allowed")
    r = eden("run", "--all-studies", "--query", query, "-o", out2, "--progress", "none", "--allow-url",
             ENV["EDEN_ALLOW_URLS"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    rows = {x["instance_id"]: x for x in read_csv(out2)}
    assert rows[bad["truncated"]]["error"].startswith("truncated"), rows[bad["truncated"]]
    assert rows[bad["http-404"]]["error"].startswith("forbidden_url"), rows[bad["http-404"]]
    # A prefix that names no folder is a configuration error.
    r = eden("run", "-o", os.path.join(tmp, "x"), "--allow-url", "file:///no/such/eden/folder/")
    assert r.returncode == 2 and "--allow-url" in r.stderr, (r.returncode, r.stderr)


def test_journal_and_summary_write_failures_are_reported(tmp):
    # A journal that cannot be opened (its path is a folder): exit 3, naming it.
    journal = os.path.join(tmp, "journal-is-a-folder")
    os.makedirs(journal)
    r = eden("run", "--studies", "2", "-o", os.path.join(tmp, "j"), "--journal", journal, "--progress", "none")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "journal" in r.stderr, r.stderr
    # A summary that cannot be written is an error, not a silent success.
    r = eden("run", "--studies", "2", "--seed", "s", "-o", os.path.join(tmp, "s"), "--progress", "none",
             "--summary-json", os.path.join(tmp, "no", "such", "dir", "s.json"))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "cannot write the summary" in r.stderr, r.stderr
    r = eden("run", "--studies", "2", "--seed", "s", "-o", os.path.join(tmp, "s"), "--progress", "none",
             "--summary-json", "-")
    assert r.returncode in (0, 1) and json.loads(r.stdout[r.stdout.index("{\n"):])["instances"]["total"] > 0


def test_selection_filters_and_reruns_with_changed_settings(tmp):
    out = os.path.join(tmp, "sel")
    modalities = {r["modality"] for r in psql_csv("SELECT DISTINCT coalesce(se.modality, st.modality) AS modality FROM pacs_series se JOIN pacs_studies st ON st.id = se.study_id")}
    assert {"CT", "MR"} <= modalities, modalities
    # --modality compares in any case, and takes a list.
    r = eden("run", "--all-studies", "--modality", "ct", "-o", out, "--progress", "none")
    assert r.returncode in (0, 1), r.stderr
    assert {x["modality"] for x in read_csv(out) if x["status"] == "stored"} == {"CT"}
    r = eden("run", "--all-studies", "--modality", "CT, mr", "-o", os.path.join(tmp, "both"), "--progress", "none")
    assert r.returncode in (0, 1), r.stderr
    assert {x["modality"] for x in read_csv(os.path.join(tmp, "both")) if x["status"] == "stored"} == {"CT", "MR"}
    # A filter that matches nothing: exit 4, nothing written.
    r = eden("run", "--all-studies", "--modality", "CTX", "-o", os.path.join(tmp, "none"), "--progress", "none")
    assert r.returncode == 4 and "no studies match" in r.stderr and "--modality CTX" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(tmp, "none", "eden-dataset-vlms"))
    # The same output with other settings: exit 2, each difference listed, nothing changed.
    before = open(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv"), "rb").read()
    r = eden("run", "--all-studies", "--modality", "MR", "-q", "50", "-o", out, "--progress", "none")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--modality: frozen ct, now MR" in r.stderr and "--quality: frozen 100, now 50" in r.stderr, r.stderr
    assert "--fresh" in r.stderr
    after = open(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv"), "rb").read()
    assert before == after
    r = eden("run", "--all-studies", "--modality", "MR", "-q", "50", "-o", out, "--progress", "none", "--fresh")
    assert r.returncode in (0, 1), r.stderr
    assert {x["modality"] for x in read_csv(out) if x["status"] == "stored"} == {"MR"}


def test_verify_checks_the_dataset_and_what_it_does_not_name(tmp):
    out = os.path.join(tmp, "v")
    r = eden("run", "--studies", "3", "--seed", "v", "-o", out, "--progress", "none")
    assert r.returncode in (0, 1), r.stderr
    dataset = os.path.join(out, "eden-dataset-vlms/sample-test")
    for where in (out, dataset):  # The output folder, or the dataset folder itself.
        v = eden("verify", where)
        assert v.returncode == 0 and " 0 problems" in v.stdout, (where, v.returncode, v.stdout, v.stderr)
    # An object the CSV does not name (an older sample's) is a problem.
    stray = os.path.join(dataset, "images-jpg", "not-in-this-sample.jpg")
    shutil.copy(next(os.path.join(dataset, "images-jpg", f) for f in os.listdir(os.path.join(dataset, "images-jpg"))),
                stray)
    v = eden("verify", out)
    assert v.returncode == 1 and "not in the CSV" in v.stdout and "not-in-this-sample.jpg" in v.stdout, v.stdout
    # Nothing to verify: exit 2; verify's help lists its own options only.
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    v = eden("verify", empty)
    assert v.returncode == 2, (v.returncode, v.stdout, v.stderr)
    h = eden("verify", "--help")
    assert h.returncode == 0 and "--csv-name" in h.stdout and "--fresh" not in h.stdout and "--journal" not in h.stdout


def test_fresh_leaves_only_the_new_samples_objects(tmp):
    out = os.path.join(tmp, "fresh")
    base = os.path.join(out, "eden-dataset-vlms/sample-test")
    r = eden("run", "--studies", "8", "--seed", "old", "-o", out, "--progress", "none")
    assert r.returncode in (0, 1), r.stderr
    old = {f for f in os.listdir(os.path.join(base, "dicom-files"))}
    r = eden("run", "--studies", "2", "--seed", "new", "-o", out, "--progress", "none", "--fresh",
             "--summary-json", os.path.join(tmp, "s.json"))
    assert r.returncode in (0, 1), r.stderr
    rows = read_csv(out)
    named = {x["instance_id"] + ".dcm" for x in rows if x["downloaded"] == "True"}
    assert set(os.listdir(os.path.join(base, "dicom-files"))) == named, "objects of the old sample left behind"
    assert {f for f in os.listdir(os.path.join(base, "images-jpg"))} == \
        {x["instance_id"] + ".jpg" for x in rows if x["status"] == "stored"}
    assert json.load(open(os.path.join(tmp, "s.json")))["instances"]["pruned"] > 0 and len(old) > len(named)
    assert eden("verify", out).returncode == 0
    # --keep-old moves them aside instead.
    r = eden("run", "--studies", "3", "--seed", "third", "-o", out, "--progress", "none", "--fresh", "--keep-old")
    assert r.returncode in (0, 1), r.stderr
    moved = [f for _, _, fs in os.walk(os.path.join(base, "old-samples")) for f in fs]
    assert moved and "moved to" in r.stdout, r.stdout


def test_database_down_exits_3(tmp):
    r = eden("run", "-o", os.path.join(tmp, "down"), env={"SOURCE_DATABASE_PORT": "1"})
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "cannot connect to the PACS database" in r.stderr
    assert ENV["SOURCE_DATABASE_PASS"] not in r.stdout + r.stderr, "password printed"


def test_dicom_server_down_exits_3_then_resumes(tmp):
    """Every file URL points at a port nobody listens on: the run stops after a streak of
    refused connections (not after trying every row), exits 3 and says why; once a server
    answers there (a proxy to Orthanc), the same command resumes and completes the dataset."""
    port = str(ARGS.proxy_port + 2)
    query = url_rewriting_query(
        tmp, "down.sql", f"replace(file_url, '{ENV['EDEN_ORTHANC_URL']}', 'http://127.0.0.1:{port}')")
    out = os.path.join(tmp, "server-down")
    args = ["run", "--all-studies", "--query", query, "-o", out, "--progress", "none", "--retries", "0",
            "--download-concurrency", "2"]
    r = eden(*args)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert "could not reach their DICOM server" in r.stderr and "Couldn't connect" in r.stderr, r.stderr
    with sqlite3.connect(os.path.join(out, ".eden", "journal.sqlite")) as db:
        states = dict(db.execute("SELECT state, count(*) FROM instances GROUP BY state").fetchall())
        total = db.execute("SELECT count(*) FROM instances").fetchone()[0]
    assert states.get("failed", 0) >= 32 and states.get("pending", 0) > 0, states  # Stopped early.
    assert states.get("stored", 0) == 0, states
    assert not os.path.exists(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv"))

    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"), port,
                              ENV["EDEN_ORTHANC_URL"], "0"])
    try:
        harness.wait_listening(int(port), proxy)
        r = eden(*args)
        assert r.returncode == 1, (r.returncode, r.stderr)  # The demo's 4 bad rows.
        rows = read_csv(out)
        assert len(rows) == total and len({x["instance_id"] for x in rows}) == total, "rows missing or duplicated"
        assert sum(x["status"] == "stored" for x in rows) == total - 4
    finally:
        proxy.kill()
        proxy.wait()


def test_bad_configuration_exits_2_listing_every_problem(tmp):
    r = eden("run", "-o", os.path.join(tmp, "cfg"), "--studies", "0", "--quality", "101", "--page-size", "0")
    assert r.returncode == 2, r.returncode
    for needle in ("--studies", "--quality", "--page-size"):
        assert needle in r.stderr, r.stderr
    # Mistyped commands and flags get the closest name; --log-level takes any case.
    r = eden("rn", "--studies", "1")
    assert r.returncode == 2 and "did you mean run?" in r.stderr, (r.returncode, r.stderr)
    r = eden("run", "--studis", "1", "-o", os.path.join(tmp, "cfg"))
    assert r.returncode == 2 and "did you mean --studies?" in r.stderr, (r.returncode, r.stderr)
    r = eden("config", "show", env={"LOGGING_LEVEL": "debug"})
    assert r.returncode == 0 and 'log-level = "DEBUG"' in r.stdout, (r.returncode, r.stdout, r.stderr)


def test_worker_waits_for_a_broker_that_is_not_up_yet(tmp):
    r = eden("worker", "--broker", "redis://127.0.0.1:1/0", "--broker-connect-retries", "2")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "retrying in 1 s (1 of 2)" in r.stderr and "retrying in 2 s (2 of 2)" in r.stderr, r.stderr


def test_seed_env_names_from_dotenv(tmp):
    work = os.path.join(tmp, "dotenv")
    os.makedirs(work)
    with open(os.path.join(work, ".env"), "w") as f:
        for k in ("SOURCE_DATABASE_HOST", "SOURCE_DATABASE_PORT", "SOURCE_DATABASE_NAME", "SOURCE_DATABASE_USER",
                  "SOURCE_DATABASE_PASS"):
            f.write(f"{k}={ENV[k]}\n")
        f.write("LOGGING_LEVEL=INFO\n")
        # De-identification is on by default: its key file comes from the .env too.
        f.write(f"EDEN_DEID_KEY_FILE={deid_key(tmp)}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_DATABASE_", "EDEN_DEID"))}
    r = subprocess.run([ARGS.eden, "run", "--studies", "2", "-o", "out", "--progress", "none"], cwd=work, env=env,
                       capture_output=True, text=True)
    with open(os.path.join(work, ".env")) as f:
        dotenv = f.read()
    assert r.returncode in (0, 1), (r.stdout, r.stderr, dotenv, sorted(k for k in env if k.startswith("EDEN")))
    assert len(read_csv(os.path.join(work, "out"))) > 0
    shown = subprocess.run([ARGS.eden, "config", "show"], cwd=work, env=env, capture_output=True, text=True).stdout
    assert ENV["SOURCE_DATABASE_PASS"] not in shown and "# db-password = (set; not shown)" in shown, shown


def test_https_certificates_are_verified(tmp):
    port = str(ARGS.proxy_port + 1)
    served = os.path.join(tmp, "www")
    os.makedirs(served)
    shutil.copy("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", os.path.join(served, "ct.dcm"))
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert])
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/https_server.py"), port,
                               served, cert, key])
    try:
        harness.wait_listening(int(port), server)
        query = url_rewriting_query(tmp, "https.sql", f"'https://127.0.0.1:{port}/ct.dcm'")
        untrusted = os.path.join(tmp, "untrusted")
        r = eden("run", "--studies", "1", "--query", query, "-o", untrusted, "--progress", "none", "--retries", "0")
        assert r.returncode == 1, (r.returncode, r.stderr)
        rows = read_csv(untrusted)
        assert rows and all(x["status"] == "failed" and "certificate" in x["error"].lower() for x in rows), rows[0]["error"]
        trusted = os.path.join(tmp, "trusted")
        r = eden("run", "--studies", "1", "--query", query, "-o", trusted, "--progress", "none", "--ca-file", cert)
        assert r.returncode == 0, r.stdout + r.stderr
        assert all(x["status"] == "stored" for x in read_csv(trusted))
    finally:
        server.kill()
        server.wait()


def test_convert_writes_inside_the_output_folder_for_symlinked_inputs(tmp):
    real, linked, out = (os.path.join(tmp, d) for d in ("real", "linked", "out"))
    os.makedirs(real)
    os.makedirs(os.path.join(linked, "sub"))
    shutil.copy("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", os.path.join(real, "ct.dcm"))
    os.symlink(os.path.join(real, "ct.dcm"), os.path.join(linked, "ct.dcm"))
    os.symlink(os.path.join(real, "ct.dcm"), os.path.join(linked, "sub", "ct2.dcm"))
    r = eden("convert", linked, "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(os.listdir(real)) == ["ct.dcm"], os.listdir(real)
    for jpg in ("ct.jpg", "sub/ct2.jpg"):
        with open(os.path.join(out, jpg), "rb") as f:
            assert f.read(2) == b"\xff\xd8", jpg


# ---- runner ------------------------------------------------------------------------------------

# --- de-identification (docs/deid.md) -----------------------------------------------------------

def identifiers_of(ds):
    """The identifying values of one data set, read with pydicom: person names, patient and
    study ids, accession number, institution, dates, and every UID that is not the standard's own
    (at least 6 characters, so that a value like 'M' is not counted as a leak)."""
    import pydicom
    found = set()

    def visit(dataset):
        for elem in dataset:
            if elem.VR == "SQ":
                for item in elem.value:
                    visit(item)
                continue
            wanted = elem.VR in ("PN", "UI", "DA", "DT") or elem.tag in (
                (0x0010, 0x0020), (0x0008, 0x0050), (0x0008, 0x0080), (0x0008, 0x0081), (0x0020, 0x0010))
            if not wanted or elem.value in (None, ""):
                continue
            values = elem.value if isinstance(elem.value, pydicom.multival.MultiValue) else [elem.value]
            for v in values:
                text = str(v).strip()
                if elem.VR == "UI" and text.startswith("1.2.840.10008."):
                    continue  # The standard's own UIDs (SOP classes, transfer syntaxes).
                if len(text) >= 6:
                    found.add(text)
    visit(ds)
    return found


def sources_by_instance():
    """instance_id -> the pydicom data set Orthanc serves for it (rows with an http URL); the
    bytes are in its `raw` attribute."""
    import pydicom
    out = {}
    for row in psql_csv("SELECT i.id::text AS instance_id, i.file_url FROM pacs_instances i "
                        "WHERE NOT i.deleted AND i.file_url LIKE 'http%'"):
        try:
            data = urllib.request.urlopen(row["file_url"], timeout=30).read()
            out[row["instance_id"]] = pydicom.dcmread(io.BytesIO(data), force=True)
            out[row["instance_id"]].raw = data
        except Exception:
            continue
    return out


def iod_errors(path):
    """Error lines of dicom3tools' dciodvfy (the IOD checker) for a file."""
    r = subprocess.run(["dciodvfy", path], capture_output=True, text=True)
    return [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("Error")]


def keyed_uid(key_hex, uid):
    """docs/deid.md's UID scheme, computed independently: 2.25.<first 128 bits of
    HMAC-SHA256(key, "uid:" + uid)>."""
    import hmac
    mac = hmac.new(bytes.fromhex(key_hex), ("uid:" + uid).encode(), "sha256").digest()
    return "2.25." + str(int.from_bytes(mac[:16], "big"))


def deid_key(tmp):
    path = os.path.join(tmp, "deid.key")
    if not os.path.exists(path):
        r = eden("deid", "keygen", "--out", path)
        assert r.returncode == 0, r.stderr
    return path


def test_deid_without_a_key_stops_with_exit_2_and_says_how_to_make_one(tmp):
    r = eden("run", "--all-studies", "-o", os.path.join(tmp, "out"), env={"EDEN_DEID": "basic"})
    assert r.returncode == 2, f"exit {r.returncode}: {r.stderr}"
    assert "eden deid keygen" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(tmp, "out", "eden-dataset-vlms")), "something was written"


def test_deid_run_leaks_no_identifier_of_the_sources_in_any_byte(tmp):
    key = deid_key(tmp)
    out = os.path.join(tmp, "deid")
    r = eden("run", "--all-studies", "-o", out, "--progress", "none", "--deid-key-file", key,
             "--summary-json", os.path.join(tmp, "s.json"), "--package", "webdataset,llava", env={"EDEN_DEID": "basic"})
    assert r.returncode in (0, 1), f"exit {r.returncode}: {r.stderr}"
    check_dataset_packages(out)
    key_text = open(key).read().strip()
    assert key_text not in r.stdout + r.stderr, "the key was printed"
    sources = sources_by_instance()
    per_instance = {iid: identifiers_of(ds) for iid, ds in sources.items()}
    everything = set().union(*per_instance.values())
    assert len(everything) > 50, f"only {len(everything)} identifiers read from the sources"
    base = os.path.join(out, "eden-dataset-vlms/sample-test")
    leaks = []
    files = 0
    for root, _, names in os.walk(base):
        for name in names:
            data = open(os.path.join(root, name), "rb").read()
            files += 1
            assert key_text.encode() not in data, f"the key is in {name}"
            assert b"PAT-0" not in data, f"the PACS's patient_id is in {name}"
            # A DICOM or JPEG file against its own source (another file's Manufacturer may equal
            # this one's institution name); the CSV and the README against every source.
            iid = os.path.splitext(name)[0]
            kept = str(sources[iid].get("Manufacturer", "")) if iid in sources else ""
            for ident in per_instance.get(iid, everything):
                if ident.encode() in data and ident not in kept:  # Manufacturer is not identity.
                    leaks.append((name, ident))
    assert files > 40, f"only {files} files written"
    assert not leaks, f"{len(leaks)} leaks, e.g. {leaks[:5]}"
    rows = read_csv(out)
    stored = [row for row in rows if row["status"] == "stored"]
    excluded = [row for row in rows if row["status"] == "excluded"]
    assert stored, "nothing stored"
    assert excluded, "no image was excluded for possible burned-in text (the corpus has secondary captures)"
    assert all(not row["file_url"] and not row["file_path"] for row in rows), "file_url / file_path written"
    assert all(row["patient"].startswith("EDEN-") for row in stored), "a stored row has no pseudonym"
    assert all(row["error"].startswith("excluded") for row in excluded)
    for row in excluded:
        assert not os.path.exists(os.path.join(base, "dicom-files", row["instance_id"] + ".dcm"))
    readme = open(os.path.join(base, "README-dataset.md"), encoding="utf-8").read()
    assert "PS3.15" in readme and "sha256:" in readme, readme[:400]
    summary = json.load(open(os.path.join(tmp, "s.json")))
    assert summary["excluded"] == len(excluded), summary


def test_deid_same_key_same_files_and_references_hold_across_runs(tmp):
    import pydicom
    key = deid_key(tmp)
    key_hex = open(key).read().strip()
    sources = sources_by_instance()
    checked = validated = 0
    outs = []
    for name in ("one", "two"):
        out = os.path.join(tmp, name)
        r = eden("run", "--all-studies", "-o", out, "--progress", "none", "--deid-key-file", key,
                 env={"EDEN_DEID": "basic"})
        assert r.returncode in (0, 1), r.stderr
        outs.append(os.path.join(out, "eden-dataset-vlms/sample-test/dicom-files"))
    names = sorted(os.listdir(outs[0]))
    assert names == sorted(os.listdir(outs[1])) and len(names) > 10
    studies = {}
    for name in names:
        a = open(os.path.join(outs[0], name), "rb").read()
        b = open(os.path.join(outs[1], name), "rb").read()
        assert sha256(a) == sha256(b), f"{name}: two runs with one key wrote different files"
        ds = pydicom.dcmread(io.BytesIO(a))
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.SOPInstanceUID.startswith("2.25.") and ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        src = sources[os.path.splitext(name)[0]]
        # Every UID is the keyed map of the source's, so references between files still hold.
        for attr in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
            if attr in src and str(src.get(attr) or ""):
                assert getattr(ds, attr) == keyed_uid(key_hex, str(src.get(attr))), \
                    f"{name}: {attr} {src.get(attr)!r} -> {getattr(ds, attr)!r}, {src.get('SOPClassUID')}"
                checked += 1
        studies.setdefault(ds.StudyInstanceUID, set()).add(name)
        # Still a valid object: dciodvfy finds no error the source did not have.
        src_path = os.path.join(tmp, "source.dcm")
        open(src_path, "wb").write(src.raw)
        before, after = iod_errors(src_path), iod_errors(os.path.join(outs[0], name))
        assert len(after) <= len(before), f"{name}: dciodvfy {len(before)} -> {len(after)} errors: {after[:5]}"
        validated += 1
    assert checked > 30, checked
    assert validated > 20, validated
    assert len(studies) > 3
    # The JPEGs are the same bytes as a run without de-identification makes: pixels untouched.
    plain = os.path.join(tmp, "plain")
    r = eden("run", "--all-studies", "-o", plain, "--progress", "none")  # The harness's EDEN_DEID=off.
    assert r.returncode in (0, 1), r.stderr
    jpgs = sorted(os.listdir(os.path.join(outs[0], "../images-jpg")))
    assert len(jpgs) > 10
    for name in jpgs:
        a = open(os.path.join(outs[0], "../images-jpg", name), "rb").read()
        b = open(os.path.join(plain, "eden-dataset-vlms/sample-test/images-jpg", name), "rb").read()
        assert a == b, f"{name}: the JPEG differs with de-identification"
    # Another key: other UIDs.
    other = os.path.join(tmp, "other.key")
    assert eden("deid", "keygen", "--out", other).returncode == 0
    out3 = os.path.join(tmp, "three")
    r = eden("run", "--all-studies", "-o", out3, "--progress", "none", "--deid-key-file", other,
             env={"EDEN_DEID": "basic"})
    assert r.returncode in (0, 1), r.stderr
    a = pydicom.dcmread(os.path.join(outs[0], names[0]))
    c = pydicom.dcmread(os.path.join(out3, "eden-dataset-vlms/sample-test/dicom-files", names[0]))
    assert a.SOPInstanceUID != c.SOPInstanceUID


def check_shifted_dates(dataset, manifest, key_hex):
    """Each de-identified file's Study Date is its source's moved by docs/deid.md's offset,
    computed here independently: -(1 + first 64 bits of HMAC-SHA256(key, "days:" + issuer|id) mod 3652)."""
    import datetime
    import hmac
    import pydicom
    for f in manifest["files"]:
        src = pydicom.dcmread(f["file"])
        patient = f"{src.get('IssuerOfPatientID', '')}|{src.PatientID}"
        mac = hmac.new(bytes.fromhex(key_hex), ("days:" + patient).encode(), "sha256").digest()
        offset = -(1 + int.from_bytes(mac[:8], "big") % 3652)
        want = (datetime.datetime.strptime(src.StudyDate, "%Y%m%d") + datetime.timedelta(days=offset)).strftime("%Y%m%d")
        out = pydicom.dcmread(os.path.join(dataset, "dicom-files", os.path.basename(f["file"])))
        assert out.StudyDate == want, (f["file"], out.StudyDate, want)
        assert out.LongitudinalTemporalInformationModified == "MODIFIED"


def test_deid_marked_files_leak_no_marker_through_eden_run(tmp):
    """Real files of pydicom's corpus with every attribute of Table E.1-1 (and nested sequences,
    private elements, an overlay, a curve) set to a unique marker, reports naming them, served by
    Orthanc and selected from PostgreSQL: no marker in any byte eden writes, with the basic
    profile and with modified dates. GDCM's gdcmanon on the same files is counted for docs/deid.md."""
    sys.path.insert(0, os.path.join(ARGS.repo, "tests/deid"))
    import leaks as leak_check
    marked = os.path.join(tmp, "marked")
    made = sh(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/deid/make_marked.py"), marked])
    manifest = json.load(open(os.path.join(marked, "manifest.json")))
    markers = list(manifest["markers"])
    values = []
    for n, f in enumerate(manifest["files"]):
        data = open(f["file"], "rb").read()
        req = urllib.request.Request(f"{ENV['EDEN_ORTHANC_URL']}/instances", data=data, method="POST",
                                     headers={"Content-Type": "application/dicom"})
        with urllib.request.urlopen(req) as r:
            oid = json.load(r)["ID"]
        path_marker = f"MKPATH{n:03d}"
        markers.append(path_marker)
        report = f["report"].replace("$", "")
        values.append(f"('{f['study']}', 1, 'marked-{n:02d}', 1, '/pacs/{path_marker}/x.dcm', "
                      f"'{ENV['EDEN_ORTHANC_URL']}/instances/{oid}/file', $r${report}$r$, "
                      f"'1934-11-07 10:00:00', 'CT', 'CHEST')")
    query = os.path.join(tmp, "marked.sql")
    with open(query, "w") as q:
        q.write("SELECT * FROM (VALUES " + ", ".join(values) + ") AS t(study_id, series_number, instance_id, "
                "instance_number, file_path, file_url, report_value, field_created_at, modality, body_part)")
    key = deid_key(tmp)
    counts = {}
    for label, extra in (("basic", []), ("modified dates", ["--deid-option", "retain-modified-dates"])):
        out = os.path.join(tmp, "out-" + label.replace(" ", "-"))
        r = eden("run", "--all-studies", "--query", query, "-o", out, "--progress", "plain", "--deid-key-file", key,
                 "--burned-in", "keep", "--log-level", "DEBUG", "--summary-json", os.path.join(tmp, "s.json"), *extra,
                 env={"EDEN_DEID": "basic"})
        assert r.returncode == 0, f"{label}: exit {r.returncode}: {r.stdout[-800:]} {r.stderr}"
        # Logs at every level carry no PHI: nothing of the sources in what the run printed.
        printed = (r.stdout + r.stderr + open(os.path.join(tmp, "s.json")).read()).lower()
        said = [m for m in leak_check.needles(markers) if m.lower() in printed]
        assert not said, f"{label}: the run printed {said[:5]}"
        rows = read_csv(out)
        assert len(rows) == len(manifest["files"]) and all(row["status"] == "stored" for row in rows), rows
        for row in rows:  # DCMTK and GDCM both read every file eden wrote.
            path = os.path.join(out, "eden-dataset-vlms/sample-test/dicom-files", row["instance_id"] + ".dcm")
            assert subprocess.run(["dcmdump", "-q", path], capture_output=True).returncode == 0, path
            assert subprocess.run(["gdcminfo", path], capture_output=True).returncode == 0, path
        assert all(int(row["deid_report_replacements"]) >= 10 for row in rows), [r["deid_report_replacements"] for r in rows]
        # The dataset: every object eden writes there. (The journal under <output>/.eden/ is the
        # run's hospital-side state and holds the source rows; it is not part of the dataset.)
        dataset = os.path.join(out, "eden-dataset-vlms/sample-test")
        if extra:
            # Shifted dates may land on another marker's date (they are 37 days apart): look for
            # the other markers, and check each file's dates moved by its patient's keyed offset.
            found = leak_check.leaks(dataset, [m for m in markers if not m.isdigit()])
            check_shifted_dates(dataset, manifest, open(key).read().strip())
        else:
            found = leak_check.leaks(dataset, markers)
        counts[label] = len(found)
        assert not found, f"{label}: {len(found)} markers leaked, e.g. {found[:8]}"
    # eden deid check agrees: nothing in the de-identified dataset, much in one made with --deid off.
    listed = os.path.join(tmp, "identifiers.txt")
    with open(listed, "w") as f:
        f.write("\n".join(m for m in markers if m.startswith("MK")) + "\n")
    clean = os.path.join(tmp, "out-basic", "eden-dataset-vlms/sample-test")
    r = eden("deid", "check", clean, "--identifiers", listed)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr
    assert "0 findings" in r.stdout, r.stdout[-500:]
    raw = os.path.join(tmp, "out-off")
    r = eden("run", "--all-studies", "--query", query, "-o", raw, "--progress", "none", env={"EDEN_DEID": "off"})
    assert r.returncode == 0, r.stderr
    r = eden("deid", "check", os.path.join(raw, "eden-dataset-vlms/sample-test"), "--identifiers", listed)
    assert r.returncode == 1, r.stdout[-800:] + r.stderr
    assert "Patient Identity Removed is not YES" in r.stdout and "identifier on line" in r.stdout
    assert not any(m in r.stdout for m in markers if m.startswith("MK")), "the check printed an identifier"
    gdcm = os.path.join(tmp, "gdcmanon")
    os.makedirs(gdcm)
    cert, pkey = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=eden-test",
        "-keyout", pkey, "-out", cert])
    for f in manifest["files"]:
        sh(["gdcmanon", "-e", "-c", cert, "-i", f["file"], "-o", os.path.join(gdcm, os.path.basename(f["file"]))])
    gdcm_found = leak_check.leaks(gdcm, manifest["markers"])
    print(f"  markers: {len(markers)}; leaked by eden run (basic / modified dates): {counts['basic']} / "
          f"{counts['modified dates']}; by gdcmanon -e on the DICOM files alone: {len(gdcm_found)}")


# ---- dataset packages (issue 14): read back with independent code ------------------------------

def test_dataset_packages_read_back_splits_by_patient_and_sections(tmp):
    out = os.path.join(tmp, "pkg")
    r = eden("run", "--all-studies", "-o", out, "--progress", "none", "--package", "webdataset,llava",
             "--shard-samples", "7", "--summary-json", os.path.join(tmp, "s.json"))
    assert r.returncode == 1, f"exit {r.returncode}: {r.stderr}"
    splits = check_dataset_packages(out, shard_samples=7)
    # Splits by patient: the PACS's patient_id groups studies; no patient in two splits.
    patients = {p["id"]: p["patient_id"] for p in psql_csv("SELECT id::text, patient_id FROM pacs_studies")}
    rows = {r["instance_id"]: r for r in read_csv(out)}
    by_patient = {}
    for inst, split in splits.items():
        by_patient.setdefault(patients[rows[inst]["study_id"]], set()).add(split)
    assert all(len(s) == 1 for s in by_patient.values()), by_patient
    assert len(by_patient) >= 8 and len(set(splits.values())) >= 2, by_patient
    # Sections of the hand-written reports (the loader knows which text it put under which label).
    checked = 0
    for inst, row in rows.items():
        expected = LOADED["sections"].get(row["study_id"])
        if not expected or row["status"] != "stored":
            continue
        for k in ("indication", "findings", "impression", "caption"):
            assert row[k] == expected.get(k, ""), (k, row[k], expected, row["report_value"])
        checked += 1
    assert checked > 20, checked
    # The dataset card: YAML front matter with the splits and their counts.
    card = open(os.path.join(out, "eden-dataset-vlms/sample-test/README-dataset.md"), encoding="utf-8").read()
    assert card.startswith("---\n") and "\nconfigs:\n" in card and "config_name: webdataset" in card, card[:400]
    for split in ("train", "validation", "test"):
        n = sum(1 for s in splits.values() if s == split)
        assert f"  - name: {split}\n    num_examples: {n}\n" in card, (split, n)
    # An unchanged rerun writes no shard; other limits rewrite them and remove the old ones.
    r = eden("run", "--all-studies", "-o", out, "--progress", "none", "--package", "webdataset,llava",
             "--shard-samples", "7", "--summary-json", os.path.join(tmp, "s2.json"))
    summary = json.load(open(os.path.join(tmp, "s2.json")))
    assert summary["packages"]["shards_written"] == 0 and summary["packages"]["shards"] > 0, summary["packages"]
    r = eden("run", "--all-studies", "-o", out, "--progress", "none", "--package", "webdataset",
             "--shard-size", "120KB", "--summary-json", os.path.join(tmp, "s3.json"))
    assert r.returncode == 1, r.stderr
    check_dataset_packages(out, shard_bytes=120000)
    # A query without patient_id (optional in the row contract) still runs, splitting by the files' patients.
    query = url_rewriting_query(tmp, "nopatient.sql", "file_url")
    out2 = os.path.join(tmp, "nopatient")
    r = eden("run", "--all-studies", "--query", query, "-o", out2, "--progress", "none")
    assert r.returncode == 1, r.stderr
    check_dataset_packages(out2)
    # --render mimic is recorded in metadata and the card; the frozen display sample refuses it.
    r = eden("run", "--all-studies", "--query", query, "-o", out2, "--progress", "none", "--render", "mimic")
    assert r.returncode == 2 and "--render: frozen display, now mimic" in r.stderr, (r.returncode, r.stderr)
    out3 = os.path.join(tmp, "mimic")
    r = eden("run", "--studies", "4", "-o", out3, "--progress", "none", "--render", "mimic")
    assert r.returncode in (0, 1), r.stderr
    check_dataset_packages(out3)
    meta = read_jsonl(os.path.join(out3, "eden-dataset-vlms/sample-test/metadata.jsonl"))
    assert meta and all(m["render"] == "mimic" for m in meta), meta[:1]
    mono = {x["instance_id"] for x in read_csv(out3) if x["photometric_interpretation"].startswith("MONOCHROME")}
    assert mono and all(m["window"].startswith("mimic") for m in meta if m["instance_id"] in mono), meta
    card = open(os.path.join(out3, "eden-dataset-vlms/sample-test/README-dataset.md"), encoding="utf-8").read()
    assert "`--render mimic`" in card


def test_dataset_shards_after_kill_9_equal_an_uninterrupted_runs(tmp):
    with slow_pacs_query(tmp) as query:
        common = ["run", "--all-studies", "--query", query, "--progress", "none", "--package", "webdataset",
                  "--shard-samples", "5", "--download-concurrency", "2", "--threads", "1"]
        killed = os.path.join(tmp, "killed")
        kill_9_once_stored([ARGS.eden, *common, "-o", killed], os.path.join(killed, ".eden", "journal.sqlite"), 3)
        r = eden(*common, "-o", killed)
        assert r.returncode == 1, r.stderr
        clean = os.path.join(tmp, "clean")
        r = eden(*common, "-o", clean)
        assert r.returncode == 1, r.stderr
        check_dataset_packages(killed, shard_samples=5)
        a = json.load(open(os.path.join(killed, "eden-dataset-vlms/sample-test/shards/index.json")))
        b = json.load(open(os.path.join(clean, "eden-dataset-vlms/sample-test/shards/index.json")))
        assert [(s["name"], s["sha256"]) for s in a["shards"]] == [(s["name"], s["sha256"]) for s in b["shards"]]


def mimic_reference(ds):
    """The MIMIC-CXR-JPG recipe written from its description with numpy: stored values (pydicom's
    pixel_array, masked to Bits Stored), min-max to 8 bits, MONOCHROME1 inverted, global histogram
    equalisation as OpenCV's equalizeHist does it."""
    import numpy as np
    a = ds.pixel_array.astype(np.int64)
    if a.ndim == 3:
        a = a[0]
    lo, hi = a.min(), a.max()
    b = np.floor((a - lo) * (255.0 / (hi - lo)) + 0.5).clip(0, 255).astype(np.uint8)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        b = 255 - b
    hist = np.bincount(b.ravel(), minlength=256)
    first = hist[hist > 0][0]
    lut = np.floor(np.maximum(hist.cumsum() - first, 0) * 255.0 / (b.size - first) + 0.5).clip(0, 255)
    return lut.astype(np.uint8)[b]


def test_render_mimic_matches_the_recipe_computed_independently(tmp):
    import numpy as np
    import pydicom
    from PIL import Image
    corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
    files = [os.path.join(corpus, f) for f in ("CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm")]
    # A MONOCHROME1 file (the corpus has none): MR_small relabelled.
    ds = pydicom.dcmread(os.path.join(corpus, "MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = os.path.join(tmp, "mono1.dcm")
    ds.save_as(mono1)
    files.append(mono1)
    out = os.path.join(tmp, "mimic")
    r = eden("convert", "--render", "mimic", *files, "-o", out)
    assert r.returncode == 0, r.stderr
    for path in files:
        ds = pydicom.dcmread(path)
        want = mimic_reference(ds).astype(np.float64)
        got = np.asarray(Image.open(os.path.join(out, os.path.basename(path)[:-4] + ".jpg"))).astype(np.float64)
        assert got.shape == want.shape, (path, got.shape, want.shape)
        mse = ((got - want) ** 2).mean()
        psnr = 10 * np.log10(255 ** 2 / mse) if mse else 99
        assert psnr >= 35, (path, psnr)  # JPEG quality 95 against the exact values.
    # The default (display) rendering is another image.
    r = eden("convert", files[0], "-o", os.path.join(tmp, "display"))
    a = np.asarray(Image.open(os.path.join(tmp, "display", "CT_small.jpg"))).astype(np.float64)
    b = np.asarray(Image.open(os.path.join(out, "CT_small.jpg"))).astype(np.float64)
    assert np.abs(a - b).mean() > 5, "--render mimic looks like the display rendering"


def relabel_transfer_syntax(src, dst, uid):
    """`src` with another Transfer Syntax UID in its meta header, patched byte by byte (pydicom
    does not know the 2023+ UIDs), fragments kept."""
    import struct
    data = bytearray(open(src, "rb").read())
    new = uid.encode() + (b"\0" if len(uid) % 2 else b"")
    at = data.index(b"\x02\x00\x10\x00UI")  # (0002,0010) Transfer Syntax UID, explicit VR
    length = struct.unpack_from("<H", data, at + 6)[0]
    assert data[at + 8:at + 8 + length].startswith(b"1.2.840.10008.1.2.4.9"), data[at + 8:at + 8 + length]  # J2K
    data[at + 6:at + 8 + length] = struct.pack("<H", len(new)) + new
    assert data[132:140] == b"\x02\x00\x00\x00UL\x04\x00"  # (0002,0000) group length
    struct.pack_into("<I", data, 140, struct.unpack_from("<I", data, 140)[0] + len(new) - length)
    open(dst, "wb").write(data)


def test_a_transfer_syntax_eden_does_not_know_is_unsupported_with_its_uid(tmp):
    # JPEG XL (2024): the corpus's JPEG 2000 file relabelled.
    path = os.path.join(tmp, "jpegxl.dcm")
    relabel_transfer_syntax("/usr/lib/python3/dist-packages/pydicom/data/test_files/JPEG2000.dcm", path,
                            "1.2.840.10008.1.2.4.110")
    r = eden("convert", path, "-o", os.path.join(tmp, "out"), "--json")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    result = json.loads(r.stdout.splitlines()[0])
    assert result["error"]["code"] == "unsupported", result
    assert "1.2.840.10008.1.2.4.110" in result["error"]["message"] and "JPEG XL" in result["error"]["message"], result


def test_htj2k_from_openjph_decodes_to_the_same_pixels_and_at_reduced_resolution(tmp):
    # High-Throughput JPEG 2000 (2023): the corpus's CT enlarged to 2600 x 2200 (12 bits),
    # compressed losslessly by OpenJPH's ojph_compress (Debian openjph-tools), wrapped in DICOM
    # as 1.2.840.10008.1.2.4.201. eden's output equals that of the same pixels uncompressed; with
    # --max-size it decodes fewer resolution levels (within 38 dB of full decode + resize).
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID, ExplicitVRLittleEndian
    ds = pydicom.dcmread("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm")
    a = ds.pixel_array.astype(np.float64)
    big = np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((2200, 2600), Image.BICUBIC))
    big = np.clip(np.round(big), 0, 4095).astype(np.uint16)
    pgm, j2c = os.path.join(tmp, "in.pgm"), os.path.join(tmp, "out.j2c")
    with open(pgm, "wb") as f:
        f.write(f"P5\n{big.shape[1]} {big.shape[0]}\n4095\n".encode() + big.astype(">u2").tobytes())
    sh(["ojph_compress", "-i", pgm, "-o", j2c, "-reversible", "true"])
    ds.Rows, ds.Columns = big.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = big.tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plain = os.path.join(tmp, "plain.dcm")
    ds.save_as(plain, write_like_original=False)
    ds.PixelData = encapsulate([open(j2c, "rb").read()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.90")
    labelled = os.path.join(tmp, "labelled.dcm")
    ds.save_as(labelled, write_like_original=False)
    htj2k = os.path.join(tmp, "htj2k.dcm")
    relabel_transfer_syntax(labelled, htj2k, "1.2.840.10008.1.2.4.201")

    def converted(path, out, *extra):
        r = eden("convert", path, "-o", os.path.join(tmp, out), *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        name = os.path.basename(path)[:-4] + ".jpg"
        return np.asarray(Image.open(os.path.join(tmp, out, name))).astype(np.float64)

    assert np.array_equal(converted(htj2k, "full"), converted(plain, "plain")), "HTJ2K decoded to other pixels"
    # Without its helper process (an install that copied `eden` alone): a warning, and OpenJPEG
    # decodes the same pixels in-process.
    r = eden("convert", htj2k, "-o", os.path.join(tmp, "no-helper"), env={"EDEN_HTJ2K_HELPER": "/nonexistent/eden-htj2k"})
    assert r.returncode == 0 and "eden-htj2k not found" in r.stderr, (r.returncode, r.stderr)
    no_helper = np.asarray(Image.open(os.path.join(tmp, "no-helper", "htj2k.jpg"))).astype(np.float64)
    assert np.array_equal(no_helper, converted(plain, "plain")), "OpenJPEG decoded other pixels"
    assert "eden-htj2k" not in eden("convert", htj2k, "-o", os.path.join(tmp, "again")).stderr
    for size in (1024, 512):
        x = converted(htj2k, f"r{size}", "--max-size", str(size))
        y = converted(htj2k, f"f{size}", "--max-size", str(size), "--full-decode")
        assert x.shape == y.shape and max(x.shape) == size, (size, x.shape, y.shape)
        mse = ((x - y) ** 2).mean()
        assert 0 < mse and 10 * np.log10(255 ** 2 / mse) >= 38, (size, mse)


def test_htj2k_colour_classic_codestream_and_damaged_frames(tmp):
    # What OpenJPH (eden's HTJ2K decoder) does not decode must still come out right or fail cleanly:
    # (1) colour: the corpus's 256x256 RGB image through ojph_compress (reversible colour transform)
    #     decodes to the same pixels as the image uncompressed, and is reported as HTJ2K;
    # (2) a classic JPEG 2000 codestream (Part 1 code blocks) labelled HTJ2K decodes (OpenJPEG);
    # (3) the HTJ2K codestream cut short or with bytes overwritten: exit 1 with an error code, or
    #     pixels; never a crash.
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID
    corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
    ds = pydicom.dcmread(os.path.join(corpus, "SC_rgb_jpeg_dcmd.dcm"))
    rgb = ds.pixel_array
    assert rgb.shape == (256, 256, 3), rgb.shape
    ppm, j2c = os.path.join(tmp, "in.ppm"), os.path.join(tmp, "rgb.j2c")
    with open(ppm, "wb") as f:
        f.write(b"P6\n256 256\n255\n" + rgb.astype(np.uint8).tobytes())
    sh(["ojph_compress", "-i", ppm, "-o", j2c, "-reversible", "true", "-colour_trans", "true"])
    codestream = open(j2c, "rb").read()

    def wrap(frame, name, photometric="YBR_RCT", uid="1.2.840.10008.1.2.4.201"):
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds.PhotometricInterpretation = photometric
        ds.PlanarConfiguration = 0
        ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.90")
        ds.is_implicit_VR, ds.is_little_endian = False, True  # The corpus file is implicit VR.
        labelled = os.path.join(tmp, name + "-j2k.dcm")
        ds.save_as(labelled, write_like_original=False)
        path = os.path.join(tmp, name + ".dcm")
        relabel_transfer_syntax(labelled, path, uid)
        return path

    def convert(path):
        r = eden("convert", path, "-o", os.path.join(tmp, "out"), "--json", "-q", "100")
        assert r.returncode in (0, 1), (path, r.returncode, r.stderr)  # a signal is a crash
        return r, json.loads(r.stdout.splitlines()[0])

    r, result = convert(wrap(codestream, "colour"))
    assert r.returncode == 0, result
    assert result["transfer_syntax"]["uid"] == "1.2.840.10008.1.2.4.201", result
    assert "High-Throughput" in result["transfer_syntax"]["name"], result
    plain = os.path.join(tmp, "plain.dcm")
    ds2 = pydicom.dcmread(os.path.join(corpus, "SC_rgb_jpeg_dcmd.dcm"))
    ds2.save_as(plain, write_like_original=False)
    r2, _ = convert(plain)
    assert r2.returncode == 0, r2.stdout
    a = np.asarray(Image.open(os.path.join(tmp, "out", "colour.jpg"))).astype(np.float64)
    b = np.asarray(Image.open(os.path.join(tmp, "out", "plain.jpg"))).astype(np.float64)
    assert a.shape == b.shape == (256, 256, 3) and np.array_equal(a, b), "HTJ2K colour decoded to other pixels"

    # (2) A Part 1 codestream of the same pixels (gdcmconv), relabelled HTJ2K.
    classic_src = os.path.join(tmp, "classic-src.dcm")
    sh(["gdcmconv", "--j2k", plain, classic_src])
    classic = pydicom.dcmread(classic_src)
    frame = next(pydicom.encaps.generate_pixel_data_frame(classic.PixelData))
    assert frame[:4] == b"\xff\x4f\xff\x51" and b"\xff\x50" not in frame[:200], "not a Part 1 codestream"
    r, result = convert(wrap(frame, "classic", photometric=classic.PhotometricInterpretation))
    assert r.returncode == 0, result
    c = np.asarray(Image.open(os.path.join(tmp, "out", "classic.jpg"))).astype(np.float64)
    assert np.array_equal(c, b), "a classic codestream labelled HTJ2K decoded to other pixels"

    # (3) Damaged HTJ2K frames.
    cut = codestream[:len(codestream) * 3 // 5]
    scribbled = bytearray(codestream)
    for at in range(len(codestream) // 3, len(codestream) // 3 + 64, 3):
        scribbled[at] = 0xFF
    header_only = codestream[:codestream.index(b"\xff\x90")]  # up to the first tile-part
    for name, frame in (("cut", cut), ("scribbled", bytes(scribbled)), ("header-only", header_only)):
        r, result = convert(wrap(frame, name))
        if r.returncode == 1:
            assert result["error"]["code"] in ("corrupt_pixel_data", "truncated"), (name, result)
            assert result["error"]["message"], (name, result)

    # (4) The codestreams that crash OpenJPH 0.9.0 (tests/data/htj2k/README.md), as RGB frames of
    # the size their fuzz geometry header gives: eden (OpenJPH in its helper process) lives on.
    crashes = sorted(glob.glob(os.path.join(ARGS.repo, "tests/data/htj2k/openjph-crashes/*")))
    assert len(crashes) == 8, crashes
    for i, path in enumerate(crashes):
        data = open(path, "rb").read()
        assert data[4] & 3 == 1, path  # RGB, 8 bits: the geometry `wrap` keeps.
        ds.Rows = 1 + (data[0] | data[1] << 8) % 1024
        ds.Columns = 1 + (data[2] | data[3] << 8) % 1024
        r, result = convert(wrap(data[6:], f"openjph-crash-{i}"))
        if r.returncode == 1:
            assert result["error"]["code"] in ("corrupt_pixel_data", "truncated", "unsupported"), (path, result)


@contextlib.contextmanager
def visible_studies_query(tmp, log):
    """A --query showing only the studies listed in the table eden_visible (a PACS that grows as
    rows are added there), its downloads through a proxy that logs every request to `log`."""
    port = harness.usable_port(ARGS.proxy_port)
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"),
                              str(port), ENV["EDEN_ORTHANC_URL"], "0", log])
    try:
        harness.wait_listening(port, proxy)
        psql_csv("SELECT 1")  # connection check
        sh(["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d", "pacs", "-q",
            "-c", "CREATE TABLE IF NOT EXISTS eden_visible (study_id text PRIMARY KEY); TRUNCATE eden_visible"])
        query = url_rewriting_query(tmp, "visible.sql",
                                    f"replace(file_url, '{ENV['EDEN_ORTHANC_URL']}', 'http://127.0.0.1:{port}')")
        with open(query, encoding="utf-8") as f:
            sql = f.read()
        with open(query, "w", encoding="utf-8") as f:
            f.write(f"SELECT * FROM ({sql}) v WHERE study_id::text IN (SELECT study_id FROM eden_visible)")
        yield query, port
    finally:
        proxy.kill()
        proxy.wait()


def show_studies(ids):
    values = ",".join(f"('{i}')" for i in ids)
    sh(["psql", "-h", ENV["EDEN_PG_SOCKET"], "-p", ENV["SOURCE_DATABASE_PORT"], "-U", "eden", "-d", "pacs", "-q",
        "-c", f"INSERT INTO eden_visible VALUES {values}"])


def test_incremental_downloads_only_new_studies_and_the_csv_covers_all(tmp):
    log = os.path.join(tmp, "requests.log")
    good = [r["id"] for r in psql_csv("SELECT id FROM pacs_studies WHERE NOT deleted ORDER BY id")
            if r["id"] != LOADED.get("bad_study")]
    assert len(good) >= 15, len(good)
    with visible_studies_query(tmp, log) as (query, _):
        out = os.path.join(tmp, "out")
        args = ["run", "--incremental", "--query", query, "-o", out, "--progress", "none"]
        show_studies(good[:10])
        r = eden(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        first = read_csv(out)
        assert {row["study_id"] for row in first} == set(good[:10])
        assert len(open(log).read().splitlines()) == len(first), "first run: one download per instance"

        open(log, "w").close()
        show_studies(good[10:15])
        r = eden(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "5 new studies" in r.stdout, r.stdout
        rows = read_csv(out)
        new_rows = [row for row in rows if row["study_id"] in set(good[10:15])]
        assert {row["study_id"] for row in rows} == set(good[:15]), "the CSV covers the whole dataset"
        assert len(rows) == len(first) + len(new_rows) and new_rows
        downloaded = open(log).read().splitlines()
        # Only the 5 new studies' files were asked of the DICOM server, each once.
        assert len(downloaded) == len(new_rows), (len(downloaded), len(new_rows))
        new_ids = {row["instance_id"] for row in new_rows}
        assert all(row["status"] == "stored" for row in rows), [r["error"] for r in rows if r["status"] != "stored"]
        metadata = read_jsonl(os.path.join(out, "eden-dataset-vlms/sample-test/metadata.jsonl"))
        assert len(metadata) == len(rows) and new_ids <= {m["instance_id"] for m in metadata}
        readme = open(os.path.join(out, "eden-dataset-vlms/sample-test/README-dataset.md"), encoding="utf-8").read()
        assert f"{len(rows)}" in readme

        # Nothing new: nothing downloaded, nothing written.
        open(log, "w").close()
        dataset = os.path.join(out, "eden-dataset-vlms/sample-test")
        before = {p: os.stat(os.path.join(dataset, p)).st_mtime_ns for p in os.listdir(dataset)
                  if os.path.isfile(os.path.join(dataset, p))}
        r = eden(*args)
        assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout + r.stderr
        assert open(log).read() == "", "a run with nothing new downloaded something"
        after = {p: os.stat(os.path.join(dataset, p)).st_mtime_ns for p in os.listdir(dataset)
                 if os.path.isfile(os.path.join(dataset, p))}
        assert before == after, "a run with nothing new rewrote files"



def scheduled_intervals(text):
    """(start, end) of each scheduled run an `eden run --every` log reports, as datetimes."""
    import datetime
    starts, spans = {}, []
    for line in text.splitlines():
        m = re.search(r"scheduled run (\d+) (started|ended) (\S+)", line)
        if not m:
            continue
        when = datetime.datetime.strptime(m.group(3), "%Y-%m-%dT%H:%M:%S.%fZ")
        if m.group(2) == "started":
            starts[m.group(1)] = when
        else:
            spans.append((starts.pop(m.group(1)), when))
    # A run stopped by the end of the test has no end: it lasts for ever as far as overlaps go.
    return spans + [(start, datetime.datetime.max) for start in starts.values()]


def test_every_loops_on_one_destination_never_overlap_and_a_killed_holder_lets_go(tmp):
    log = os.path.join(tmp, "requests.log")
    good = [r["id"] for r in psql_csv("SELECT id FROM pacs_studies WHERE NOT deleted ORDER BY id")
            if r["id"] != LOADED.get("bad_study")]
    with visible_studies_query(tmp, log) as (query, port):
        out = os.path.join(tmp, "out")
        show_studies(good[:12])
        # Slow downloads (one at a time, 100 ms each): the first run lasts seconds; the loops tick every 1 s.
        slow = subprocess.Popen(["/usr/bin/python3", os.path.join(ARGS.repo, "tests/integration/slow_proxy.py"),
                                 str(port + 1), ENV["EDEN_ORTHANC_URL"], "100"])
        harness.wait_listening(port + 1, slow)
        try:
            with open(query, encoding="utf-8") as f:
                sql = f.read().replace(f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}")
            with open(query, "w", encoding="utf-8") as f:
                f.write(sql)
            args = [ARGS.eden, "run", "--every", "1s", "--query", query, "-o", out, "--progress", "none",
                    "--download-concurrency", "1"]
            logs = [open(os.path.join(tmp, f"loop{i}.log"), "w+") for i in range(2)]
            loops = [subprocess.Popen(args, env={**os.environ, **ENV}, stdout=f, stderr=subprocess.STDOUT) for f in logs]
            try:
                time.sleep(1.0)
                show_studies(good[12:16])  # More work arrives while the loops run.
                time.sleep(11)
            finally:
                for p in loops:
                    p.send_signal(signal.SIGTERM)
                for p in loops:
                    p.wait(timeout=60)
            texts = [open(f.name).read() for f in logs]
            spans = [scheduled_intervals(t) for t in texts]
            assert any(spans), texts
            assert sum(len(sp) for sp in spans) >= 2, texts
            everything = sorted(span for sp in spans for span in sp)
            for (a_start, a_end), (b_start, b_end) in zip(everything, everything[1:]):
                assert a_end <= b_start, f"two scheduled runs overlapped: {a_start}-{a_end} and {b_start}-{b_end}"
            assert any("another scheduler holds" in t for t in texts), texts
            rows = read_csv(out)
            assert {row["study_id"] for row in rows} == set(good[:16]), "every study shown was added once"
            assert len({row["instance_id"] for row in rows}) == len(rows)

            # A holder killed in the middle of a run: the lock goes with it (flock), the next loop runs at once.
            show_studies(good[16:20])
            first = subprocess.Popen(args, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
            deadline = time.time() + 60
            seen = ""
            while "started" not in seen and time.time() < deadline:
                seen += first.stdout.readline()
            time.sleep(0.3)  # In its run now (4 new studies at 100 ms a file).
            first.kill()
            first.wait()
            with sqlite3.connect(os.path.join(out, ".eden/journal.sqlite"), timeout=5) as db:
                pending = db.execute("SELECT count(*) FROM instances WHERE state = 'pending'").fetchone()[0]
            assert pending > 0, "the holder was not killed in the middle of a run"
            second = subprocess.Popen(args, env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            text = ""
            deadline = time.time() + 120
            while "scheduled run 1 ended" not in text and time.time() < deadline and second.poll() is None:
                text += second.stdout.readline()
            second.send_signal(signal.SIGTERM)
            rest, _ = second.communicate(timeout=60)
            assert "scheduled run 1 started" in text and "scheduled run 1 ended" in text, text + rest
            assert "another scheduler holds" not in text, text
            rows = read_csv(out)
            assert {row["study_id"] for row in rows} == set(good[:20])
        finally:
            slow.kill()
            slow.wait()



def test_status_reads_the_journal_during_and_after_a_run(tmp):
    r = eden("status", os.path.join(tmp, "nothing"))
    assert r.returncode == 2 and "no run journal" in r.stderr, (r.returncode, r.stderr)
    with slow_pacs_query(tmp) as query:
        out = os.path.join(tmp, "watched")
        args = [ARGS.eden, "run", "--all-studies", "--query", query, "-o", out, "--progress", "none",
                "--download-concurrency", "2", "--threads", "1", "--summary-json", os.path.join(tmp, "s.json")]
        p = subprocess.Popen(args, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        during = None
        deadline = time.time() + 120
        while p.poll() is None and time.time() < deadline:
            st = eden("status", out, "--json")
            if st.returncode == 0:
                j = json.loads(st.stdout)
                if j["frozen"] and j["stored"] >= 3 and j["pending"] > 0:
                    during = j
                    break
            time.sleep(0.1)
        assert during, "no status caught the run midway"
        assert during["total"] == LOADED["instances"] and during["rate_per_s"] > 0 and during["eta_s"] > 0, during
        assert during["stored"] + during["failed"] + during["excluded"] + during["pending"] == during["total"], during
        text = eden("status", out)
        assert text.returncode == 0 and "pending" in text.stdout and "ETA" in text.stdout, text.stdout
        p.wait(timeout=300)
        assert p.returncode == 1, p.returncode
        after = json.loads(eden("status", out, "--json").stdout)
        summary = json.load(open(os.path.join(tmp, "s.json")))
        assert after["pending"] == 0 and after["stored"] == summary["instances"]["stored"], (after, summary["instances"])
        assert after["failed_by_code"] == summary["failures_by_code"], (after, summary["failures_by_code"])
        assert "done: nothing pending" in eden("status", out).stdout


def reduced_psnr(tmp, path, size):
    """`eden convert --max-size SIZE` of `path` against the same with --full-decode (every pixel
    decoded and windowed, then the same resize): both the size asked for, and the PSNR of one
    against the other in dB (None when identical)."""
    import numpy as np
    from PIL import Image
    name = os.path.basename(path)[:-4]
    a, b = os.path.join(tmp, f"r{size}"), os.path.join(tmp, f"f{size}")
    for out, extra in ((a, []), (b, ["--full-decode"])):
        r = eden("convert", path, "-o", out, "--max-size", str(size), *extra)
        assert r.returncode == 0, r.stderr
    x = np.asarray(Image.open(os.path.join(a, name + ".jpg"))).astype(np.float64)
    y = np.asarray(Image.open(os.path.join(b, name + ".jpg"))).astype(np.float64)
    assert x.shape == y.shape and max(x.shape[:2]) == size, (name, size, x.shape, y.shape)
    mse = ((x - y) ** 2).mean()
    return 10 * np.log10(255 ** 2 / mse) if mse else None


def test_max_size_decodes_jpeg2000_at_reduced_resolution_within_38_db(tmp):
    # A radiograph-sized JPEG 2000 (the corpus's CT, smoothly enlarged to 2600 x 2200, encoded
    # losslessly by GDCM's gdcmconv): with --max-size eden decodes only the resolution levels it
    # needs. Against decoding every pixel (--full-decode) and the same resize: same size, PSNR
    # >= 38 dB. Frames under a megapixel decode whole (docs/decoder.md): their output is identical.
    import numpy as np
    import pydicom
    from PIL import Image
    corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
    ds = pydicom.dcmread(os.path.join(corpus, "CT_small.dcm"))
    small = ds.pixel_array.astype(np.float64)
    big = np.asarray(Image.fromarray(small.astype(np.float32), mode="F").resize((2600, 2200), Image.BICUBIC))
    big = np.clip(big, small.min(), small.max()).astype(np.int16)
    ds.Rows, ds.Columns = big.shape
    ds.PixelData = big.tobytes()
    plain = os.path.join(tmp, "big.dcm")
    ds.save_as(plain, write_like_original=False)
    j2k = os.path.join(tmp, "big-j2k.dcm")
    sh(["gdcmconv", "--j2k", plain, j2k])
    cases = [(j2k, 1024), (j2k, 512), (os.path.join(corpus, "JPEG2000.dcm"), 300)]
    for path, size in cases:
        psnr = reduced_psnr(tmp, path, size)
        if path == j2k:
            assert psnr is None or psnr >= 38, (path, size, psnr)
        else:
            assert psnr is None, (path, "a small frame must decode whole")


def test_max_size_decodes_jpeg_baseline_scaled_in_the_dct_within_38_db(tmp):
    # An 8-bit greyscale JPEG baseline radiograph (the corpus's CT scaled to 8 bits, enlarged to
    # 2400 x 2000, compressed by DCMTK's dcmcjpeg +eb): with --max-size eden has libjpeg-turbo
    # decode it scaled in the IDCT (1/2 for both 1024 and 512). Against every pixel decoded
    # (--full-decode) and the same resize: same size, PSNR >= 38 dB, and not identical (the scaled
    # path ran). A colour JPEG decodes whole as before: identical.
    import numpy as np
    import pydicom
    from PIL import Image
    corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
    ds = pydicom.dcmread(os.path.join(corpus, "CT_small.dcm"))
    small = ds.pixel_array.astype(np.float64)
    small = (small - small.min()) * 255.0 / (small.max() - small.min())
    big = np.asarray(Image.fromarray(small.astype(np.float32), mode="F").resize((2000, 2400), Image.BICUBIC))
    ds.Rows, ds.Columns = big.shape
    ds.PixelData = np.clip(np.round(big), 0, 255).astype(np.uint8).tobytes()
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    for tag in ("WindowCenter", "WindowWidth", "RescaleIntercept", "RescaleSlope"):
        if tag in ds:
            delattr(ds, tag)
    plain = os.path.join(tmp, "big8.dcm")
    ds.save_as(plain, write_like_original=False)
    baseline = os.path.join(tmp, "big-baseline.dcm")
    sh(["dcmcjpeg", "+eb", "+q", "90", plain, baseline])
    for path, size in [(baseline, 1024), (baseline, 512), (os.path.join(corpus, "SC_rgb_jpeg_dcmtk.dcm"), 64)]:
        psnr = reduced_psnr(tmp, path, size)
        if path == baseline:
            assert psnr is not None and psnr >= 38, (path, size, psnr, "the scaled decode must run, within 38 dB")
        else:
            assert psnr is None, (path, "a colour frame must decode whole")


def test_max_size_averages_frames_decoded_whole_before_windowing_within_38_db(tmp):
    # Uncompressed, RLE and lossless JPEG radiographs (the corpus's signed CT enlarged to
    # 2600 x 2200; RLE and JPEG lossless by GDCM's gdcmconv) asked for at 1024 and 512: the frame
    # is halved by box averaging of its stored values before windowing. Against every pixel
    # windowed (--full-decode) and the same resize: same size, PSNR >= 38 dB, not identical (the
    # averaging ran). With a Pixel Padding Value, or a frame under a megapixel: identical.
    import numpy as np
    import pydicom
    from PIL import Image
    corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
    ds = pydicom.dcmread(os.path.join(corpus, "CT_small.dcm"))
    small = ds.pixel_array.astype(np.float64)
    big = np.asarray(Image.fromarray(small.astype(np.float32), mode="F").resize((2600, 2200), Image.BICUBIC))
    # Stored values shifted below zero (the intercept keeps the display): sign extension is tested.
    big = (np.clip(big, small.min(), small.max()) - 1024).astype(np.int16)
    ds.RescaleIntercept = float(ds.get("RescaleIntercept", 0)) + 1024
    assert ds.PixelRepresentation == 1 and big.min() < 0 < big.max(), "the case is meant to be signed"
    del ds.PixelPaddingValue  # The corpus file has one; the padded case below puts it back.
    ds.Rows, ds.Columns = big.shape
    ds.PixelData = big.tobytes()
    plain = os.path.join(tmp, "big.dcm")
    ds.save_as(plain, write_like_original=False)
    rle, lossless = os.path.join(tmp, "big-rle.dcm"), os.path.join(tmp, "big-jpegll.dcm")
    sh(["gdcmconv", "--rle", plain, rle])
    sh(["gdcmconv", "--jpegll", plain, lossless])
    ds.add_new(0x00280120, "SS", int(big.min()))  # Pixel Padding Value
    padded = os.path.join(tmp, "big-padded.dcm")
    ds.save_as(padded, write_like_original=False)

    for path in (plain, rle, lossless):
        for size in (1024, 512):
            psnr = reduced_psnr(tmp, path, size)
            assert psnr is not None, (path, size, "the frame was not averaged")
            assert psnr >= 38, (path, size, psnr)
    assert reduced_psnr(tmp, padded, 1024) is None, "a frame with a Pixel Padding Value must be windowed whole"
    assert reduced_psnr(tmp, os.path.join(corpus, "CT_small.dcm"), 64) is None, "a small frame must be windowed whole"



def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--eden", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--services-dir", default=os.path.join(tempfile.gettempdir(), f"eden-itest-services-{os.getuid()}"))
    p.add_argument("--pg-port", type=int, default=55442)
    p.add_argument("--orthanc-port", type=int, default=58052)
    p.add_argument("--proxy-port", type=int, default=58062)
    ARGS = p.parse_args()
    ARGS.eden = os.path.abspath(ARGS.eden)

    tests = harness.tests_of(globals())
    return harness.run_suite(ARGS.repo, ARGS.services_dir, ARGS.pg_port, ARGS.orthanc_port, tests,
                             harness.setter_of(globals()))


if __name__ == "__main__":
    sys.exit(main())
