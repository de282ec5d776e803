#!/usr/bin/env bash
# The demo: installs everything, builds, starts a throwaway PostgreSQL and Orthanc on loopback,
# loads a demo PACS made from the real DICOM corpus (Debian's pydicom test set: 31 studies with
# report text, plus four broken rows), runs `eden run`, and shows the dataset it wrote.
#   scripts/demo.sh [--keep] [OUTPUT_DIR]   (default ./eden-output)
# The services stop at the end, unless --keep: then they stay up and the script prints the
# `export` lines that point eden at them (the README's examples work next) and how to stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
if [ "${1:-}" = "--keep" ]; then KEEP=1; shift; fi
OUT=${1:-./eden-output}
export EDEN_SERVICES_DIR=${EDEN_SERVICES_DIR:-/tmp/eden-demo-services}
JOBS=${JOBS:-2}

scripts/install-deps.sh
echo "== build (release)"
cmake --preset release >/dev/null
cmake --build --preset release -j"$JOBS" --target eden >/dev/null

echo "== start PostgreSQL and Orthanc on loopback"
rm -rf "$EDEN_SERVICES_DIR"
scripts/services.sh start
[ "$KEEP" -eq 1 ] || trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh env)"

echo "== load the demo PACS (real DICOM files -> Orthanc; studies and reports -> PostgreSQL)"
/usr/bin/python3 scripts/load_demo_pacs.py --orthanc "$EDEN_ORTHANC_URL" \
  --psql "psql -h $EDEN_PG_SOCKET -p $SOURCE_DATABASE_PORT -U $SOURCE_DATABASE_USER -d $SOURCE_DATABASE_NAME" \
  --bad-rows "$EDEN_SERVICES_DIR/bad"

# De-identification is on by default and keyed: the demo makes its key once, beside the output
# folder (never inside it: the key must not travel with the dataset).
KEY=${EDEN_DEID_KEY_FILE:-$OUT.deid.key}
[ -f "$KEY" ] || build/release/src/cli/eden deid keygen --out "$KEY"

echo "== eden run --all-studies -o $OUT --deid-key-file $KEY --package webdataset,llava"
set +e
# The demo's truncated DICOM is a file:// URL: file:// is refused unless a folder is allowed.
build/release/src/cli/eden run --all-studies -o "$OUT" --fresh --allow-url "file://$EDEN_SERVICES_DIR/bad/" \
  --deid-key-file "$KEY" --package webdataset,llava --shard-size 50MB
rc=$?
set -e

dataset="$OUT/eden-dataset-vlms/sample-test"
echo
echo "== the dataset (exit code $rc: 0 all stored, 1 some rows failed -- the demo has 4 broken rows on purpose;"
echo "   de-identified: its one deflated file is refused, and images that may carry burned-in text are excluded)"
echo "$dataset:"
ls "$dataset"
echo "  dicom-files: $(ls "$dataset/dicom-files" | wc -l) files, images-jpg: $(ls "$dataset/images-jpg" | wc -l) files"
echo
echo "-- first lines of the CSV --"
head -c 1200 "$dataset/dicom-reports-extracted-sample.csv"; echo
echo "-- the first line of metadata.jsonl (what an image-folder loader reads) --"
head -n 1 "$dataset/metadata.jsonl" | head -c 1200; echo
echo "-- shards/index.json (WebDataset) --"
head -c 600 "$dataset/shards/index.json"; echo
echo "-- every package read back by independent code (Python json/tarfile + PIL) --"
/usr/bin/python3 tests/integration/dataset_check.py "$dataset"
echo "-- README-dataset.md, the dataset card (top) --"
head -n 30 "$dataset/README-dataset.md"
if [ "$KEEP" -eq 1 ]; then
  echo
  echo "-- PostgreSQL and Orthanc keep running. In your shell, to point eden at them:"
  scripts/services.sh env
  echo "export EDEN_ALLOW_URLS=file://$EDEN_SERVICES_DIR/bad/"
  echo "export EDEN_DEID_KEY_FILE=$KEY"
  echo "-- then e.g.: build/release/src/cli/eden run --studies 4 -o /tmp/eden-try"
  echo "-- to stop them: EDEN_SERVICES_DIR=$EDEN_SERVICES_DIR scripts/services.sh stop"
fi
[ "$rc" -le 1 ]
