#!/usr/bin/env bash
# Builds the libFuzzer target (fuzz preset, clang + ASan + UBSan) and fuzzes the DICOM decoder
# for N seconds (default 60), seeded with the real files of Debian's pydicom test set.
# Fails on any crash, leak, timeout or oversized allocation; the crashing input is kept in
# build/fuzz/artifacts/ to reproduce with: build/fuzz/fuzz/dicom_decoder_fuzzer FILE
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
JOBS=${JOBS:-2}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$JOBS" --target dicom_decoder_fuzzer

seeds=build/fuzz/seeds
work=build/fuzz/corpus
mkdir -p "$seeds" "$work" build/fuzz/artifacts
find /usr/lib/python3/dist-packages/pydicom/data/test_files -name '*.dcm' -size -300k -exec cp -n {} "$seeds/" \;

# -fork would use both cores, but keeps going after a crash; run in-process and stop on the first.
build/fuzz/fuzz/dicom_decoder_fuzzer "$work" "$seeds" \
  -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -max_len=300000 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ 2>&1 | tail -n 25
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); reproducer in build/fuzz/artifacts/"
  exit "$status"
fi
echo "fuzz: no crash in ${SECONDS_TO_RUN}s"
