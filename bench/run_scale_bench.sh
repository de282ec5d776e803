#!/usr/bin/env bash
# Memory against sample size (issue 3: "peak RSS < 512 MB, whatever the number of instances").
# For each N in COUNTS: N instances (4 a study, ~1 KB of report text a study) listed in a real
# PostgreSQL, each a file:// URL to the same small CT from pydicom's test set, so the run is
# bound by per-instance bookkeeping (journal, CSV, listing), not by pixels; `eden run
# --all-studies` to a local folder, then a rerun that finds everything stored. Prints wall time,
# instances/s and peak RSS of both. EDEN=path/to/eden compares another build (default: this
# tree's); RUN_FLAGS adds options to both runs; STUDIES=K runs a sample of K studies
# (`--studies K --seed scale`) instead of all of them.
#   bench/run_scale_bench.sh            (COUNTS="2000 100000")
#   STUDIES=2500 COUNTS=100000 bench/run_scale_bench.sh   (10,000 of 100,000 instances)
# CONSOLE=FILE keeps the first run's console (--progress plain) in FILE instead of dropping it;
# MISSING_EVERY=K points every K-th instance at a file that does not exist (a failure each), to
# show how failures look at scale (the README's console example:
#   COUNTS=100000 MISSING_EVERY=2000 CONSOLE=console.txt bench/run_scale_bench.sh).
set -euo pipefail
# Comparable with earlier figures: de-identification off unless EDEN_DEID says otherwise
# (run_pipeline_bench.sh measures it on and off).
export EDEN_DEID=${EDEN_DEID:-off}
cd "$(dirname "$0")/.."
COUNTS=${COUNTS:-"2000 100000"}
WORK=${BENCH_WORK:-build/bench-scale}
export EDEN_SERVICES_DIR=${EDEN_SERVICES_DIR:-/tmp/eden-bench-scale-services}
export EDEN_PG_PORT=${EDEN_PG_PORT:-55462} EDEN_ORTHANC_PORT=${EDEN_ORTHANC_PORT:-58082}
if [ -z "${EDEN:-}" ]; then
  scripts/install-deps.sh >/dev/null
  cmake --preset release >/dev/null
  cmake --build --preset release -j2 --target eden >/dev/null
  EDEN=build/release/src/cli/eden
fi
EDEN=$(realpath "$EDEN")

rm -rf "$WORK" "$EDEN_SERVICES_DIR"
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
cp /usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm "$WORK/ct.dcm"
scripts/services.sh start >/dev/null
trap 'scripts/services.sh stop >/dev/null' EXIT
eval "$(scripts/services.sh env)"
psql_pacs() { psql -h "$EDEN_PG_SOCKET" -p "$SOURCE_DATABASE_PORT" -U eden -d pacs -q -v ON_ERROR_STOP=1 "$@"; }

echo "| instances (selected of PACS) | CSV MB | run s | instances/s | run peak RSS MB | rerun s | rerun peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
for n in $COUNTS; do
  {
    echo "BEGIN; DROP TABLE IF EXISTS pacs_report_fields, pacs_instances, pacs_series, pacs_studies;"
    cat queries/pacs_schema.sql
    cat <<SQL
INSERT INTO pacs_studies (id, study_instance_uid, modality, body_part)
  SELECT gen_random_uuid(), '1.2.826.0.1.3680043.8.498.' || s, 'CT', 'CHEST' FROM generate_series(1, $n / 4) s;
INSERT INTO pacs_series (id, study_id, series_number, modality) SELECT gen_random_uuid(), id, 1, 'CT' FROM pacs_studies;
INSERT INTO pacs_instances (id, series_id, instance_number, file_path, file_url)
  SELECT gen_random_uuid(), se.id, k, 'CT_small.dcm', 'file://$WORK/ct.dcm' FROM pacs_series se, generate_series(1, 4) k;
UPDATE pacs_instances SET file_url = 'file://$WORK/missing.dcm'
  WHERE ${MISSING_EVERY:-0} > 0 AND id IN (SELECT id FROM pacs_instances ORDER BY md5(id::text) LIMIT $n / ${MISSING_EVERY:-1});
INSERT INTO pacs_report_fields (id, study_id, name, value)
  SELECT gen_random_uuid(), id, 'findings',
         repeat('No focal consolidation, pleural effusion or pneumothorax; heart size normal. ', 14) || id
  FROM pacs_studies;
COMMIT;
ANALYZE pacs_studies, pacs_series, pacs_instances, pacs_report_fields;  -- as autovacuum would soon
SQL
  } | psql_pacs
  out="$WORK/out-$n"
  if [ -n "${STUDIES:-}" ]; then
    select=(--studies "$STUDIES" --seed scale)
    want=$(( STUDIES < n / 4 ? STUDIES * 4 : n / 4 * 4 ))
  else
    select=(--all-studies)
    want=$(( n / 4 * 4 ))
  fi
  progress=none
  [ -n "${CONSOLE:-}" ] && progress=plain
  /usr/bin/time -f "%e %M" -o "$WORK/t-run" "$EDEN" run "${select[@]}" -o "$out" --progress $progress --allow-url "file://$WORK/" ${RUN_FLAGS:-} \
    --summary-json "$WORK/s-$n.json" >"${CONSOLE:-/dev/null}" || [ $? -eq 1 ]
  /usr/bin/time -f "%e %M" -o "$WORK/t-rerun" "$EDEN" run "${select[@]}" -o "$out" --progress none --allow-url "file://$WORK/" ${RUN_FLAGS:-} >/dev/null || [ $? -eq 1 ]
  read -r run_s run_kb < <(tail -n 1 "$WORK/t-run")  # GNU time adds a line for exit 1
  read -r rerun_s rerun_kb < <(tail -n 1 "$WORK/t-rerun")
  csv_mb=$(du -m "$out/eden-dataset-vlms/sample-test/dicom-reports-extracted-sample.csv" | cut -f1)
  stored=$(/usr/bin/python3 -c "import json; print(json.load(open('$WORK/s-$n.json'))['instances']['stored'])")
  [ "${MISSING_EVERY:-0}" -gt 0 ] && want=$(( want - n / MISSING_EVERY ))
  [ "$stored" -eq "$want" ] || { echo "only $stored of $want stored" >&2; exit 1; }
  /usr/bin/python3 -c "
n, w, cs, rs, rk, rrs, rrk = $n, $want, $csv_mb, $run_s, $run_kb, $rerun_s, $rerun_kb
print(f'| {w} of {n} | {cs} | {rs:.1f} | {w / rs:.0f} | {rk / 1024:.0f} | {rrs:.1f} | {rrk / 1024:.0f} |')"
  rm -rf "$out"
done
