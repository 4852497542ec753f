#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests (installing it from Debian's
# packages when missing) and prints shell exports for its connection string and data folder;
# scripts/test.sh evaluates them and stops the server afterwards.
set -euo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

port=${LCG_TEST_POSTGRES_PORT:-54329}
data=$(mktemp -d /tmp/lcg-postgres.XXXXXX)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$data"
  run_as=(runuser -u postgres --)
  cd /  # the server user may not be able to enter the caller's folder
fi

"${run_as[@]}" "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=300 -c fsync=off" start >/dev/null

echo "export LCG_TEST_POSTGRES_DATA='$data' LCG_TEST_POSTGRES_CTL='$pg_bin/pg_ctl'"
echo "export LCG_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres;Maximum Pool Size=100'"
