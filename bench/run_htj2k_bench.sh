#!/usr/bin/env bash
# High-Throughput JPEG 2000 (issue 17): the benchmark radiographs (3000x2500, bench/make_data.sh)
# compressed losslessly by OpenJPH's ojph_compress, wrapped as 1.2.840.10008.1.2.4.201. Side by
# side in one run, best of REPS (default 3), one file at a time, single-threaded:
#   ojph_expand (OpenJPH decode alone, to PGM), eden convert of the HTJ2K file (full size and
#   --max-size 1024), eden convert of the same pixels as classic JPEG 2000 (gdcmconv --j2k);
#   then eden convert -j1 of all N HTJ2K files in one process (its ~50 ms start-up, 60 shared
#   libraries mapped and relocated, paid once instead of once a file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target eden >/dev/null
bench/make_data.sh build/bench-data
EDEN=build/release/src/cli/eden
WORK=build/bench-htj2k
rm -rf "$WORK"; mkdir -p "$WORK/htj2k"
/usr/bin/python3 - "$EDEN" "$WORK" "${REPS:-3}" "${N:-4}" <<'PY'
import glob, os, struct, subprocess, sys, time
import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID
eden, work, reps, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = sorted(glob.glob("build/bench-data/uncompressed/*.dcm"))[:n]
cases = {"ojph_expand": [], "eden htj2k": [], "eden htj2k --max-size 1024": [], "eden j2k (same pixels)": []}
for src in files:
    ds = pydicom.dcmread(src)
    a = ds.pixel_array
    name = os.path.basename(src)[:-4]
    pgm, j2c = f"{work}/{name}.pgm", f"{work}/{name}.j2c"
    with open(pgm, "wb") as f:
        f.write(f"P5\n{a.shape[1]} {a.shape[0]}\n{(1 << ds.BitsStored) - 1}\n".encode() + a.astype(">u2").tobytes())
    subprocess.run(["ojph_compress", "-i", pgm, "-o", j2c, "-reversible", "true"], check=True, stdout=subprocess.DEVNULL)
    ds.PixelData = encapsulate([open(j2c, "rb").read()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.90")
    labelled = f"{work}/{name}-labelled.dcm"
    ds.save_as(labelled, write_like_original=False)
    data = bytearray(open(labelled, "rb").read())
    new = b"1.2.840.10008.1.2.4.201\0"
    at = data.index(b"\x02\x00\x10\x00UI")
    length = struct.unpack_from("<H", data, at + 6)[0]
    data[at + 6:at + 8 + length] = struct.pack("<H", len(new)) + new
    struct.pack_into("<I", data, 140, struct.unpack_from("<I", data, 140)[0] + len(new) - length)
    htj2k = f"{work}/htj2k/{name}.dcm"
    open(htj2k, "wb").write(data)
    j2k = f"build/bench-data/j2k/{name}.dcm"
    runs = {"ojph_expand": ["ojph_expand", "-i", j2c, "-o", f"{work}/{name}-back.pgm"],
            "eden htj2k": [eden, "convert", htj2k, "-o", f"{work}/out-h/"],
            "eden htj2k --max-size 1024": [eden, "convert", htj2k, "-o", f"{work}/out-r/", "--max-size", "1024"],
            "eden j2k (same pixels)": [eden, "convert", j2k, "-o", f"{work}/out-j/"]}
    best = {}
    for _ in range(reps):
        for k, cmd in runs.items():
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            best[k] = min(best.get(k, 1e9), time.perf_counter() - t)
    for k in cases:
        cases[k].append(best[k])
one = f"{work}/htj2k"
best_one = 1e9
for _ in range(reps):
    t = time.perf_counter()
    subprocess.run([eden, "convert", "-j1", one, "-o", f"{work}/out-all/"], check=True, stdout=subprocess.DEVNULL)
    best_one = min(best_one, time.perf_counter() - t)
cases[f"eden htj2k, {len(files)} files in one process (-j1)"] = [best_one]
base = sum(cases["ojph_expand"])
print(f"| path | seconds ({len(files)} files, sum of bests) | vs ojph_expand |")
print("|---|---|---|")
for k, v in cases.items():
    print(f"| {k} | {sum(v):.2f} | {sum(v) / base:.2f}x |")
PY
