#!/usr/bin/python3
"""Loads a demo PACS: real DICOM files from Debian's pydicom test set (every file eden converts,
per tests/corpus/expected.tsv), each given fresh UIDs, uploaded to Orthanc, and listed in the
reference PACS schema (queries/pacs_schema.sql) in PostgreSQL with report text.

  load_demo_pacs.py --orthanc http://127.0.0.1:58042 --psql "psql -h SOCKET -p PORT -U eden -d pacs"
                    [--studies 30] [--bad-rows DIR] [--extra FILE...]

--bad-rows DIR adds a study whose instances are the failures a run must survive: a NULL URL,
a 404, a non-DICOM body, a truncated DICOM (files written into DIR, served as file:// URLs),
plus deleted rows that must not be selected. Prints a JSON summary of what it loaded.
"""
import argparse
import io
import json
import os
import random
import shlex
import subprocess
import sys
import urllib.request
import uuid

import pydicom
from pydicom.uid import generate_uid

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

FINDINGS = [
    "The lungs are clear, without focal consolidation, effusion, or pneumothorax.",
    "Heart size is normal. Mediastinal contours are unremarkable; no \"hilar\" enlargement.",
    "Mild degenerative changes of the thoracic spine.\nNo acute osseous abnormality.",
    "Small left pleural effusion with adjacent atelectasis, unchanged since the prior study.",
    "Endotracheal tube tip 4 cm above the carina; nasogastric tube courses below the diaphragm.",
    "Patchy opacity in the right lower lobe, which may represent pneumonia; clinical correlation advised.",
    "Status post sternotomy. Calcified granuloma in the left upper lobe (2 mm) — stable.",
    "No intracranial haemorrhage, mass effect or midline shift. Ventricles normal in size.",
]
INDICATIONS = ["Cough and fever for three days.", "Chest pain; rule out pneumothorax.", "Follow-up of known effusion."]
# How report fields are labelled, as real reports do it: the section parser must read them all;
# None writes the text with no label at all.
LABEL_STYLES = [
    {"indication": "INDICATION:", "findings": "FINDINGS:", "impression": "IMPRESSION:"},
    {"indication": "Clinical history:", "findings": "Findings:\n", "impression": "Impression:\n"},
    {"indication": "1. REASON FOR EXAM:", "findings": "2. FINDINGS:", "impression": "3. CONCLUSION:"},
    {"indication": "**History:**", "findings": "**Findings:**", "impression": "**Impression:**"},
    None,
]
IMPRESSIONS = [
    "No acute cardiopulmonary process.",
    "Findings consistent with right lower lobe pneumonia; follow-up in 6–8 weeks.",
    "Stable appearance, \"no change\" from the prior examination.",
    "Small effusion, otherwise normal. Café-au-lait note: none.",
]


