#!/usr/bin/env bash
# Benchmarks. First one table of every daily path with pgshift beside psql, sqlx, dbmate and
# squawk (benches/peers.rs: apply, the bar without fsync, no-op and status at 1,000 and 10,000
# applied, validation of PostgreSQL's regression SQL and of 20,000 files, 100 MB data files).
# Then: `pgshift order` on 10,000 files, `pgshift validate` on 1,000 files beside squawk,
# applying 1,000 migrations against psql, `pgshift backup create` against `pg_dump | gzip` on
# 1 GB (BENCH_BACKUP_MB), `pgshift health` on 1,000 tables, `pgshift diff` and `drift` on
# 1,000 tables beside pg_dump and `pgshift test`, `pgshift review` of 500 migrations + 10 new.
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
# PostgreSQL's regression SQL (217 files, 4 MB), from Debian's source of the server, for the
# validation row of the table.
if [ ! -d target/tools/regress ]; then
  v=$(dpkg-query -W -f '${Version}' postgresql-15 2>/dev/null | sed 's/-.*//')
  tarball="postgresql-15_${v:-15.18}.orig.tar.bz2"
  if curl -fsSL -o "target/tools/$tarball" "http://deb.debian.org/debian/pool/main/p/postgresql-15/$tarball" &&
    mkdir -p target/tools/regress.partial &&
    tar -xjf "target/tools/$tarball" -C target/tools/regress.partial --strip-components=5 --wildcards '*/src/test/regress/sql/*.sql'; then
    mv target/tools/regress.partial target/tools/regress
  else
    echo "bench: could not fetch PostgreSQL's regression SQL ($tarball); the table leaves it out" >&2
  fi
  rm -rf target/tools/regress.partial "target/tools/$tarball"
fi
# One table: every path, pgshift beside psql, sqlx, dbmate and squawk.
cargo bench --locked --bench peers 2>/dev/null | grep -E "^(\||peers)"
cargo bench --locked --bench order --bench validate --bench apply --bench backup --bench health --bench import --bench diff --bench review 2>/dev/null | grep -E "^(pgshift|squawk|apply|with|backup|health|import|diff|drift|squash|review)"
