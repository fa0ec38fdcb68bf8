#!/usr/bin/env bash
# Benchmarks: `pgshift order` on 10,000 files, `pgshift validate` on 1,000 files compared with
# squawk (installed from PyPI when pip can), applying 1,000 migrations against psql, and
# `pgshift backup create` against `pg_dump | gzip` on 1 GB (BENCH_BACKUP_MB), and `pgshift health`
# on 1,000 tables, `pgshift diff` and `drift` on 1,000 tables beside pg_dump and `pgshift test`, `pgshift review` of 500 migrations + 10 new (static and rehearsed); and first of all one table of pgshift beside psql, sqlx and dbmate
# (benches/peers.rs).
# Numbers print as they are measured. TMPDIR=/dev/shm keeps a noisy disk out of
# the throwaway clusters.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! command -v squawk >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/squawk" ]; then
  python3 -m pip install --quiet --user squawk-cli >/dev/null 2>&1 ||
    echo "bench: could not install squawk-cli with pip; pgshift is timed alone" >&2
fi
# The peers of the comparison table, into target/tools (nothing system-wide).
mkdir -p target/tools/bin
if [ ! -x target/tools/bin/dbmate ] && command -v npm >/dev/null 2>&1; then
  if npm install --prefix target/tools/dbmate --no-save --no-audit --no-fund --silent dbmate@2.36.0 >/dev/null 2>&1; then
    ln -sf "$(find "$PWD/target/tools/dbmate/node_modules/@dbmate" -path '*/bin/dbmate' -type f | head -1)" target/tools/bin/dbmate
  else
    echo "bench: could not install dbmate from npm; the table leaves it out" >&2
  fi
fi
if [ ! -x target/tools/bin/sqlx ]; then
  cargo install --quiet --locked --root target/tools --version 0.8.6 sqlx-cli \
    --no-default-features --features postgres,rustls >/dev/null 2>&1 ||
    echo "bench: could not install sqlx-cli; the table leaves it out" >&2
fi
# One table: pgshift beside psql, sqlx and dbmate on one cluster with default durability.
cargo bench --locked --bench peers 2>/dev/null | grep -E "^(\||peers)"
cargo bench --locked --bench order --bench validate --bench apply --bench backup --bench health --bench import --bench diff --bench review 2>/dev/null | grep -E "^(pgshift|squawk|apply|with|backup|health|import|diff|drift|squash|review)"
