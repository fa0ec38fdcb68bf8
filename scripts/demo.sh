#!/usr/bin/env bash
# pgshift's main job on the embedded example (examples/eneas-os/migrations): check every file,
# then show the execution order and the dependency graph. No database needs to be set up.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --locked
pgshift=target/debug/pgshift
examples=examples/eneas-os/migrations
echo "==> pgshift --dir $examples order"
"$pgshift" --dir "$examples" order
echo
echo "==> pgshift --dir $examples graph --format text"
"$pgshift" --dir "$examples" graph --format text
