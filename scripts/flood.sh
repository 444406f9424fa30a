#!/usr/bin/env bash
# Issue 15's flood, full size: 2,000 concurrent loopback connections
# against serve as its own process (200 holding every ingest slot, then
# 540 opening SSE streams and 1,260 posting in one burst), ROUNDS times.
# Each round prints what was refused, /healthz's slowest probe and serve's
# RSS (start, during, peak). The same test runs in CI at 600 connections
# under -race. Usage: scripts/flood.sh [ROUNDS] (COREBRIDGE_FLOOD_CONNS
# changes the size; needs `ulimit -n` well above twice it).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
echo "ulimit -n: $(ulimit -n)"
for i in $(seq "$rounds"); do
  echo "round $i"
  COREBRIDGE_FLOOD_CONNS=${COREBRIDGE_FLOOD_CONNS:-2000} \
    go test -count=1 -run '^TestFloodIsRefusedAndBounded$' -v ./cmd/corebridge/ 2>&1 | grep -E 'flood:|^(--- |ok|FAIL)'
done
