#!/usr/bin/env bash
# Benchmarks: `pgshift order` on 10,000 files, `pgshift validate` on 1,000 files compared with
# squawk (installed from PyPI when pip can), applying 1,000 migrations against psql, and
# `pgshift backup create` against `pg_dump | gzip` on 1 GB (BENCH_BACKUP_MB), and `pgshift health`
# on 1,000 tables. Numbers print as they are measured. TMPDIR=/dev/shm keeps a noisy disk out of
# the throwaway clusters.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! command -v squawk >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/squawk" ]; then
  python3 -m pip install --quiet --user squawk-cli >/dev/null 2>&1 ||
    echo "bench: could not install squawk-cli with pip; pgshift is timed alone" >&2
fi
cargo bench --locked --bench order --bench validate --bench apply --bench backup --bench health --bench import 2>/dev/null | grep -E "^(pgshift|squawk|apply|with|backup|health|import)"
