#!/usr/bin/env bash
# Broker benchmark (issue 4): the pipeline benchmark's 1,000 radiograph instances (Orthanc +
# PostgreSQL, made by bench/run_pipeline_bench.sh) through `eden run` in-process, then through
# `eden run --broker` with 1 and with 2 `eden worker`s on a local Redis, same instances, same
# machine. Prints instances/s, the ratio to in-process, and the per-task overhead. The workers
# run with their defaults (on 2 cores: 4 tasks at once, 2 of them converting); WORKER_FLAGS
# adds options (e.g. WORKER_FLAGS="-c 2" for two tasks at once, the earlier setting).
set -euo pipefail
# Comparable with earlier figures: de-identification off unless EDEN_DEID says otherwise
# (run_pipeline_bench.sh measures it on and off).
export EDEN_DEID=${EDEN_DEID:-off}
cd "$(dirname "$0")/.."
WORK=${BENCH_WORK:-build/bench-pipeline}
[ -f "$WORK/.loaded-1000" ] || { echo "run bench/run_pipeline_bench.sh first"; exit 1; }
if [ -z "${EDEN_SERVICES_DIR:-}" ]; then
  if [ -d "$WORK/services/pg" ]; then EDEN_SERVICES_DIR="$(realpath "$WORK/services")"; else EDEN_SERVICES_DIR=/tmp/eden-bench-services; fi
fi
export EDEN_SERVICES_DIR EDEN_PG_PORT=${EDEN_PG_PORT:-55452} EDEN_ORTHANC_PORT=${EDEN_ORTHANC_PORT:-58072}
REDIS_PORT=${REDIS_PORT:-56395}
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target eden >/dev/null
EDEN=build/release/src/cli/eden
scripts/services.sh start >/dev/null
eval "$(scripts/services.sh env)"
RDIR=$(mktemp -d)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$RDIR/redis.pid" --dir "$RDIR" --logfile "$RDIR/redis.log"
sleep 0.5
WORKERS=()
cleanup() {
  for p in "${WORKERS[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$(cat "$RDIR/redis.pid")" 2>/dev/null || true
  scripts/services.sh stop >/dev/null
  rm -rf "$RDIR" "$WORK/out-broker"
}
trap cleanup EXIT
BROKER="redis://127.0.0.1:$REDIS_PORT/0"

timed_run() {  # label, extra args...
  local label=$1; shift
  rm -rf "$WORK/out-broker"; sync
  local t0 t1
  t0=$(date +%s.%N)
  "$EDEN" run --all-studies -o "$WORK/out-broker" --progress none --summary-json "$WORK/s.json" "$@" >/dev/null
  t1=$(date +%s.%N)
  local stored
  stored=$(/usr/bin/python3 -c "import json; print(json.load(open('$WORK/s.json'))['instances']['stored'])")
  echo "$label $(echo "$t1 - $t0" | bc) $stored"
}
start_workers() {  # n
  for i in $(seq "$1"); do
    # shellcheck disable=SC2086
    "$EDEN" worker --broker "$BROKER" ${WORKER_FLAGS:-} -n "bench$i@local" --log-level WARNING 2>"$RDIR/w$i.log" &
    WORKERS+=($!)
  done
  sleep 1
}
stop_workers() {
  for p in "${WORKERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  WORKERS=()
}

: > "$WORK/broker-times"
for round in 1 2; do
  timed_run in-process >> "$WORK/broker-times"
  start_workers 1; timed_run broker-1-worker --broker "$BROKER" >> "$WORK/broker-times"; stop_workers
  start_workers 2; timed_run broker-2-workers --broker "$BROKER" >> "$WORK/broker-times"; stop_workers
done
/usr/bin/python3 - "$WORK/broker-times" <<'PY'
import sys
best = {}
for line in open(sys.argv[1]):
    label, s, stored = line.split()
    best[label] = min(best.get(label, (1e9, 0)), (float(s), int(stored)))
base = best["in-process"][0]
print("| path (best of 2, alternated) | stored | seconds | instances/s | vs in-process | overhead per task |")
print("|---|---|---|---|---|---|")
for label in ("in-process", "broker-1-worker", "broker-2-workers"):
    s, stored = best[label]
    print(f"| {label} | {stored} | {s:.1f} | {1000 / s:.1f} | {base / s:.2f}x | {(s - base) / 1000 * 1000:+.1f} ms |")
PY
