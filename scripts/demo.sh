#!/usr/bin/env bash
# pgshift's main job on the embedded example (examples/eneas-os/migrations): validate every file
# with PostgreSQL's parser and the lint rules, show the execution order, then deploy it to a
# throwaway PostgreSQL that pgshift starts itself in a temporary directory, and show the status.
# No database needs to be set up.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --locked
pgshift=target/debug/pgshift
examples=examples/eneas-os/migrations
# The example's role password is a psql variable (:app_password); a throwaway value for the demo.
export APP_PASSWORD="${APP_PASSWORD:-demo-only-password}"
echo "==> pgshift --dir $examples validate"
"$pgshift" --dir "$examples" validate
echo
echo "==> pgshift --dir $examples order"
"$pgshift" --dir "$examples" order
echo
echo "==> pgshift --dir $examples test   (deploy to a throwaway PostgreSQL, then status)"
"$pgshift" --dir "$examples" test
