#!/usr/bin/env bash
# Installs dependencies, builds with -Werror, runs every test; then the unit tests under
# ASan+UBSan and a short libFuzzer run of the DICOM decoder. What CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-120}

scripts/install-deps.sh
echo "== npm packages for the tests (Google's official GCS client, pinned by package-lock.json)"
(cd tests/gcs/client && npm ci --no-audit --no-fund --loglevel=error)

echo "== build (ci preset: RelWithDebInfo, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$JOBS"

echo "== tests"
ctest --preset ci -j"$JOBS"

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$JOBS"
ctest --preset asan -j"$JOBS"

echo "== fuzz the DICOM decoder for ${FUZZ_SECONDS}s"
scripts/fuzz.sh "$FUZZ_SECONDS"
