#!/usr/bin/env bash
# Benchmark data, made once into DIR (default build/bench-data): N radiographs per transfer
# syntax (explicit little endian, JPEG lossless SV1, JPEG 2000 lossless).
set -euo pipefail
dir=${1:-build/bench-data}
n=${N:-16}
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$dir/.done-$n" ]; then
  [ -d "$dir/jpeg-baseline" ] || "$here/make_baseline.sh" "$dir"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/uncompressed" "$dir/jpeg-lossless" "$dir/j2k"
/usr/bin/python3 "$here/make_radiographs.py" "$dir/uncompressed" "$n"
for f in "$dir"/uncompressed/*.dcm; do
  b=$(basename "$f")
  dcmcjpeg +e1 "$f" "$dir/jpeg-lossless/$b"
  gdcmconv --j2k "$f" "$dir/j2k/$b"
done
"$here/make_baseline.sh" "$dir"
touch "$dir/.done-$n"
du -sh "$dir"/*
