#!/usr/bin/env bash
# The demo: installs everything, builds, starts a throwaway PostgreSQL and Orthanc on loopback,
# loads a demo PACS made from the real DICOM corpus (Debian's pydicom test set: 31 studies with
# report text, plus four broken rows), runs `eden run`, and shows the dataset it wrote.
#   scripts/demo.sh [OUTPUT_DIR]   (default ./eden-output; services stop at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
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
trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh env | sed 's/^/export /')"

echo "== load the demo PACS (real DICOM files -> Orthanc; studies and reports -> PostgreSQL)"
/usr/bin/python3 scripts/load_demo_pacs.py --orthanc "$EDEN_ORTHANC_URL" \
  --psql "psql -h $EDEN_PG_SOCKET -p $SOURCE_DATABASE_PORT -U $SOURCE_DATABASE_USER -d $SOURCE_DATABASE_NAME" \
  --bad-rows "$EDEN_SERVICES_DIR/bad"

echo "== eden run --all-studies -o $OUT"
set +e
# The demo's truncated DICOM is a file:// URL: file:// is refused unless a folder is allowed.
build/release/src/cli/eden run --all-studies -o "$OUT" --fresh --allow-url "file://$EDEN_SERVICES_DIR/bad/"
rc=$?
set -e

dataset="$OUT/eden-dataset-vlms/sample-test"
echo
echo "== the dataset (exit code $rc: 0 all stored, 1 some rows failed -- the demo has 4 broken rows on purpose)"
echo "$dataset:"
ls "$dataset"
echo "  dicom-files: $(ls "$dataset/dicom-files" | wc -l) files, images-jpg: $(ls "$dataset/images-jpg" | wc -l) files"
echo
echo "-- first lines of the CSV --"
head -c 1200 "$dataset/dicom-reports-extracted-sample.csv"; echo
echo "-- README-dataset.md (top) --"
head -n 20 "$dataset/README-dataset.md"
[ "$rc" -le 1 ]
