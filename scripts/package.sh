#!/usr/bin/env bash
# Builds pgshift's install packages into target/dist/ (docs/install.md):
#   pgshift-<version>-<target>.tar.gz   the binary, pgshift.1, completions (bash, zsh, fish),
#                                       README, licences, and a SHA256SUMS of those files
#   pgshift-<version>-py3-none-<platform>.whl
#                                       the binary in a Python wheel (maturin, `bin` bindings):
#                                       pip install / pipx install / uvx
#   npm/pgshift-<version>.tgz           the npm launcher, and npm/pgshift-<os>-<cpu>-<version>.tgz
#                                       the binary for this platform, its optional dependency
#   SHA256SUMS                          of everything above
#
# Usage: scripts/package.sh [--no-wheel] [--no-npm] [--dev]
#   --dev: the debug build, and a wheel without zig (tagged for this machine's glibc): what the
#          test suite installs and runs (scripts/check-packages.sh); releases never use it.
# Every package holds the same binary, the wheel's: on Linux it is linked against glibc 2.28
# through zig (manylinux_2_28: any current Linux). maturin, ziglang and auditwheel are
# installed from PyPI into target/tools/py.
# Needs: Rust (cargo), python3 (for the wheel), npm (for the npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."

wheel=1
npm_packages=1
dev=0
for arg in "$@"; do
  case "$arg" in
    --no-wheel) wheel=0 ;;
    --no-npm) npm_packages=0 ;;
    --dev) dev=1 ;;
    -h | --help)
      sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "package.sh: unknown argument $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

# sha256sum's output (macOS has shasum instead).
sum256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
target=$(rustc -vV | sed -n 's/^host: //p')
case "$target" in
  x86_64-unknown-linux-gnu) npm_platform=linux-x64 ;;
  aarch64-unknown-linux-gnu) npm_platform=linux-arm64 ;;
  x86_64-apple-darwin) npm_platform=darwin-x64 ;;
  aarch64-apple-darwin) npm_platform=darwin-arm64 ;;
  *) npm_platform="" ;;
esac

dist=target/dist
rm -rf "$dist"
mkdir -p "$dist"

echo "package.sh: building pgshift $version for $target" >&2
if [ "$dev" = 1 ]; then
  maturin_profile=(--profile dev)
else
  maturin_profile=(--release)
fi

