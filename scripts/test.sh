#!/usr/bin/env bash
# Installs dependencies, checks the C++ format, builds with -Werror, runs clang-tidy, runs every test; then the unit tests under
# ASan+UBSan and under ThreadSanitizer, and the fuzz step (every kept crash input replayed, each
# fuzz target run for a fixed number of inputs with a fixed seed). What CI runs (.ci/run).
# Last, the container image is built and smoke-tested inside its root (scripts/build-image.sh:
# podman + a debootstrap base, ~11 minutes on 2 cores); --no-image skips it.
#   scripts/test.sh [--no-image]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
IMAGE=1
if [ "${1:-}" = "--no-image" ]; then IMAGE=0; fi

scripts/install-deps.sh
echo "== format (clang-format, .clang-format)"
scripts/check-format.sh
echo "== npm packages for the tests (Google's official GCS client; playwright-core for the dashboard; pinned by package-lock.json)"
(cd tests/gcs/client && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/dashboard && npm ci --no-audit --no-fund --loglevel=error)

echo "== build (ci preset: RelWithDebInfo, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$JOBS"

echo "== clang-tidy (.clang-tidy: bugprone and performance checks, as errors)"
scripts/check-tidy.sh build/ci

echo "== tests"
ctest --preset ci -j"$JOBS"

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$JOBS"
ctest --preset asan -j"$JOBS"

echo "== unit tests under ThreadSanitizer (the executor, the worker's time limits, the journal)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j"$JOBS"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan -j"$JOBS"

echo "== fuzz: kept crash inputs, then every target with a fixed seed (scripts/fuzz.sh)"
scripts/fuzz.sh

if [ "$IMAGE" -eq 1 ]; then
  echo "== container image (scripts/build-image.sh)"
  scripts/build-image.sh eden:test
fi