def q(value):
    """SQL literal (dollar-quoted text), or NULL. Test-data generation only."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    s = str(value)
    assert "$eden$" not in s
    return f"$eden${s}$eden$"


def upload(orthanc, data):
    req = urllib.request.Request(f"{orthanc}/instances", data=data, method="POST",
                                 headers={"Content-Type": "application/dicom"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["ID"]


def corpus_files():
    expected = os.path.join(HERE, "..", "tests", "corpus", "expected.tsv")
    for line in open(expected, encoding="utf-8"):
        if line.startswith("#"):
            continue
        name, outcome = line.rstrip("\n").split("\t")[:2]
        if outcome == "ok":
            yield os.path.join(CORPUS, name)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--orthanc", required=True)
    p.add_argument("--psql", required=True, help="psql command line that reaches the pacs database")
    p.add_argument("--studies", type=int, default=30)
    p.add_argument("--bad-rows", help="folder for the files of the bad-row study")
    p.add_argument("--extra", nargs="*", default=[], help="more DICOM files, one study each")
    p.add_argument("--schema", default=os.path.join(HERE, "..", "queries", "pacs_schema.sql"))
    args = p.parse_args()
    rng = random.Random(20261125)

    files = list(corpus_files())
    groups = [[] for _ in range(args.studies)]
    for i, f in enumerate(files):
        groups[i % args.studies].append(f)
    sql = ["BEGIN;", "DROP TABLE IF EXISTS pacs_report_fields, pacs_instances, pacs_series, pacs_studies;",
           open(args.schema, encoding="utf-8").read()]
    loaded = {"studies": 0, "instances": 0, "orthanc": args.orthanc}

    loaded["sections"] = {}

    def add_study(paths, modality_hint=None, with_report=True, deleted=False, patient=None):
        study_id = str(uuid.uuid4())
        study_uid = generate_uid()
        series = {}
        for path in paths:
            ds = pydicom.dcmread(path, force=True)
            ds.StudyInstanceUID = study_uid
            ds.SOPInstanceUID = generate_uid()
            if hasattr(ds, "file_meta") and "MediaStorageSOPInstanceUID" in ds.file_meta:
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            key = str(ds.get("SeriesInstanceUID", "")) + str(ds.get("Modality", ""))
            if key not in series:
                series[key] = (str(uuid.uuid4()), generate_uid(), int(ds.get("SeriesNumber", len(series) + 1) or 1),
                               str(ds.get("Modality", "") or modality_hint or "OT"), [])
            ds.SeriesInstanceUID = series[key][1]
            buf = io.BytesIO()
            ds.save_as(buf, write_like_original=True)
            orthanc_id = upload(args.orthanc, buf.getvalue())
            series[key][4].append((str(uuid.uuid4()), ds.SOPInstanceUID, int(ds.get("InstanceNumber", 1) or 1),
                                   f"/pacs/{study_uid}/{os.path.basename(path)}",
                                   f"{args.orthanc}/instances/{orthanc_id}/file"))
        modality = next(iter(series.values()))[3] if series else (modality_hint or "OT")
        body = {"CR": "CHEST", "DX": "CHEST", "CT": "CHEST", "MR": "HEAD"}.get(modality, "OTHER")
        sql.append(f"INSERT INTO pacs_studies (id, study_instance_uid, patient_id, modality, body_part, description, "
                   f"deleted) VALUES ({q(study_id)}, {q(study_uid)}, {q(patient)}, {q(modality)}, {q(body)}, "
                   f"{q('Demo study')}, {q(deleted)});")
        for se_id, se_uid, number, se_mod, instances in series.values():
            sql.append(f"INSERT INTO pacs_series (id, study_id, series_instance_uid, series_number, modality, body_part_examined) "
                       f"VALUES ({q(se_id)}, {q(study_id)}, {q(se_uid)}, {number}, {q(se_mod)}, {q(body)});")
            for inst_id, sop, inst_no, path, url in instances:
                sql.append(f"INSERT INTO pacs_instances (id, series_id, sop_instance_uid, instance_number, file_path, file_url) "
                           f"VALUES ({q(inst_id)}, {q(se_id)}, {q(sop)}, {inst_no}, {q(path)}, {q(url)});")
                loaded["instances"] += 0 if deleted else 1
        if with_report:
            style = rng.choice(LABEL_STYLES)
            fields = [("findings", rng.choice(FINDINGS)), ("impression", rng.choice(IMPRESSIONS))]
            if style and rng.random() < 0.5:
                fields.insert(0, ("indication", rng.choice(INDICATIONS)))
            # What the section parser must find (the caption of an unlabelled report is its last
            # paragraph: the impression field, the last one aggregated).
            expected = {k: v for k, v in fields} if style else {}
            expected["caption"] = fields[-1][1]
            loaded["sections"][study_id] = expected
            for n, (name, text) in enumerate(fields):
                value = f"{style[name]} {text}" if style and not style[name].endswith("\n") else \
                    (f"{style[name]}{text}" if style else text)
                # Created a second apart: the query aggregates fields in creation order.
                sql.append(f"INSERT INTO pacs_report_fields (id, study_id, name, value, created_at) VALUES "
                           f"({q(str(uuid.uuid4()))}, {q(study_id)}, {q(name)}, {q(value)}, "
                           f"now() + interval '{n} seconds');")
            sql.append(f"INSERT INTO pacs_report_fields (id, study_id, name, value, deleted) VALUES "
                       f"({q(str(uuid.uuid4()))}, {q(study_id)}, 'draft', 'DELETED DRAFT MUST NOT APPEAR', true);")
        loaded["studies"] += 0 if deleted else 1
        return study_id

    for i, g in enumerate(groups):
        if g:
            # Eleven patients for thirty studies: splits must keep each patient's studies together.
            add_study(g, with_report=(i % 7 != 6), patient=f"PAT-{i % 11:03d}")
    for extra in args.extra:
        add_study([extra])
    # A deleted study: its rows must never be selected.
    add_study(files[:1], deleted=True)

    if args.bad_rows:
        os.makedirs(args.bad_rows, exist_ok=True)
        good = open(os.path.join(CORPUS, "MR_small.dcm"), "rb").read()
        truncated = os.path.join(os.path.abspath(args.bad_rows), "truncated.dcm")
        open(truncated, "wb").write(good[: len(good) // 2])
        study_id, series_id = str(uuid.uuid4()), str(uuid.uuid4())
        sql.append(f"INSERT INTO pacs_studies (id, study_instance_uid, modality, body_part) VALUES "
                   f"({q(study_id)}, {q(generate_uid())}, 'MR', 'HEAD');")
        sql.append(f"INSERT INTO pacs_series (id, study_id, series_number, modality) VALUES ({q(series_id)}, {q(study_id)}, 1, 'MR');")
        bad = [("null-url", None), ("http-404", f"{args.orthanc}/instances/{'0' * 8}-deadbeef/file"),
               ("not-dicom", f"{args.orthanc}/system"), ("truncated", f"file://{truncated}")]
        loaded["bad_rows"] = {}
        for n, (label, url) in enumerate(bad, start=1):
            inst = str(uuid.uuid4())
            loaded["bad_rows"][label] = inst
            sql.append(f"INSERT INTO pacs_instances (id, series_id, instance_number, file_path, file_url) VALUES "
                       f"({q(inst)}, {q(series_id)}, {n}, {q('/bad/' + label)}, {q(url)});")
        # A deleted instance in a live series: never selected.
        sql.append(f"INSERT INTO pacs_instances (id, series_id, instance_number, file_url, deleted) VALUES "
                   f"({q(str(uuid.uuid4()))}, {q(series_id)}, 99, 'http://deleted.invalid/', true);")
        report = 'Line one, with a comma.\nLine "two" with quotes; naïve café.'
        sql.append(f"INSERT INTO pacs_report_fields (id, study_id, name, value) VALUES ({q(str(uuid.uuid4()))}, {q(study_id)}, "
                   f"'findings', {q(report)});")
        loaded["studies"] += 1
        loaded["instances"] += len(bad)
        loaded["bad_study"] = study_id

    sql.append("COMMIT;")
    subprocess.run(shlex.split(args.psql) + ["-q", "-v", "ON_ERROR_STOP=1"], input="\n".join(sql), text=True, check=True)
    print(json.dumps(loaded))


if __name__ == "__main__":
    sys.exit(main())