# The wheel, and from it the binary every package holds: on Linux it is linked against glibc
# 2.28 through zig, so the archive and the npm package run on older systems too.
if [ "$wheel" = 1 ]; then
  py=target/tools/py
  if [ ! -x "$py/bin/maturin" ]; then
    python3 -m venv "$py"
    "$py/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.7,<2" ziglang auditwheel
  fi
  # On Linux, link against glibc 2.28 through zig (manylinux_2_28); --dev: this machine's glibc.
  zig=()
  case "$target" in
    *-linux-gnu) [ "$dev" = 1 ] || zig=(--zig --compatibility manylinux_2_28) ;;
  esac
  if [ ${#zig[@]} -gt 0 ] && [ -z "${BINDGEN_EXTRA_CLANG_ARGS:-}" ]; then
    # Given an explicit target triple, bindgen's libclang (the SQL parser's bindings) finds
    # neither its own headers (stdbool.h) nor Debian's multiarch ones (sys/types.h): name them.
    resource=$( (clang -print-resource-dir 2>/dev/null || true) | head -n 1)
    if [ -z "$resource" ]; then
      resource=$(ls -d /usr/lib/llvm-*/lib/clang/* 2>/dev/null | sort -V | tail -n 1)
    fi
    includes=""
    for d in "$resource/include" "/usr/include/$(uname -m)-linux-gnu" /usr/include; do
      [ -d "$d" ] && includes="$includes -I$d"
    done
    export BINDGEN_EXTRA_CLANG_ARGS="${includes# }"
  fi
  PATH="$PWD/$py/bin:$PATH" maturin build --locked "${maturin_profile[@]}" ${zig[@]+"${zig[@]}"} --out "$dist" >&2
  case "$target" in
    *-linux-gnu) "$py/bin/auditwheel" show "$dist"/pgshift-"$version"-*.whl >&2 ;;
  esac
  bin="$dist/.bin/pgshift"
  mkdir -p "$dist/.bin"
  "$py/bin/python" - "$dist"/pgshift-"$version"-*.whl "$bin" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/pgshift"))
    with z.open(name) as src, open(out, "wb") as dst:
        dst.write(src.read())
os.chmod(out, 0o755)
PY
else
  if [ "$dev" = 1 ]; then
    cargo build --locked --bin pgshift
    bin=target/debug/pgshift
  else
    cargo build --release --locked
    bin=target/release/pgshift
  fi
fi


# The archive.
name="pgshift-$version-$target"
stage="$dist/$name"
mkdir -p "$stage/completions"
cp "$bin" "$stage/pgshift"
"$bin" man >"$stage/pgshift.1"
"$bin" completions bash >"$stage/completions/pgshift.bash"
"$bin" completions zsh >"$stage/completions/_pgshift"
"$bin" completions fish >"$stage/completions/pgshift.fish"
cp README.md LICENSE LICENSE-MIT LICENSE-APACHE "$stage/"
# (Word splitting is safe: these are pgshift's own file names, without spaces.)
(cd "$stage" && sum256 $(find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort) >SHA256SUMS)
tar -C "$dist" -czf "$dist/$name.tar.gz" "$name"
rm -rf "$stage"
echo "package.sh: $dist/$name.tar.gz" >&2

# The npm packages: the launcher, and this platform's binary.
if [ "$npm_packages" = 1 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "package.sh: npm is missing: no npm packages (install Node.js, or pass --no-npm)" >&2
    exit 1
  fi
  if [ -z "$npm_platform" ]; then
    echo "package.sh: no npm package for $target" >&2
    exit 1
  fi
  work="$dist/npm/stage"
  mkdir -p "$work/pgshift/bin" "$work/pgshift-$npm_platform/bin"
  cp packaging/npm/pgshift.js "$work/pgshift/bin/pgshift.js"
  chmod 755 "$work/pgshift/bin/pgshift.js"
  cp LICENSE LICENSE-MIT LICENSE-APACHE "$work/pgshift/"
  cp LICENSE LICENSE-MIT LICENSE-APACHE "$work/pgshift-$npm_platform/"
  cp "$bin" "$work/pgshift-$npm_platform/bin/pgshift"
  chmod 755 "$work/pgshift-$npm_platform/bin/pgshift"
  VERSION="$version" PLATFORM="$npm_platform" WORK="$work" node <<'JS'
const fs = require("fs");
const { VERSION: version, PLATFORM: platform, WORK: work } = process.env;
const common = {
  version,
  license: "MIT OR Apache-2.0",
  homepage: "https://github.com/pgshift/pgshift#readme",
  repository: { type: "git", url: "git+https://github.com/pgshift/pgshift.git" },
};
const platforms = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"];
const write = (dir, json, readme) => {
  fs.writeFileSync(`${work}/${dir}/package.json`, JSON.stringify(json, null, 2) + "\n");
  fs.writeFileSync(`${work}/${dir}/README.md`, readme);
};
write("pgshift", {
  name: "pgshift",
  ...common,
  description: "Deploy SQL migrations to PostgreSQL and Supabase without surprises",
  keywords: ["postgresql", "supabase", "migrations", "sql", "database", "cli"],
  bin: { pgshift: "bin/pgshift.js" },
  files: ["bin/pgshift.js", "LICENSE*"],
  engines: { node: ">=16" },
  optionalDependencies: Object.fromEntries(platforms.map((p) => [`pgshift-${p}`, version])),
}, "# pgshift\n\nDeploy SQL migrations to PostgreSQL and Supabase without surprises.\n\n" +
  "```sh\nnpm install --save-dev pgshift\nnpx pgshift validate\n```\n\n" +
  "The binary comes in the package for your platform (`pgshift-linux-x64`, …), which npm installs as an optional dependency: no download at install time.\n");
const [os, cpu] = platform.split("-");
write(`pgshift-${platform}`, {
  name: `pgshift-${platform}`,
  ...common,
  description: `pgshift's binary for ${os} ${cpu} (installed by the pgshift package)`,
  os: [os],
  cpu: [cpu],
  files: ["bin/pgshift", "LICENSE*"],
  preferUnplugged: true,
}, `# pgshift-${platform}\n\nThe \`pgshift\` binary for ${os} ${cpu}. Install \`pgshift\` instead: it picks this package on this platform.\n`);
JS
  for p in pgshift "pgshift-$npm_platform"; do
    (cd "$work/$p" && npm pack --silent --pack-destination "$PWD/../.." >/dev/null)
  done
  rm -rf "$work"
  echo "package.sh: $dist/npm/pgshift-$version.tgz, $dist/npm/pgshift-$npm_platform-$version.tgz" >&2
fi

rm -rf "$dist/.bin"
(cd "$dist" && sum256 $(find . -maxdepth 2 -type f \( -name '*.tar.gz' -o -name '*.whl' -o -name '*.tgz' \) | sed 's|^\./||' | LC_ALL=C sort) >SHA256SUMS)
echo "package.sh: done; checksums in $dist/SHA256SUMS" >&2
