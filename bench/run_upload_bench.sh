#!/usr/bin/env bash
# Upload benchmark (issue 5): the 1,000-instance dataset of the pipeline benchmark (its DICOM
# files and their JPEGs, made by bench/run_pipeline_bench.sh and `eden convert`) uploaded to the
# GCS test server on loopback through GcsObjectStore, with 1 and 16 uploads in flight; in the
# same run, Google's official Node client uploading the same objects 16 at a time, as a
# reference. Prints objects/s and MB/s.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${BENCH_WORK:-build/bench-pipeline}
ROOT=${UPLOAD_BENCH_ROOT:-/tmp/eden-upload-bench}
[ -d "$WORK/files" ] || { echo "run bench/run_pipeline_bench.sh first (it makes $WORK/files)"; exit 1; }
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target eden upload_bench >/dev/null
(cd tests/gcs/client && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
if [ ! -d "$WORK/jpg" ]; then build/release/src/cli/eden convert "$WORK/files" -o "$WORK/jpg" -j 2 >/dev/null; fi
echo "dataset: $(ls "$WORK/files" | wc -l) DICOM ($(du -sm "$WORK/files" | cut -f1) MB), $(ls "$WORK/jpg" | wc -l) JPEG ($(du -sm "$WORK/jpg" | cut -f1) MB)"

start_server() {
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  /usr/bin/python3 tests/gcs/gcs_test_server.py --root "$ROOT" --bucket bench > "$ROOT.log" 2>&1 &
  PID=$!
  for _ in $(seq 50); do grep -q listening "$ROOT.log" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/listening/ {print $2}' "$ROOT.log")
}
stop_server() { kill "$PID"; wait "$PID" 2>/dev/null || true; rm -rf "$ROOT"; }
trap 'kill $PID 2>/dev/null || true' EXIT

for n in 1 16; do
  sync; start_server
  /usr/bin/time -f "  eden client CPU: %U s user + %S s system, peak RSS %M KB" \
    build/release/bench/upload_bench "http://127.0.0.1:$PORT" bench ds "$n" "$WORK/files" "$WORK/jpg"
  server_cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$PID/stat")
  echo "  test server CPU: $server_cpu s"
  stop_server
done
sync; start_server
STORAGE_EMULATOR_HOST="http://127.0.0.1:$PORT" /usr/bin/time -f "  node client CPU: %U s user + %S s system, peak RSS %M KB" \
  node bench/upload_node_client.js bench ds 16 "$WORK/files" "$WORK/jpg"
echo "  test server CPU: $(awk '{print ($14 + $15) / 100}' "/proc/$PID/stat") s"
stop_server
