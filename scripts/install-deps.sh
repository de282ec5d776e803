#!/usr/bin/env bash
# Installs every Debian 12 package eden's build, tests, benchmarks and demo need.
# Idempotent: installs only what is missing; runs apt-get update only then.
set -euo pipefail

PACKAGES=(
  # Toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format clang-tidy git ca-certificates
  # Libraries (each confined to one adapter module)
  libdcmtk-dev dcmtk libopenjp2-7-dev libopenjph-dev libturbojpeg0-dev libfmt-dev libexpected-dev
  libcli11-dev nlohmann-json3-dev libpq-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev libhiredis-dev uuid-dev
  libcpp-httplib-dev
  # Real services for the demo and the integration tests
  postgresql orthanc redis-server curl openssl
  # Tests and benchmarks
  libgtest-dev libgmock-dev googletest
  python3-pydicom python3-numpy python3-pil python3-gdcm libgdcm-tools python3-crc32c python3-celery python3-redis
  dicom3tools
  # HTJ2K test files: OpenJPH's ojph_compress
  openjph-tools
  # The dashboard's browser test: Debian's Chromium, driven by playwright-core from npm
  chromium
  # compose.yaml checked by Docker Compose itself (docker-compose config)
  docker-compose python3-yaml
  # The container image: built with podman from a debootstrap base (scripts/build-image.sh)
  podman debootstrap uidmap
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Node.js runs Google's official GCS client in the tests (tests/gcs/client, from npm). The
# machine image has Node 20; Debian's own nodejs (18) and npm serve where it does not.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
