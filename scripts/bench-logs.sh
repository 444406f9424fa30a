#!/usr/bin/env bash
# Ingest with every InsightFlow log file on (--log-data too) against ingest
# with them all off, in one run, alternating A and B. Two serve processes,
# each with its embedded Bucket delivering. Loopback only; bounded
# duration. Usage: scripts/bench-logs.sh [seconds per run] [rounds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
conns=${3:-64}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
go build -o "$work/corebridge" ./cmd/corebridge
cb="$work/corebridge"
"$cb" serve --addr 127.0.0.1:18710 --data-dir "$work/on" --max-pending -1 --log-format json --log-data \
  --core-sync-log "$work/on/logs/core_sync.log" --flow-log "$work/on/insight/flow.log" \
  --metrics-log "$work/on/logs/metrics.jsonl" --metrics-interval 1s 2>"$work/on.log" &
"$cb" serve --addr 127.0.0.1:18711 --data-dir "$work/off" --max-pending -1 --log-format json \
  --core-sync-log off --flow-log off --metrics-log off 2>"$work/off.log" &
sleep 2
printf '%-6s %-5s %10s %9s %9s %9s %7s\n' round logs req/s p50_ms p95_ms p99_ms errors
for r in $(seq "$rounds"); do
  for t in on off; do
    port=18711; [ "$t" = on ] && port=18710
    "$cb" mock --load --api-url "http://127.0.0.1:$port" --connections "$conns" --duration "${secs}s" --json 2>/dev/null |
      python3 -c '
import json,sys
r=json.load(sys.stdin)
lat=r["latency_ms"]
print("%-6s %-5s %10.0f %9.2f %9.2f %9.2f %7d" % (sys.argv[1], sys.argv[2], r["ok_rps"], lat["p50"], lat["p95"], lat["p99"], r["errors"]))' "$r" "$t"
  done
done
kill -INT $(jobs -p) 2>/dev/null; wait 2>/dev/null || true
echo "log lines written with logs on: core_sync $(wc -l <"$work/on/logs/core_sync.log"), flow $(cat "$work/on/insight/flow.log"* | wc -l), metrics $(wc -l <"$work/on/logs/metrics.jsonl")"
