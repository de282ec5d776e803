#!/usr/bin/env bash
# Before/after (issue 12): `eden run --all-studies --deid off` of the pipeline bench's 1,000 radiographs
# (Orthanc + PostgreSQL on loopback) to a local folder, then to the GCS JSON API test server,
# with the baseline binary (BASE) and this tree's (NEW), alternated ROUNDS times.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:?set BASE to the baseline eden binary (e.g. a release build of an older commit in a git worktree)}
NEW=${NEW:-build/release/src/cli/eden}
WORK=build/bench-pipeline
export EDEN_SERVICES_DIR="$(realpath "$WORK/services" 2>/dev/null || echo /tmp/eden-bench-services)"
[ -d "$EDEN_SERVICES_DIR/pg" ] || EDEN_SERVICES_DIR=/tmp/eden-bench-services
export EDEN_PG_PORT=55452 EDEN_ORTHANC_PORT=58072
scripts/services.sh start >/dev/null
eval "$(scripts/services.sh env)"
trap 'scripts/services.sh stop >/dev/null' EXIT
find "$EDEN_SERVICES_DIR/orthanc-db" -type f -exec cat {} + > /dev/null
OUT=/tmp/eden-ba
: > /tmp/ba-times
for round in $(seq "${ROUNDS:-3}"); do
  for which in base new; do
    bin=$BASE; [ "$which" = new ] && bin=$NEW
    rm -rf "$OUT"; sync
    /usr/bin/time -f "%e %U %S %M" -o /tmp/ba-t "$bin" run --all-studies -o "$OUT" --progress none --deid off >/dev/null 2>&1 || true
    echo "local $which $(cat /tmp/ba-t)" | tee -a /tmp/ba-times
  done
done
for round in $(seq "${GCS_ROUNDS:-2}"); do
  for which in base new; do
    bin=$BASE; [ "$which" = new ] && bin=$NEW
    ROOT=/tmp/eden-ba-gcs; rm -rf "$ROOT" "$OUT"; mkdir -p "$ROOT"
    /usr/bin/python3 tests/gcs/gcs_test_server.py --root "$ROOT" --bucket bench > "$ROOT.log" 2>&1 &
    PID=$!
    for _ in $(seq 50); do grep -q listening "$ROOT.log" 2>/dev/null && break; sleep 0.1; done
    PORT=$(awk '/listening/ {print $2}' "$ROOT.log")
    STORAGE_EMULATOR_HOST=127.0.0.1:$PORT /usr/bin/time -f "%e %U %S %M" -o /tmp/ba-t "$bin" run --studies 250 --seed ba -o gs://bench/ds \
      --journal "$OUT.journal" --progress none --deid off >/dev/null 2>&1 || true
    kill $PID; wait $PID 2>/dev/null || true
    rm -f "$OUT.journal"*
    echo "gcs $which $(cat /tmp/ba-t)" | tee -a /tmp/ba-times
  done
done
