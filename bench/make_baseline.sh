#!/usr/bin/env bash
# JPEG baseline (process 1, 8-bit, lossy quality 90) copies of the benchmark radiographs: each
# uncompressed radiograph scaled to 8 bits (its full range), then compressed by DCMTK's dcmcjpeg.
#   bench/make_baseline.sh DIR   (DIR/uncompressed -> DIR/jpeg-baseline)
set -euo pipefail
dir=$1
mkdir -p "$dir/jpeg-baseline" "$dir/.8bit"
/usr/bin/python3 - "$dir/uncompressed" "$dir/.8bit" <<'PY'
import glob, os, sys
import numpy as np
import pydicom
src, dst = sys.argv[1], sys.argv[2]
for path in sorted(glob.glob(os.path.join(src, "*.dcm"))):
    ds = pydicom.dcmread(path)
    a = ds.pixel_array.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    ds.PixelData = np.round((a - lo) * 255.0 / max(hi - lo, 1.0)).astype(np.uint8).tobytes()
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    for tag in ("WindowCenter", "WindowWidth", "RescaleIntercept", "RescaleSlope"):
        if tag in ds:
            delattr(ds, tag)
    ds.save_as(os.path.join(dst, os.path.basename(path)), write_like_original=False)
PY
for f in "$dir"/.8bit/*.dcm; do
  dcmcjpeg +eb +q 90 "$f" "$dir/jpeg-baseline/$(basename "$f")"
done
rm -rf "$dir/.8bit"
