#!/usr/bin/env bash
# Builds eden's container image with podman and smoke-tests it without starting a container
# (on machines where OCI runtimes cannot run, containers cannot start; images still build):
#   1. a Debian 12 base image from `debootstrap --variant=minbase bookworm` + `podman import`
#      (no registry needed; reused if present), unless BASE_IMAGE is given;
#   2. `podman build --isolation=chroot` of the Containerfile (multi-stage);
#   3. the image's root mounted (`podman mount`): its own `eden --version` and `eden convert` of
#      a corpus file run inside it with chroot, as the image's non-root user; the JPEG is checked;
#   4. the image's size printed.
#   scripts/build-image.sh [TAG]          (default eden:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-eden:latest}
WORK=${EDEN_IMAGE_WORK:-/tmp/eden-image-work}
CORPUS=/usr/lib/python3/dist-packages/pydicom/data/test_files
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

for p in podman debootstrap; do
  command -v "$p" >/dev/null || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends podman debootstrap >/dev/null; break; }
done

BASE=${BASE_IMAGE:-localhost/eden-debian-base:bookworm}
if [ -z "${BASE_IMAGE:-}" ] && ! $SUDO podman image exists "$BASE"; then
  echo "== base image: debootstrap --variant=minbase bookworm"
  $SUDO rm -rf "$WORK/rootfs"
  mkdir -p "$WORK"
  $SUDO debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >/dev/null
  echo "deb http://deb.debian.org/debian-security bookworm-security main" | $SUDO tee -a "$WORK/rootfs/etc/apt/sources.list" >/dev/null
  $SUDO tar -C "$WORK/rootfs" -c . | $SUDO podman import - "$BASE" >/dev/null
  $SUDO rm -rf "$WORK/rootfs"
fi

echo "== podman build --isolation=chroot ($TAG from $BASE)"
start=$(date +%s)
$SUDO podman build --isolation=chroot --build-arg BASE_IMAGE="$BASE" -t "$TAG" -f Containerfile . >"$WORK.build.log" 2>&1 \
  || { tail -40 "$WORK.build.log"; exit 1; }
echo "   built in $(( $(date +%s) - start )) s"

echo "== smoke test inside the image's root (podman mount + chroot)"
ctr=$($SUDO podman create "$TAG")
root=$($SUDO podman mount "$ctr")
cleanup() { $SUDO podman umount "$ctr" >/dev/null 2>&1 || true; $SUDO podman rm "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
$SUDO mkdir -p "$root/tmp/smoke"
$SUDO cp "$CORPUS/CT_small.dcm" "$root/tmp/smoke/"
$SUDO chmod -R a+rwX "$root/tmp/smoke"
version=$($SUDO chroot --userspec=10001:10001 "$root" /usr/local/bin/eden --version)
echo "   eden --version: $version"
$SUDO chroot --userspec=10001:10001 "$root" /usr/local/bin/eden convert /tmp/smoke/CT_small.dcm -o /tmp/smoke/out --json \
  >"$WORK.convert.json"
jpg=$(find "$root/tmp/smoke/out" -name '*.jpg' | head -1)
[ -n "$jpg" ] && [ "$(head -c 2 "$jpg" | od -An -tx1 | tr -d ' ')" = "ffd8" ] || { echo "no JPEG from eden convert"; exit 1; }
echo "   eden convert: $(basename "$jpg") ($(stat -c %s "$jpg") bytes, a JPEG)"
# The HTJ2K decoder process (OpenJPH) beside eden: a 128x128 12-bit codestream decoded into its
# 32-byte answer header + 128*128 16-bit samples.
$SUDO cp tests/data/htj2k/ct_small_12bit.j2c "$root/tmp/smoke/"
$SUDO chroot --userspec=10001:10001 "$root" /bin/sh -c \
  '/usr/local/bin/eden-htj2k 128 128 1 16 0 0 1000000 3</tmp/smoke/ct_small_12bit.j2c 4>/tmp/smoke/htj2k.out'
answer=$($SUDO stat -c %s "$root/tmp/smoke/htj2k.out")
[ "$answer" -eq $((32 + 128 * 128 * 2)) ] || { echo "eden-htj2k answered $answer bytes"; exit 1; }
echo "   eden-htj2k: a 128x128 HTJ2K frame decoded ($answer bytes)"
user=$($SUDO podman image inspect "$TAG" --format '{{.Config.User}} {{.Config.Entrypoint}}')
echo "   user and entrypoint: $user"
[ "${user%% *}" = "eden" ] || { echo "the image does not run as the eden user"; exit 1; }
size=$($SUDO podman image inspect "$TAG" --format '{{.Size}}')
echo "== image $TAG: $(( size / 1000000 )) MB"
