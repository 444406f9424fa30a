#!/usr/bin/env bash
# The issue 16 table: serve against `corebridge ceiling` with
# ../shared/bench/wrk-pair.sh (3 rounds of 8 s, alternating), for one or
# two builds, in three setups: as it ships (embedded Bucket delivering),
# forwarder idle (Bucket unreachable), delivering to a separate
# `corebridge bucket`. Each setup starts serve on a fresh data dir, or on
# a copy of STORE when given (a store holding records already synced).
# Loopback only; bounded duration (~1 min a setup and build).
# Usage: scripts/bench-ratios.sh CONNS BIN [BIN...]    (STORE=dir optional)
set -u
conns=$1; shift
pair=$(dirname "$0")/../../shared/bench/wrk-pair.sh
[ -x "$pair" ] || pair=../shared/bench/wrk-pair.sh
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
F="--core-sync-log off --flow-log off --metrics-log off"
"$1" ceiling --addr 127.0.0.1:18200 >/dev/null 2>&1 &
"$1" bucket --addr 127.0.0.1:18300 --data-dir "$work/sepbucket" >/dev/null 2>&1 &
sleep 1
health() { curl -s http://127.0.0.1:18101/core/health | python3 -c "import json,sys; h=json.load(sys.stdin); print('after: status', h['status'], 'pending', h['pending_queue'], 'received', h['received_total'], 'synced', h['synced_total'])"; }
run() { # label bin extra flags...
  local label=$1 bin=$2; shift 2
  local dir="$work/data"
  rm -rf "$dir"
  if [ -n "${STORE:-}" ]; then cp -r "$STORE" "$dir"; else mkdir -p "$dir"; fi
  "$bin" serve --addr 127.0.0.1:18101 --data-dir "$dir" $F "$@" >"$work/serve.log" 2>&1 &
  local pid=$!
  until curl -fsS -o /dev/null http://127.0.0.1:18101/healthz 2>/dev/null; do sleep 0.1; done
  echo "== $label ($bin, $conns connections${STORE:+, store $STORE})"
  "$pair" http://127.0.0.1:18101/core/update http://127.0.0.1:18200/core/update "$conns" 8 3
  sleep 3; health
  kill $pid; wait $pid 2>/dev/null
}
date -u
for bin in "$@"; do
  run "as it ships" "$bin"
  run "forwarder idle" "$bin" --bucket-url http://127.0.0.1:9 --max-pending -1
  [ -z "${STORE:-}" ] && run "separate corebridge bucket" "$bin" --bucket-url http://127.0.0.1:18300
done
date -u
