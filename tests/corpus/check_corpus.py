#!/usr/bin/python3
"""Converts every file of a DICOM corpus with `eden convert --all-frames --json` and checks:
  * each file's outcome (ok, or the typed error) is the one expected.tsv names;
  * every JPEG of a converted file matches the independent reference rendering (reference.py)
    with PSNR >= --min-psnr dB.
Every file under the corpus must have a row in expected.tsv, so new corpus files are not
silently skipped. Prints one line per file and a closing 'N passed, N failed' line.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def load_expected(path):
    expected = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, outcome = line.split("\t")[:2]
            expected[name] = outcome
    return expected


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eden", required=True)
    parser.add_argument("--corpus", default="/usr/lib/python3/dist-packages/pydicom/data/test_files")
    parser.add_argument("--expected", default=os.path.join(os.path.dirname(__file__), "expected.tsv"))
    parser.add_argument("--min-psnr", type=float, default=40.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    expected = load_expected(args.expected)
    files = sorted(os.path.relpath(os.path.join(d, f), args.corpus)
                   for d, _, names in os.walk(args.corpus) for f in names)
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run([args.eden, "convert", args.corpus, "-o", out, "--all-frames", "--json"],
                             capture_output=True, text=True, check=False)
        if run.returncode not in (0, 1):
            print(f"eden convert exited {run.returncode}: {run.stderr}")
            return 1
        results = {}
        for line in run.stdout.splitlines():
            record = json.loads(line)
            results[os.path.relpath(record["input"], args.corpus)] = record

        passed = failed = 0
        worst = math.inf
        for name in files:
            problems = []
            want = expected.get(name)
            got = results.get(name)
            if want is None:
                problems.append("no expected outcome in expected.tsv")
            if got is None:
                problems.append("eden printed no result")
            if problems:
                failed += 1
                print(f"FAIL {name}: {'; '.join(problems)}")
                continue
            outcome = "ok" if got["status"] == "ok" else got["error"]["code"]
            if outcome != want:
                detail = got.get("error", {}).get("message", "")
                failed += 1
                print(f"FAIL {name}: expected {want}, got {outcome} {detail}")
                continue
            if outcome != "ok":
                passed += 1
                print(f"ok   {name}: {outcome} ({got['error']['message']})")
                continue
            scores = []
            for output in got["outputs"]:
                ours = np.asarray(Image.open(output["path"]))
                try:
                    ref = reference.render(os.path.join(args.corpus, name), output["frame"] - 1)
                except Exception as e:  # The reference could not decode: nothing to compare to.
                    problems.append(f"reference failed on frame {output['frame']}: {e}")
                    continue
                if ours.shape != ref.shape:
                    problems.append(f"frame {output['frame']}: shape {ours.shape} != reference {ref.shape}")
                    continue
                scores.append(psnr(ours, ref))
            if got["frames"] != len(got["outputs"]):
                problems.append(f"{len(got['outputs'])} JPEGs for {got['frames']} frames")
            low = min(scores) if scores else 0.0
            if low < args.min_psnr:
                problems.append(f"PSNR {low:.1f} dB < {args.min_psnr} dB")
            if problems:
                failed += 1
                print(f"FAIL {name}: {'; '.join(problems)}")
            else:
                passed += 1
                worst = min(worst, low)
                print(f"ok   {name}: {len(scores)} frame(s), min PSNR {low:.1f} dB ({got['transfer_syntax']['name']}, {got['photometric']})")
        stale = sorted(set(expected) - set(files))
        for name in stale:
            failed += 1
            print(f"FAIL {name}: listed in expected.tsv but not in the corpus")
        print(f"worst PSNR over converted files: {worst:.1f} dB")
        print(f"{passed} passed, {failed} failed")
        return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
