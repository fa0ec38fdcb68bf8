#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (on real, throwaway
# PostgreSQL clusters that the tests start themselves). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
