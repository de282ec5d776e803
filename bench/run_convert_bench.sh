#!/usr/bin/env bash
# Builds the release preset, makes the benchmark data (once), runs bench_convert.py.
# Usage: bench/run_convert_bench.sh   (N=16 radiographs per syntax; REPS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target eden stage_bench >/dev/null
bench/make_data.sh build/bench-data
/usr/bin/python3 bench/bench_convert.py --eden build/release/src/cli/eden \
  --stage-bench build/release/bench/stage_bench --data build/bench-data --reps "${REPS:-3}"
