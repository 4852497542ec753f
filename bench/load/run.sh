#!/usr/bin/env bash
# Load test on loopback, in one run, inside a private network namespace (nothing listens outside it):
# wrk against an upstream stub directly, a bare YARP proxy with one route, Portkey's open-source
# gateway, and this gateway twice — passthrough (tenant key checked, nothing routed or metered) and
# the full chat path (auth, routing decision, budget reservation, forward, usage metering,
# settlement and the decision log in SQLite). Non-streaming at concurrency 1 and 32, streaming
# (5 chunks) at 32. Then, with --soak SECONDS, the full path under load for that long with the
# gateway's memory and open handles sampled every 30 s.
#
#   sudo bash bench/load/run.sh [--duration 10] [--rounds 2] [--soak 600] [--targets yarp,gateway-routed]
#
# Needs root (for the namespace), wrk and node (apt-get install -y wrk nodejs npm). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
duration=10 rounds=2 soak=0 inside=0 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --soak) soak=$2; shift 2 ;;
    --targets) only=$2; shift 2 ;;
    --inside) inside=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

work=${LCG_LOAD_WORK:-/tmp/lcg-load}
if [ "$inside" -eq 0 ]; then
  command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
  command -v node >/dev/null || { echo "node is needed: apt-get install -y nodejs npm" >&2; exit 1; }
  rm -rf "$work"; mkdir -p "$work"
  dotnet build src/LongContext.Gateway -c Release -o "$work/gateway" >/dev/null
  dotnet build bench/LongContext.Load.Bench -c Release -o "$work/helpers" >/dev/null
  cp bench/load/package.json "$work/"
  (cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  exec unshare --net bash "$0" --inside --duration "$duration" --rounds "$rounds" --soak "$soak" ${only:+--targets "$only"}
fi

ip link set lo up
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

export DOTNET_gcServer=1 DOTNET_TieredPGO=1
dotnet "$work/helpers/LongContext.Load.Bench.dll" upstream --port 9001 & pids+=($!)
dotnet "$work/helpers/LongContext.Load.Bench.dll" yarp --port 9002 --upstream http://127.0.0.1:9001/ & pids+=($!)

# The gateway: the load model on the stub with a real routing profile (GPT-5 mini's prices, window
# and curve), a budgeted tenant, the SQLite ledger, and the passthrough to the stub.
key=sk-load-test-key
python3 - "$root" "$work" "$key" <<'PY'
import hashlib, json, shutil, sys, os
root, work, key = sys.argv[1:]
models = json.load(open(os.path.join(root, "config", "models.json")))["Models"]
routing = json.load(open(os.path.join(root, "config", "routing.json")))
model = models["gpt-5-mini"]
model.update({"Upstream": "stub", "UpstreamModel": "load-model"})
# A plain chat request is the long-context route (the whole conversation): the profile must serve it.
model["Routing"]["ServesLongContext"] = True
model.pop("UpstreamHeaders", None)
shutil.copytree(os.path.join(root, "config", "context-rot"), os.path.join(work, "config", "context-rot"))
shutil.copytree(os.path.join(root, "config", "prompts"), os.path.join(work, "config", "prompts"))
settings = {
    "Gateway": {"Passthrough": {"Upstream": "stub"}},
    "Upstreams": {"stub": {"Destinations": {"main": {"Address": "http://127.0.0.1:9001/v1/"}}}},
    "Models": {"load-model": model},
    "Tenants": {"load": {"ApiKeyHashes": [hashlib.sha256(key.encode()).hexdigest()], "AllowedModels": ["*"], "Policy": {"MonthlyBudgetUsd": 1000000}}},
    "Routing": routing["Routing"],
    "Ledger": {"Store": "Sqlite", "SqlitePath": os.path.join(work, "ledger.db")},
    "Corpora": {"Directory": os.path.join(work, "corpora")},
    "Backend": {"Enabled": False},
    "Telemetry": {"PrometheusEnabled": True},
    "Logging": {"LogLevel": {"Default": "Warning"}},
}
json.dump(settings, open(os.path.join(work, "appsettings.json"), "w"))
PY
dotnet "$work/gateway/LongContext.Gateway.dll" --settings "$work/appsettings.json" --urls http://127.0.0.1:9003 >"$work/gateway.log" 2>&1 & gateway=$!; pids+=($gateway)
# The same gateway with the SQLite ledger synced at checkpoints only (Ledger:SqliteSynchronous Normal).
dotnet "$work/gateway/LongContext.Gateway.dll" --settings "$work/appsettings.json" --urls http://127.0.0.1:9004 \
  --Ledger:SqlitePath "$work/ledger-normal.db" --Ledger:SqliteSynchronous Normal >"$work/gateway-normal.log" 2>&1 & pids+=($!)
node "$work/node_modules/@portkey-ai/gateway/build/start-server.js" --port=8787 --headless >"$work/portkey.log" 2>&1 & pids+=($!)

for port in 9001 9002 9003 9004 8787; do
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
done

# target name → "port|path prefix|auth|extra headers"
declare -A targets=(
  [direct]="9001|||"
  [yarp]="9002|||"
  [portkey]="8787|||x-portkey-provider:openai;x-portkey-custom-host:http://127.0.0.1:9001/v1"
  [gateway-passthrough]="9003|/passthrough|$key|"
  [gateway-routed]="9003||$key|"
  [gateway-routed-normal-sync]="9004||$key|"
)
order=(direct yarp gateway-passthrough gateway-routed gateway-routed-normal-sync portkey)
[ -n "$only" ] && IFS=',' read -r -a order <<<"$only"

run() { # name concurrency stream seconds → "rps p50_ms p99_ms non2xx"
  IFS='|' read -r port prefix auth extra <<<"${targets[$1]}"
  local out
  out=$(PATH_PREFIX=$prefix AUTH=${auth:-load} EXTRA_HEADERS=$extra STREAM=$3 wrk -t1 -c"$2" -d"$4"s --latency -s bench/load/chat.lua "http://127.0.0.1:$port" 2>&1)
  python3 - "$out" <<'PY'
import re, sys
text = sys.argv[1]
def ms(v):
    m = re.fullmatch(r"([\d.]+)([a-z]*)", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "": 1000}[m.group(2)]
try:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    # The latency distribution's own lines (a Stdev column can also end in "50%").
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)); p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
except Exception:
    sys.stderr.write("unparsed wrk output:\n" + text + "\n")
    print("0 0 0 0 (unparsed)")
    sys.exit(0)
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {bad.group(1) if bad else 0}{' (' + errors.group(0) + ')' if errors else ''}")
PY
}

