#!/usr/bin/env bash
# Runs clang-tidy (Debian 12's, 14) with .clang-tidy over every .cc under src/, using the
# compile commands of a configured build (default: the ci preset's). Fails on any warning.
#   scripts/check-tidy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/ci}
if [ ! -f "$BUILD/compile_commands.json" ]; then
  echo "check-tidy: $BUILD/compile_commands.json missing (configure a build first)" >&2
  exit 2
fi
# The generated headers (version.h, the embedded query) must exist before their users are checked.
cmake --build "$BUILD" --target eden_cli >/dev/null
LOG=$(mktemp)
if ! run-clang-tidy -p "$BUILD" -j "${JOBS:-2}" -quiet -extra-arg=-Wno-unknown-warning-option "$PWD/src/.*\.cc$" >"$LOG" 2>&1; then
  grep -E "(warning|error):" "$LOG" | sed 's/\x1b\[[0-9;]*m//g' | sort -u | head -n 60
  echo "check-tidy: clang-tidy found the problems above" >&2
  rm -f "$LOG"
  exit 1
fi
rm -f "$LOG"
echo "check-tidy: $(git ls-files 'src/*.cc' | wc -l) files clean"
