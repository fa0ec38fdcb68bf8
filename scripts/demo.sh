#!/usr/bin/env bash
# pgshift's main job on the embedded examples: validate every file with PostgreSQL's parser and
# the lint rules, show the execution order, then `pgshift test --rollback`: a throwaway
# PostgreSQL that pgshift starts itself in a temporary directory, every migration applied in
# order with its down file checked on the way (up → down → same schema → up), the health check,
# a summary, and the cluster removed. Then the Supabase example, on a stub of Supabase's roles and
# schemas. No database needs to be set up.
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
echo "==> pgshift --dir $examples test --rollback   (throwaway PostgreSQL: deploy, down files, health)"
"$pgshift" --dir "$examples" test --rollback
echo
echo "==> pgshift --dir examples/supabase/migrations test --supabase --rollback"
"$pgshift" --dir examples/supabase/migrations test --supabase --rollback
