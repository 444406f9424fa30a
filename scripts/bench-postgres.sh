#!/usr/bin/env bash
# SQLite against PostgreSQL with 1 and 3 replicas, in the same run, on
# this machine: ingest with wrk (every session_id new, connections split
# over the replicas, one wrk per replica), the sustained end-to-end sync
# (synced/received when the load stops, then the time until nothing is
# pending), all delivering to one separate `corebridge bucket`.
#   scripts/bench-postgres.sh ingest [SECONDS=15] [CONNS=64] [ROUNDS=2]
#   scripts/bench-postgres.sh drain [N=1000000]    # backlog of N, Bucket down then up
# Needs wrk, psql; PostgreSQL from COREBRIDGE_TEST_POSTGRES_URL or
# scripts/postgres.sh (started if needed). Loopback only, bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ingest}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
pg=${COREBRIDGE_TEST_POSTGRES_URL:-$(scripts/postgres.sh start)}
go build -o "$work/corebridge" ./cmd/corebridge
cb="$work/corebridge"
F="--core-sync-log off --flow-log off --metrics-log off --log-format json"
bucket=http://127.0.0.1:18811

start_bucket() { "$cb" bucket --addr 127.0.0.1:18811 --data-dir "$work/bucket" --log-format json 2>>"$work/bucket.log" & echo $! >"$work/bucket.pid"; until curl -fsS -o /dev/null $bucket/healthz 2>/dev/null; do sleep 0.1; done; }
stop_bucket() { kill "$(cat "$work/bucket.pid")"; wait "$(cat "$work/bucket.pid")" 2>/dev/null || true; }
fresh_db() { # name → URL of a new empty database
  psql "$pg" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null 2>&1
  python3 -c "import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path='/'+sys.argv[2])))" "$pg" "$1"
}
# start SETUP: sqlite | pg1 | pg3; sets ports=(…)
start() {
  local setup=$1; shift
  ports=() spids=()
  case $setup in
  sqlite)
    rm -rf "$work/data"
    "$cb" serve --addr 127.0.0.1:18801 --data-dir "$work/data" --bucket-url $bucket $F "$@" 2>"$work/serve-0.log" &
    spids=($!)
    ports=(18801) ;;
  pg1|pg3)
    local url n=${setup#pg}
    url=$(fresh_db cbbench)
    for i in $(seq 0 $((n - 1))); do
      rm -rf "$work/data$i"
      "$cb" serve --addr 127.0.0.1:$((18801 + i)) --data-dir "$work/data$i" --bucket-url $bucket \
        --postgres-url "$url" --instance "r$i" $F "$@" 2>"$work/serve-$i.log" &
      spids+=($!)
      ports+=($((18801 + i)))
    done ;;
  esac
  for p in "${ports[@]}"; do until curl -fsS -o /dev/null http://127.0.0.1:$p/healthz 2>/dev/null; do sleep 0.1; done; done
}
stop() { kill "${spids[@]}" 2>/dev/null || true; wait "${spids[@]}" 2>/dev/null || true; } # the replicas, until they exit
health() { curl -s http://127.0.0.1:${ports[0]}/core/health; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

if [ "$mode" = ingest ]; then
  secs=${2:-15} conns=${3:-64} rounds=${4:-2}
  start_bucket
  echo "setup  round  req/s  p99(max)  synced/received at the end  rest drained in"
  for r in $(seq 1 "$rounds"); do
    for setup in sqlite pg1 pg3; do
      start $setup
      n=${#ports[@]}
      pids=()
      for p in "${ports[@]}"; do
        WRK_SALT="$setup$r$p" wrk -t2 -c$((conns / n)) -d2s -s scripts/wrk/post-salted.lua http://127.0.0.1:$p >/dev/null 2>&1 &
        pids+=($!)
      done
      wait "${pids[@]}" || true
      pids=()
      for p in "${ports[@]}"; do
        WRK_SALT="$setup$r$p-main" wrk -t2 -c$((conns / n)) -d${secs}s --latency -s scripts/wrk/post-salted.lua http://127.0.0.1:$p >"$work/wrk-$p.txt" 2>&1 &
        pids+=($!)
      done
      wait "${pids[@]}" || true
      h=$(health); recv=$(echo "$h" | field received_total); syn=$(echo "$h" | field synced_total)
      t0=$(date +%s.%N)
      while [ "$(health | field pending_queue)" != 0 ]; do sleep 0.2; done
      t1=$(date +%s.%N)
      python3 - "$setup" "$r" "$recv" "$syn" "$t0" "$t1" "$work"/wrk-*.txt <<'PY'
import re, sys
setup, r, recv, syn, t0, t1 = sys.argv[1:7]
rps, p99 = 0.0, 0.0
for f in sys.argv[7:]:
    t = open(f).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
    v = float(m.group(1)); v = v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    p99 = max(p99, v)
print(f"{setup:6} {r:>5}  {rps:6.0f}  {p99:6.1f} ms  {int(syn)/int(recv):.3f} ({syn}/{recv})  {float(t1)-float(t0):.1f} s")
PY
      rm -f "$work"/wrk-*.txt
      stop
    done
  done
else
  n=${2:-1000000}
  echo "setup  posted records/s  drained records/s (N=$n)"
  for setup in sqlite pg1 pg3; do
    rm -rf "$work/bucket"
    start $setup --max-pending -1
    t0=$(date +%s.%N)
    # Fill through every replica at once, Bucket down (its port closed).
    pids=()
    for p in "${ports[@]}"; do
      WRK_SALT="$setup$p" timeout 600 python3 - "http://127.0.0.1:$p" $((n / ${#ports[@]})) <<'PY' &
import json, sys, urllib.request, os
api, n = sys.argv[1], int(sys.argv[2])
mods = ["education", "finance", "creative", "robotics"]
salt = os.environ["WRK_SALT"]
for b in range(n // 1000):
    items = [{"module": mods[(b * 1000 + i) % 4], "session_id": "%s-%d-%d" % (salt, b, i), "data": {"student_id": "S-%d" % i, "course": "algebra", "score": 87.5,
              "progress": {"done": i % 20, "total": 20}, "notes": "steady improvement over the last three sessions"}}
             for i in range(1000)]
    req = urllib.request.Request(api + "/core/updates", data=json.dumps({"updates": items}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200
PY
      pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(date +%s.%N)
    start_bucket
    while [ "$(health | field pending_queue)" != 0 ]; do sleep 0.5; done
    t2=$(date +%s.%N)
    held=$(curl -s $bucket/v1/stats | field total)
    posted=$(( n / ${#ports[@]} / 1000 * 1000 * ${#ports[@]} ))
    python3 -c "print('%-6s %8.0f          %8.0f   (posted %d, the Bucket holds %d)' % ('$setup', $posted/($t1-$t0), $posted/($t2-$t1), $posted, $held))"
    stop_bucket
    stop
  done
fi
