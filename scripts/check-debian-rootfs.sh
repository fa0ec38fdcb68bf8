#!/usr/bin/env bash
# Runs the release archive's binary on a clean Debian root file system: debootstrap (minbase:
# no Rust, no libclang, no PostgreSQL) into a folder, then chroot and run `pgshift --version`
# and `validate` of the bundled examples. Proves the binary needs nothing a plain Debian lacks.
# Slow (a few minutes, most of it debootstrap), so not in every test run.
#
# Usage: sudo scripts/check-debian-rootfs.sh [ARCHIVE] [SUITE]
#   ARCHIVE: target/dist/pgshift-<version>-x86_64-unknown-linux-gnu.tar.gz (scripts/package.sh
#            builds it; the default is the one there)
#   SUITE:   the Debian release, bookworm by default (bullseye, glibc 2.31, passes too; buster,
#            the oldest with glibc 2.28, is on archive.debian.org: set MIRROR)
# Needs root (debootstrap, chroot) and the Debian mirror (MIRROR, deb.debian.org by default).
set -euo pipefail
cd "$(dirname "$0")/.."

archive=${1:-$(ls target/dist/pgshift-*-x86_64-unknown-linux-gnu.tar.gz 2>/dev/null | head -n 1)}
suite=${2:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
if [ -z "$archive" ] || [ ! -f "$archive" ]; then
  echo "check-debian-rootfs: no archive: run scripts/package.sh first, or pass its path" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "check-debian-rootfs: debootstrap and chroot need root: sudo $0 $*" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  else
    echo "check-debian-rootfs: install debootstrap first" >&2
    exit 2
  fi
fi

rootfs=$(mktemp -d /var/tmp/pgshift-rootfs.XXXXXX)
cleanup() {
  umount "$rootfs/proc" 2>/dev/null || true
  rm -rf "$rootfs"
}
trap cleanup EXIT

echo "check-debian-rootfs: debootstrap --variant=minbase $suite into $rootfs" >&2
if ! debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 5 "$rootfs.log" >&2
  echo "check-debian-rootfs: debootstrap of $suite from $mirror failed (above); releases no longer supported live on http://archive.debian.org/debian: MIRROR=… $0" >&2
  rm -f "$rootfs.log"
  exit 1
fi
rm -f "$rootfs.log"
for tool in rustc cargo clang; do
  if chroot "$rootfs" sh -c "command -v $tool" >/dev/null 2>&1; then
    echo "check-debian-rootfs: the root file system has $tool: not clean" >&2
    exit 1
  fi
done
if ls "$rootfs"/usr/lib/*/libclang* >/dev/null 2>&1; then
  echo "check-debian-rootfs: the root file system has libclang: not clean" >&2
  exit 1
fi

mkdir -p "$rootfs/opt/pgshift" "$rootfs/work"
tar -C "$rootfs/opt/pgshift" --strip-components=1 -xzf "$archive"
cp -r examples "$rootfs/work/"
find "$rootfs/work" -name .pgshift -type d -prune -exec rm -rf {} +
mount -t proc proc "$rootfs/proc"

echo "check-debian-rootfs: in the chroot ($(chroot "$rootfs" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), glibc $(chroot "$rootfs" getconf GNU_LIBC_VERSION | cut -d' ' -f2))" >&2
chroot "$rootfs" sh -c 'cd /opt/pgshift && sha256sum -c --quiet SHA256SUMS'
chroot "$rootfs" /opt/pgshift/pgshift --version
for example in eneas-os supabase; do
  chroot "$rootfs" sh -c "cd /work && /opt/pgshift/pgshift --dir examples/$example/migrations validate" >/dev/null
  echo "check-debian-rootfs: validate examples/$example: ok" >&2
done
echo "check-debian-rootfs: the archive's binary runs on a clean Debian $suite" >&2
