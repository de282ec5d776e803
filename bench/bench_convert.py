#!/usr/bin/python3
"""Conversion benchmark: eden convert (1 and 2 threads) against, in the same run,
  * DCMTK dcmj2pnm started once per file (what a per-file-process design costs),
  * pydicom + numpy + PIL in one process (tests/corpus/reference.py rendering + PIL JPEG q100),
  * libjpeg-turbo encode alone on the same 8-bit pixels (the limit for eden's encode stage).
Prints a Markdown report (paste into bench/RESULTS.md).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

PYDICOM_LOOP = r"""
import sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
import reference
from PIL import Image
files, out = sys.argv[3:], sys.argv[2]
t0 = time.perf_counter()
for i, f in enumerate(files):
    Image.fromarray(reference.render(f)).save(f"{out}/{i}.jpg", quality=100)
print(time.perf_counter() - t0)
"""


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def best_of(n, fn):
    return min(fn() for _ in range(n))


def megapixels(files):
    import pydicom
    total = 0.0
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        total += int(ds.Rows) * int(ds.Columns) / 1e6
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--eden", required=True)
    p.add_argument("--stage-bench", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()

    expected = os.path.join(HERE, "..", "tests", "corpus", "expected.tsv")
    corpus_ok = [os.path.join(CORPUS, line.split("\t")[0]) for line in open(expected)
                 if not line.startswith("#") and line.split("\t")[1].strip() == "ok"]
    sets = [
        ("Explicit VR LE, 3000x2500", sorted(os.path.join(args.data, "uncompressed", f) for f in os.listdir(os.path.join(args.data, "uncompressed"))), True),
        ("JPEG lossless SV1, 3000x2500", sorted(os.path.join(args.data, "jpeg-lossless", f) for f in os.listdir(os.path.join(args.data, "jpeg-lossless"))), True),
        ("JPEG 2000 lossless, 3000x2500", sorted(os.path.join(args.data, "j2k", f) for f in os.listdir(os.path.join(args.data, "j2k"))), False),
        ("pydicom corpus (all convertible files)", corpus_ok, False),
    ]
    print(f"Machine: {os.cpu_count()} cores. Best of {args.reps} runs for eden; 1 run for the baselines.\n")
    print("| set | images | MP | eden -j1 img/s | eden -j2 img/s | eden -j2 MP/s | dcmj2pnm per file img/s | pydicom+PIL img/s | eden -j2 / dcmj2pnm | eden -j2 / pydicom |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    stage_rows = []
    for name, files, dcmtk_can in sets:
        mp = megapixels(files)
        n = len(files)
        out = tempfile.mkdtemp()
        try:
            t1 = best_of(args.reps, lambda: timed([args.eden, "convert", *files, "-o", out, "-j", "1"]))
            t2 = best_of(args.reps, lambda: timed([args.eden, "convert", *files, "-o", out, "-j", "2"]))
            td = None
            if dcmtk_can:
                def per_file():
                    t0 = time.perf_counter()
                    for i, f in enumerate(files):
                        subprocess.run(["dcmj2pnm", "+oj", "+Jq", "100", "+Wi", "1", f, f"{out}/d{i}.jpg"],
                                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    return time.perf_counter() - t0
                td = per_file()
            r = subprocess.run(["/usr/bin/python3", "-c", PYDICOM_LOOP, os.path.join(HERE, "..", "tests", "corpus"), out, *files],
                               capture_output=True, text=True, check=True)
            tp = float(r.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(out, ignore_errors=True)
        stage = json.loads(subprocess.run([args.stage_bench, *files], capture_output=True, text=True, check=True).stdout)
        stage_rows.append((name, stage))
        fmt = lambda v: f"{v:.1f}" if v is not None else "n/a"
        dcm_rate = n / td if td else None
        print(f"| {name} | {n} | {mp:.1f} | {n / t1:.1f} | {n / t2:.1f} | {mp / t2:.1f} | {fmt(dcm_rate)} | {n / tp:.1f} | "
              f"{fmt((n / t2) / dcm_rate if dcm_rate else None)}x | {(n / t2) / (n / tp):.1f}x |")

    print("\nStages of eden's engine (one thread, summed over the set), and libjpeg-turbo alone on the same pixels:\n")
    print("| set | decode ms | render ms | encode ms | encode stage (best of 3) ms | libjpeg-turbo encode-only ms | encode stage / encode-only |")
    print("|---|---|---|---|---|---|---|")
    for name, s in stage_rows:
        ratio = s["encode_stage_ms"] / s["libjpeg_turbo_encode_only_ms"]
        print(f"| {name} | {s['decode_ms']:.0f} | {s['render_ms']:.0f} | {s['encode_ms']:.0f} | {s['encode_stage_ms']:.0f} | "
              f"{s['libjpeg_turbo_encode_only_ms']:.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
