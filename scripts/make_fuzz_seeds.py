#!/usr/bin/python3
"""Builds each fuzz target's seed corpus under OUT/<target>/ from material no one here wrote:
Debian's pydicom test files (whole files for `convert`; their compressed frames, behind the
6-byte geometry header of fuzz/targets.cc, for the codec targets), the captured Celery messages
(tests/data/celery), and small examples of the other formats (fuzz/seeds/)."""
import glob
import hashlib
import os
import shutil
import struct
import sys

import pydicom
from pydicom.encaps import generate_pixel_data_frame

CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODECS = {
    "rle": {"1.2.840.10008.1.2.5"},
    "jpeg_lossless": {"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"},
    "jpeg2000": {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"},
}


def put(out, target, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def header(ds):
    rows, cols = int(ds.Rows) - 1, int(ds.Columns) - 1
    flags = (1 if int(ds.get("SamplesPerPixel", 1)) == 3 else 0) | (2 if int(ds.BitsAllocated) > 8 else 0)
    flags |= 4 if int(ds.get("PixelRepresentation", 0)) else 0
    flags |= 8 if int(ds.get("PlanarConfiguration", 0)) else 0
    stored = int(ds.get("BitsStored", ds.BitsAllocated)) - 1
    return struct.pack("<HHBB", rows % 1024, cols % 1024, flags, stored)


def htj2k_answer_seeds(out):
    """Answers of the HTJ2K decoder process (dicom/htj2k_protocol.h): geometry header, then the
    32-byte answer header and the samples, for a few layouts."""
    for rows, cols, spp, bits, stored in ((4, 3, 1, 16, 12), (8, 8, 3, 8, 8), (5, 7, 1, 8, 8)):
        flags = (1 if spp == 3 else 0) | (2 if bits > 8 else 0)
        geometry = struct.pack("<HHBB", rows - 1, cols - 1, flags, stored - 1)
        size = rows * cols * spp * bits // 8
        answer = b"EDHTJ2K1" + struct.pack("<IIIIQ", rows, cols, stored, 0, size) + bytes(range(256)) * (size // 256 + 1)
        put(out, "htj2k_answer", geometry + answer[:32 + size])


def main(out):
    shutil.rmtree(out, ignore_errors=True)
    for path in sorted(glob.glob(os.path.join(CORPUS, "**", "*.dcm"), recursive=True)):
        if os.path.getsize(path) > 300_000:
            continue
        data = open(path, "rb").read()
        put(out, "convert", data)
        put(out, "deid", data)
        try:
            ds = pydicom.dcmread(path)
            ts = str(ds.file_meta.TransferSyntaxUID)
            target = next((t for t, uids in CODECS.items() if ts in uids), None)
            if target and "PixelData" in ds and int(ds.Rows) <= 1024 and int(ds.Columns) <= 1024:
                frames = int(ds.get("NumberOfFrames", 1) or 1)
                frame = next(generate_pixel_data_frame(ds.PixelData, frames))
                put(out, target, header(ds) + frame)
        except Exception:
            continue  # A broken corpus file is still a convert seed.
    htj2k_answer_seeds(out)
    for path in sorted(glob.glob(os.path.join(REPO, "tests/data/celery/*.txt"))):
        for line in open(path, encoding="utf-8"):
            if "{" in line:
                put(out, "celery_message", line[line.index("{"):].rstrip("\n").encode())
    for target in ("gcs_json", "config", "pacs_row", "report"):
        for path in sorted(glob.glob(os.path.join(REPO, "fuzz/seeds", target, "*"))):
            put(out, target, open(path, "rb").read())
    for kept in sorted(glob.glob(os.path.join(REPO, "tests/data/fuzz/*/*"))):
        put(out, os.path.basename(os.path.dirname(kept)), open(kept, "rb").read())
    for target in sorted(os.listdir(out)):
        print(f"{target}: {len(os.listdir(os.path.join(out, target)))} seeds")


if __name__ == "__main__":
    main(sys.argv[1])
