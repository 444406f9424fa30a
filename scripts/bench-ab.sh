#!/usr/bin/env bash
# Two builds of serve side by side (each as it ships: embedded Bucket
# delivering), for a change that should not cost speed. wrk at 64
# connections (every request a never-sent session_id, bench/post.lua),
# runs in ABBA order so that neither build is always first; then, once
# both have delivered everything, CPU per record end to end (ingest,
# delivery and the embedded Bucket). Loopback only; bounded duration.
# Usage: scripts/bench-ab.sh BIN_A BIN_B [cycles=4] [seconds=8] [lua=../shared/bench/post.lua]
# (build B from the previous main, e.g. git worktree add /tmp/prev HEAD~N;
#  go build -o /tmp/cb-prev /tmp/prev/cmd/corebridge). Needs wrk.
set -euo pipefail
a=$1 b=$2 n=${3:-4} secs=${4:-8}
lua=${5:-"$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/post.lua"}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
"$a" serve --addr 127.0.0.1:18801 --data-dir "$work/a" --log-format json 2>"$work/a.log" &
pa=$!
"$b" serve --addr 127.0.0.1:18802 --data-dir "$work/b" --log-format json 2>"$work/b.log" &
pb=$!
sleep 4
status() { curl -s "http://127.0.0.1:$1/bucket/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
for p in 18801 18802; do wrk -t2 -c64 -d2s -s "$lua" "http://127.0.0.1:$p/core/update" >/dev/null; done
for p in 18801 18802; do until [ "$(status $p pending_count)" = 0 ]; do sleep 1; done; done
ta0=$(ticks $pa) tb0=$(ticks $pb) ra0=$(status 18801 received_count) rb0=$(status 18802 received_count)
for i in $(seq "$n"); do
  order="18801 18802"; [ $((i % 2)) = 0 ] && order="18802 18801"
  for p in $order; do
    out=$(wrk -t2 -c64 -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$p/core/update" 2>&1)
    echo "$p $(echo "$out" | awk '/Requests\/sec/{print $2}') $(echo "$out" | awk '$1=="99%"{print $2}')"
  done
done >"$work/runs"
for p in 18801 18802; do until [ "$(status $p pending_count)" = 0 ]; do sleep 1; done; done
ta1=$(ticks $pa) tb1=$(ticks $pb) ra1=$(status 18801 received_count) rb1=$(status 18802 received_count)
python3 - "$work/runs" "$ta0" "$ta1" "$tb0" "$tb1" "$ra0" "$ra1" "$rb0" "$rb1" "$(getconf CLK_TCK)" <<'PY'
import re, sys
rows = [l.split() for l in open(sys.argv[1])]
ta0, ta1, tb0, tb1, ra0, ra1, rb0, rb1, hz = map(int, sys.argv[2:])
def ms(x):
    m = re.match(r"([\d.]+)(us|ms|s)", x); v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
for r in rows: print("run", "A" if r[0] == "18801" else "B", r[1], r[2])
A = [r for r in rows if r[0] == "18801"]; B = [r for r in rows if r[0] == "18802"]
qa = sum(float(r[1]) for r in A) / len(A); qb = sum(float(r[1]) for r in B) / len(B)
pa = max(ms(r[2]) for r in A); pb = max(ms(r[2]) for r in B)
ca = (ta1 - ta0) / hz * 1e6 / (ra1 - ra0); cb = (tb1 - tb0) / hz * 1e6 / (rb1 - rb0)
print(f"A {qa:.0f} req/s p99<={pa:.1f} ms cpu/record {ca:.1f} us | B {qb:.0f} req/s p99<={pb:.1f} ms cpu/record {cb:.1f} us"
      f" | req/s A/B {qa/qb:.3f}, cpu/record A/B {ca/cb:.3f}")
PY
