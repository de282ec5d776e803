#!/usr/bin/python3
"""Benchmark PACS: COUNT instances cloned, with new UIDs, from the radiographs in SRC (made by
make_radiographs.py and compressed by make_data.sh), written to OUT, uploaded to Orthanc and
listed in PostgreSQL (queries/pacs_schema.sql), 4 instances a study, with report text.
Usage: make_pacs_bench.py SRC OUT COUNT ORTHANC_URL "PSQL COMMAND" """
import glob
import io
import os
import shlex
import subprocess
import sys
import urllib.request
import uuid

import pydicom
from pydicom.uid import generate_uid

src, out, count, orthanc, psql = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
here = os.path.dirname(os.path.abspath(__file__))
bases = sorted(glob.glob(os.path.join(src, "*.dcm")))
os.makedirs(out, exist_ok=True)
sql = ["BEGIN;", "DROP TABLE IF EXISTS pacs_report_fields, pacs_instances, pacs_series, pacs_studies;",
       open(os.path.join(here, "..", "queries", "pacs_schema.sql")).read()]
study_id = series_id = None
for i in range(count):
    if i % 4 == 0:
        study_id, series_id = str(uuid.uuid4()), str(uuid.uuid4())
        study_uid = generate_uid()
        # 100 patients: dataset splits keep each one's studies together.
        sql.append(f"INSERT INTO pacs_studies (id, study_instance_uid, patient_id, modality, body_part) VALUES ('{study_id}', '{study_uid}', 'BENCH-{(i // 4) % 100:03d}', 'DX', 'CHEST');")
        sql.append(f"INSERT INTO pacs_series (id, study_id, series_number, modality) VALUES ('{series_id}', '{study_id}', 1, 'DX');")
        sql.append(f"INSERT INTO pacs_report_fields (id, study_id, name, value) VALUES ('{uuid.uuid4()}', '{study_id}', 'findings', 'No acute cardiopulmonary process, study {i // 4}.');")
    ds = pydicom.dcmread(bases[i % len(bases)])
    ds.StudyInstanceUID = study_uid
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buf = io.BytesIO()
    ds.save_as(buf, write_like_original=True)
    data = buf.getvalue()
    path = os.path.join(out, f"bench_{i:04d}.dcm")
    open(path, "wb").write(data)
    req = urllib.request.Request(f"{orthanc}/instances", data=data, method="POST")
    with urllib.request.urlopen(req) as r:
        oid = __import__("json").load(r)["ID"]
    sql.append(f"INSERT INTO pacs_instances (id, series_id, instance_number, file_url) VALUES ('{uuid.uuid4()}', '{series_id}', {i % 4 + 1}, '{orthanc}/instances/{oid}/file');")
sql.append("COMMIT;")
subprocess.run(shlex.split(psql) + ["-q", "-v", "ON_ERROR_STOP=1"], input="\n".join(sql), text=True, check=True)
print(f"{count} instances in Orthanc and PostgreSQL; files in {out}")
