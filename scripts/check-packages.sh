#!/usr/bin/env bash
# Builds the install packages (scripts/package.sh --dev: the debug build, the same layout as a
# release) and installs each as a user would, from the local files only (no registry): the
# archive (checksums verified), the wheel in a fresh virtual environment, the npm packages in a
# fresh npm project. Each install runs `pgshift --version`, `validate` and `test` on the bundled
# example. scripts/test.sh runs it where python3 and npm exist.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/package.sh --dev
dist=target/dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
(cd "$dist" && sha256sum --quiet -c SHA256SUMS)

# The example's role password is a psql variable (:app_password): a throwaway value.
export APP_PASSWORD="${APP_PASSWORD:-check-only-password}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/eneas-os "$work/project"
rm -rf "$work/project/migrations/.pgshift"

# What every install must do: its version, then validate and test the example (`test` starts a
# throwaway PostgreSQL of its own).
exercise() {
  local how=$1
  shift
  echo "check-packages: $how: $*" >&2
  local got
  got=$(cd "$work/project" && "$@" --version)
  [ "$got" = "pgshift $version" ] || {
    echo "check-packages: $how: --version said '$got', expected 'pgshift $version'" >&2
    exit 1
  }
  (cd "$work/project" && "$@" validate >/dev/null)
  (cd "$work/project" && "$@" test >/dev/null)
  echo "check-packages: $how: ok" >&2
}

# 1. The archive: its files, their checksums, the binary.
archive=$(ls "$dist"/pgshift-"$version"-*.tar.gz)
mkdir "$work/archive"
tar -C "$work/archive" -xzf "$archive"
unpacked=$(ls -d "$work"/archive/pgshift-*)
for f in pgshift pgshift.1 completions/pgshift.bash completions/_pgshift completions/pgshift.fish README.md LICENSE SHA256SUMS; do
  [ -f "$unpacked/$f" ] || {
    echo "check-packages: the archive lacks $f" >&2
    exit 1
  }
done
(cd "$unpacked" && sha256sum --quiet -c SHA256SUMS)
exercise archive "$unpacked/pgshift"

# 2. The wheel, in a fresh virtual environment, without an index.
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$dist"/pgshift-"$version"-*.whl
exercise wheel "$work/venv/bin/pgshift"

# 3. The npm packages, as a team adds pgshift to its project: one dev dependency (here from the
# local files, offline), then `npx pgshift`. The launcher finds its platform's package.
(cd "$work/project" && npm init -y >/dev/null &&
  npm install --offline --no-audit --no-fund --save-dev "$root/$dist"/npm/pgshift-*.tgz >/dev/null)
exercise npx npx --no-install pgshift

echo "check-packages: the archive, the wheel and the npm packages install and run" >&2
