#!/usr/bin/env bash
# Durable ingest (serve, with its embedded Bucket delivering) against the
# ceiling server (decodes and answers, stores nothing), in one run,
# alternating A and B at each connection count. Loopback only; bounded
# duration. Usage: scripts/bench-ingest.sh [seconds per run] [rounds] [connection counts]
# SERVE_ARGS adds flags to serve, e.g. SERVE_ARGS="--bucket-url http://127.0.0.1:9"
# measures ingest alone (the Bucket unreachable, delivery idle).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-2}
conns=${3:-"16 64 256"}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
go build -o "$work/corebridge" ./cmd/corebridge
cb="$work/corebridge"
# shellcheck disable=SC2086
"$cb" serve --addr 127.0.0.1:18700 --data-dir "$work/data" --max-pending -1 --log-format json \
  --core-sync-log off --flow-log off --metrics-log off ${SERVE_ARGS:-} 2>"$work/serve.log" &
"$cb" ceiling --addr 127.0.0.1:18701 2>/dev/null &
sleep 2
synced() { curl -s http://127.0.0.1:18700/core/health | python3 -c 'import json,sys; print(json.load(sys.stdin)["synced_total"])'; }
printf '%-8s %-8s %10s %9s %9s %9s %7s %10s\n' conns target req/s p50_ms p95_ms p99_ms errors synced/s
for c in $conns; do
  for r in $(seq "$rounds"); do
    for t in ceiling serve; do
      port=18701; [ "$t" = serve ] && port=18700
      s0=$(synced); t0=$(date +%s.%N)
      "$cb" mock --load --api-url "http://127.0.0.1:$port" --connections "$c" --duration "${secs}s" --json 2>/dev/null |
        python3 -c '
import json,sys
r=json.load(sys.stdin)
lat=r["latency_ms"]
print("%-8s %-8s %10.0f %9.2f %9.2f %9.2f %7d" % (sys.argv[1], sys.argv[2], r["ok_rps"], lat["p50"], lat["p95"], lat["p99"], r["errors"]), end="")' "$c" "$t"
      # Records the Bucket confirmed during the run, per second of the run.
      python3 -c 'import sys; s0,s1,t0,t1=map(float,sys.argv[1:5]); print(" %10s" % ("%.0f" % ((s1-s0)/(t1-t0)) if sys.argv[5]=="serve" else "-"))' "$s0" "$(synced)" "$t0" "$(date +%s.%N)" "$t"
    done
  done
done
curl -s http://127.0.0.1:18700/core/health | python3 -c 'import json,sys; h=json.load(sys.stdin); print("serve after the runs: received %d, synced %d, pending %d" % (h["received_total"], h["synced_total"], h["pending_queue"]))'
