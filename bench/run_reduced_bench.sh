#!/usr/bin/env bash
# Decode at the resolution needed (issue 17): `eden convert -j2` of the benchmark radiographs
# (16 a transfer syntax, 3000x2500, bench/make_data.sh) at full size, and with --max-size 1024 and
# 512 both as eden does it (JPEG 2000: only the resolution levels needed; JPEG baseline: scaled in
# the IDCT by libjpeg-turbo) and with --full-decode
# (every pixel decoded, then the same resize: what eden did before). Best of REPS (default 3),
# alternated; prints seconds and the speed-ups, and the PSNR of each reduced output against
# the full-decode output of the same size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target eden >/dev/null
bench/make_data.sh build/bench-data
EDEN=build/release/src/cli/eden
WORK=build/bench-reduced
rm -rf "$WORK"; mkdir -p "$WORK"
/usr/bin/python3 - "$EDEN" "$WORK" "${REPS:-3}" <<'PY'
import glob, os, shutil, subprocess, sys, time
import numpy as np
from PIL import Image
eden, work, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
cases = [("full size", []), ("--max-size 1024", ["--max-size", "1024"]),
         ("--max-size 1024 --full-decode", ["--max-size", "1024", "--full-decode"]),
         ("--max-size 512", ["--max-size", "512"]), ("--max-size 512 --full-decode", ["--max-size", "512", "--full-decode"])]
print("| syntax | path | seconds (best) | vs full size | vs --full-decode |")
print("|---|---|---|---|---|")
for syntax in os.environ.get("SYNTAXES", "j2k jpeg-baseline jpeg-lossless uncompressed").split():
    src = os.path.join("build/bench-data", syntax)
    best = {}
    for _ in range(reps):
        for name, extra in cases:
            out = os.path.join(work, syntax, name.replace(" ", "_"))
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            subprocess.run([eden, "convert", src, "-o", out, "-j", "2", *extra], check=True, stdout=subprocess.DEVNULL)
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t)
    for name, _ in cases:
        full = best["full size"]
        ref = best.get(name + " --full-decode")
        print(f"| {syntax} | {name} | {best[name]:.2f} | {full / best[name]:.2f}x | {ref / best[name]:.2f}x |" if ref
              else f"| {syntax} | {name} | {best[name]:.2f} | {full / best[name]:.2f}x | |")
    for size in ("1024", "512"):
        a_dir = os.path.join(work, syntax, f"--max-size_{size}")
        psnrs = []
        for a in sorted(glob.glob(os.path.join(a_dir, "*.jpg"))):
            x = np.asarray(Image.open(a)).astype(np.float64)
            y = np.asarray(Image.open(a.replace(f"--max-size_{size}", f"--max-size_{size}_--full-decode"))).astype(np.float64)
            mse = ((x - y) ** 2).mean()
            psnrs.append(10 * np.log10(255 ** 2 / mse) if mse else float("inf"))
        print(f"{syntax} --max-size {size}: PSNR vs --full-decode min {min(psnrs):.1f} dB, median {sorted(psnrs)[len(psnrs) // 2]:.1f} dB ({len(psnrs)} images)")
PY
