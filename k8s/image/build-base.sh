#!/usr/bin/env bash
# Builds one of Ferry's base images from Debian packages (debootstrap + podman import), for a machine that reaches
# Debian's archive but no container registry. Prints the image reference on stdout, nothing else.
#
#   k8s/image/build-base.sh jre     # runtime stage: openjdk-17-jre-headless   -> localhost/ferry-base-jre:<hash>
#   k8s/image/build-base.sh build   # build stage: openjdk-17-jdk-headless, maven -> localhost/ferry-base-build:<hash>
#
# Cached by its inputs: the tag is a hash of this script, the flavour, its packages, the suite and the mirrors, so a
# second run finds the image and returns in about a second. Debian updates do not change the hash: to take them,
# run with FERRY_BASE_REBUILD=1 (or podman rmi the image). Older tags of the same flavour are removed after a build.
# Needs root (debootstrap), podman, debootstrap; CONTAINERS_CONF is honoured like any podman call.
set -euo pipefail

flavour=${1:-}
case "$flavour" in
  jre) packages="openjdk-17-jre-headless" ;;
  build) packages="openjdk-17-jdk-headless,maven" ;;
  *) echo "usage: $0 jre|build" >&2; exit 64 ;;
esac
suite=bookworm
mirror=${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${FERRY_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
repo=localhost/ferry-base-$flavour

hash=$( { cat "$0"; printf '%s\n' "$flavour" "$packages" "$suite" "$mirror" "$security_mirror"; } | sha256sum | cut -c1-12)
ref=$repo:$hash

log() { echo "build-base($flavour): $*" >&2; }

# One build at a time per machine: a second caller waits, then finds the image.
lock=/var/tmp/ferry-build-base.lock
exec 9>"$lock"
flock -w 900 9 || { log "another build held $lock for 15 minutes"; exit 1; }

if [ -z "${FERRY_BASE_REBUILD:-}" ] && podman image exists "$ref"; then
  echo "$ref"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap not installed (apt-get install debootstrap)"; exit 1; }

root=$(mktemp -d /var/tmp/ferry-base-XXXXXX)
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf --one-file-system "$root"
  rm -f "${out:-}"
}
trap cleanup EXIT

# The tools' chatter goes to a log, shown only when a step fails.
out=$(mktemp /var/tmp/ferry-base-log-XXXXXX)
step() {
  "$@" >>"$out" 2>&1 || { log "failed: $*"; tail -40 "$out" >&2; exit 1; }
}

start=$SECONDS
log "debootstrap $suite with $packages"
step debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror"

# Security and point-release updates on top of the release suite, as a registry base image would carry them.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
step chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update && apt-get -y upgrade && apt-get clean'
umount "$root/proc"

# What an image needs none of: package lists, caches, docs, logs. /etc/resolv.conf is bind-mounted by the runtime.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/* "$root"/tmp/*
: >"$root/etc/resolv.conf"

log "importing as $ref"
tar -C "$root" --numeric-owner -cf - . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase --include=$packages $suite" \
  - "$ref" >/dev/null

# Older builds of this flavour (another script or package list) would only take disk space.
podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repo" | while read -r old; do
  [ "$old" = "$ref" ] || podman rmi "$old" >/dev/null 2>&1 || true
done
log "built $ref in $((SECONDS - start)) s"
echo "$ref"