# Warm every target (JIT and its tiering, connection pools) before measuring; the gateway's routed
# path has the most code to tier up.
for name in "${order[@]}"; do run "$name" 8 0 5 >/dev/null; done
for name in gateway-routed gateway-routed-normal-sync; do
  [[ " ${order[*]} " == *" $name "* ]] && run "$name" 32 0 15 >/dev/null
done

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u +%Y-%m-%d); wrk -t1, ${duration} s per cell, ${rounds} round(s); all processes share the cores"
echo "| round | target | c=1 req/s | c=1 p50 ms | c=32 req/s | c=32 p50 ms | c=32 p99 ms | stream c=32 req/s | non-2xx |"
echo "|---|---|---|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
  for name in "${order[@]}"; do
    read -r r1 p1 _ b1 <<<"$(run "$name" 1 0 "$duration")"
    read -r r32 p32 p99 b32 <<<"$(run "$name" 32 0 "$duration")"
    read -r rs _ _ bs <<<"$(run "$name" 32 1 "$duration")"
    echo "| $round | $name | $r1 | $p1 | $r32 | $p32 | $p99 | $rs | $((b1 + b32 + bs)) |"
  done
done

if [ "$soak" -gt 0 ]; then
  echo
  echo "soak: gateway-routed at c=8 for ${soak} s; gateway RSS (MiB) and open handles every 30 s"
  IFS='|' read -r port prefix auth extra <<<"${targets[gateway-routed]}"
  AUTH=$auth wrk -t1 -c8 -d"${soak}"s -s bench/load/chat.lua "http://127.0.0.1:9003" >"$work/soak.txt" 2>&1 &
  soaker=$!
  echo "| t (s) | RSS MiB | handles |"
  echo "|---|---|---|"
  for t in $(seq 0 30 "$soak"); do
    rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$gateway/status")
    echo "| $t | $rss | $(ls "/proc/$gateway/fd" | wc -l) |"
    [ "$t" -lt "$soak" ] && sleep 30
  done
  wait "$soaker" || true
  grep -E "Requests/sec|requests in|Non-2xx" "$work/soak.txt" | sed 's/^/    /'
fi
