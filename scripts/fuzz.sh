#!/usr/bin/env bash
# Fuzzing with libFuzzer (fuzz preset: clang + ASan + UBSan), one executable per target of
# fuzz/targets.h, seeded by scripts/make_fuzz_seeds.py from the real corpus.
#
#   scripts/fuzz.sh                      CI: replay every kept input (tests/data/fuzz/<target>/),
#                                        then fuzz each target for FUZZ_RUNS inputs (default 20000)
#                                        with a fixed -seed: the same code gives the same result.
#   scripts/fuzz.sh --long TARGET MIN    a campaign: both cores (-fork=2) for MIN minutes, corpus
#                                        kept in build/fuzz/corpus/TARGET, crashes in
#                                        build/fuzz/artifacts/TARGET/; prints the figures that go
#                                        into docs/fuzzing.md.
# Any crash, leak, timeout (10 s), allocation over 512 MB or broken invariant fails.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
TARGETS=(convert jpeg_lossless rle jpeg2000 htj2k_answer celery_message gcs_json config pacs_row deid report)
COMMON=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=300000)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$JOBS" --target "${TARGETS[@]/%/_fuzzer}"
seeds=build/fuzz/seeds
/usr/bin/python3 scripts/make_fuzz_seeds.py "$seeds" 2>/dev/null

if [ "${1:-}" = "--long" ]; then
  target=$2
  minutes=$3
  corpus=build/fuzz/corpus/$target
  artifacts=build/fuzz/artifacts/$target/
  mkdir -p "$corpus" "$artifacts"
  start=$(date +%s)
  set +e
  "build/fuzz/fuzz/${target}_fuzzer" "$corpus" "$seeds/$target" -fork="$JOBS" -ignore_crashes=1 \
    -max_total_time=$((minutes * 60)) "${COMMON[@]}" -artifact_prefix="$artifacts" >"build/fuzz/$target.log" 2>&1
  set -e
  crashes=$(find "$artifacts" -type f | wc -l)
  last=$(grep -E '^#[0-9]+' "build/fuzz/$target.log" | tail -n 1)
  echo "$target: $(( ($(date +%s) - start) / 60 )) min, last status: $last"
  echo "$target: corpus $(find "$corpus" -type f | wc -l) inputs, crashes/timeouts/ooms kept: $crashes ($artifacts)"
  [ "$crashes" -eq 0 ]
  exit
fi

runs=${FUZZ_RUNS:-20000}
status=0
for target in "${TARGETS[@]}"; do
  binary="build/fuzz/fuzz/${target}_fuzzer"
  kept=(tests/data/fuzz/"$target"/*)
  if [ -e "${kept[0]}" ]; then
    if ! "$binary" "${COMMON[@]}" "${kept[@]}" >"build/fuzz/$target-replay.log" 2>&1; then
      echo "fuzz: $target: a kept input fails again (build/fuzz/$target-replay.log)"
      status=1
      continue
    fi
  fi
  work=$(mktemp -d)
  mkdir -p "build/fuzz/artifacts/$target"
  # Deterministic: a fixed -seed, no corpus reloads, and no address randomisation (comparisons
  # of pointers feed libFuzzer's mutations; with ASLR two runs of the same code took other paths).
  if setarch "$(uname -m)" -R "$binary" "$work" "$seeds/$target" -seed=1 -runs="$runs" -reload=0 "${COMMON[@]}" \
       -artifact_prefix="build/fuzz/artifacts/$target/" >"build/fuzz/$target.log" 2>&1; then
    echo "fuzz: $target: $runs inputs, no crash ($(grep -cE '^#[0-9]+.*(NEW|REDUCE)' "build/fuzz/$target.log") new paths)"
  else
    echo "fuzz: $target FAILED; reproducer in build/fuzz/artifacts/$target/"
    tail -n 40 "build/fuzz/$target.log"
    status=1
  fi
  rm -rf "$work"
done
exit $status
