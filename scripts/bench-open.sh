#!/usr/bin/env bash
# Start a corebridge binary on an existing data dir and report the time from
# start to the first /healthz 200 and serve's RSS then and 5 s later
# (/proc/PID/status VmRSS). The Bucket is unreachable (127.0.0.1:9), so the
# forwarder idles and the stored records stay where they are.
# Usage: bench-open.sh BINARY DATA_DIR [PORT=18100] [EXTRA SERVE FLAGS...]
# Leaves serve running when KEEP=1 (prints its pid), else stops it.
set -euo pipefail
bin=$1 dir=$2 port=${3:-18100}; shift $(( $# < 3 ? $# : 3 ))
start=$(date +%s%N)
"$bin" serve --addr 127.0.0.1:"$port" --data-dir "$dir" --bucket-url http://127.0.0.1:9 --max-pending -1 \
  --core-sync-log off --flow-log off --metrics-log off --log-format json "$@" >"$dir/serve.log" 2>&1 &
pid=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "serve exited:"; tail -5 "$dir/serve.log"; exit 1; }
  sleep 0.02
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
rss0=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)
sleep 5
rss5=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)
echo "$(basename "$bin") start_to_healthz_ms=$ms rss_mib=$rss0 rss_after_5s_mib=$rss5 pid=$pid"
if [ "${KEEP:-0}" != 1 ]; then kill -TERM $pid; wait $pid 2>/dev/null || true; fi
