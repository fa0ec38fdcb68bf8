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
