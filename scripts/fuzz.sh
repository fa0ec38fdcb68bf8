#!/usr/bin/env bash
# The long fuzz run: every property test of what reads user input (file names, headers,
# directives, psql variables, SQL through the lint engine, pgshift.toml, environment values,
# imported layouts, the chunked parse of large files) with PGSHIFT_FUZZ_SCALE times the cases
# CI runs (default 50: about 150,000 cases), and the pathological files at 100,000 repeats
# with the time of each. CI runs the same tests at scale 1 and 10,000 repeats.
#
#   scripts/fuzz.sh              # scale 50, about 10 minutes on 2 cores
#   PGSHIFT_FUZZ_SCALE=500 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PGSHIFT_FUZZ_SCALE="${PGSHIFT_FUZZ_SCALE:-50}"
export PGSHIFT_PATHOLOGICAL_N="${PGSHIFT_PATHOLOGICAL_N:-100000}"
echo "fuzz: ${PGSHIFT_FUZZ_SCALE}x the CI cases, pathological files at ${PGSHIFT_PATHOLOGICAL_N} repeats" >&2
cargo test --locked --release --test it robustness:: -- --nocapture --test-threads 1 2>&1 |
  grep -E "^(test |test result|.*, n = )|panicked"
cargo test --locked --release --lib sql::large 2>&1 | grep -E "^(test |test result)|panicked"
