#!/usr/bin/env bash
# Builds the solution, runs every test project, and ends with the line
# "N passed, N failed, N skipped" counted from the TRX results.
# Exits non-zero when the build fails, a test fails, or no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# TorchSharp's native library is patched at build time on systems with an older libstdc++
# (build/torchsharp/fix-libtorchsharp.sh), which needs patchelf and g++.
for tool in patchelf g++; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      # A fresh machine may have no package lists yet: fetch them when the first attempt finds nothing.
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf g++ >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf g++ >/dev/null; } \
        || { echo "could not install patchelf and g++" >&2; exit 1; }
    else
      echo "$tool is needed to build the attention kernels; install it (sudo apt-get install -y patchelf g++)" >&2
      exit 1
    fi
  fi
done

# The dashboard's browser test drives Debian's chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || { echo "could not install chromium for the browser test" >&2; exit 1; }
  else
    echo "chromium is needed for the dashboard's browser test; install it (sudo apt-get install -y chromium)" >&2
    exit 1
  fi
fi

# The ledger's PostgreSQL tests need a real server: start a throwaway one unless one is given.
if [ -z "${LCG_TEST_POSTGRES:-}" ]; then
  if ! start_output="$(bash scripts/start-postgres.sh)"; then
    echo "PostgreSQL could not be started for the tests (is port 54329 taken?); set LCG_TEST_POSTGRES to use a running server." >&2
    exit 1
  fi
  eval "$start_output"
  stop_postgres() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$LCG_TEST_POSTGRES_CTL" -D "$LCG_TEST_POSTGRES_DATA" -m fast stop >/dev/null)
    else "$LCG_TEST_POSTGRES_CTL" -D "$LCG_TEST_POSTGRES_DATA" -m fast stop >/dev/null; fi
    rm -rf "$LCG_TEST_POSTGRES_DATA"
  }
  trap stop_postgres EXIT
fi

results="$PWD/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"
# Tests that leave something to look at (the dashboard's screenshot) write it here.
export LCG_TEST_ARTIFACTS="$PWD/artifacts"

dotnet test LongContext.Gateway.sln --configuration Release \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results"
status=$?

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  count() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  total=$(count total); executed=$(count executed)
  passed=$((passed + $(count passed)))
  failed=$((failed + $(count failed) + $(count error) + $(count timeout) + $(count aborted)))
  skipped=$((skipped + total - executed))
done

# A project that did not build ran no tests and left no results: count the failed run itself.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test failed (exit $status) without a failing test: a project did not build or a test host crashed; see the log above." >&2
  failed=1
fi

# Name the failures last, where a log's tail shows them.
if [ "$failed" -ne 0 ]; then
  echo "Failed tests:"
  for trx in "$results"/*.trx; do
    [ -e "$trx" ] || continue
    grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | grep -o 'testName="[^"]*"' | sed 's/^testName="/  /; s/"$//' || true
  done
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
