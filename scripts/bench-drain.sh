#!/usr/bin/env bash
# Time to drain a backlog after a Bucket outage: a reference Bucket in its
# own process, serve pointed at it; the Bucket is stopped, N records are
# posted (batches of 1,000 through /core/updates), the Bucket is started
# again, and the script times until pending_queue is 0 and checks the
# Bucket holds every record. Loopback only. Usage: scripts/bench-drain.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
go build -o "$work/corebridge" ./cmd/corebridge
cb="$work/corebridge"
api=http://127.0.0.1:18710
"$cb" bucket --addr 127.0.0.1:18711 --data-dir "$work/bucket" --log-format json 2>"$work/bucket.log" &
bpid=$!
"$cb" serve --addr 127.0.0.1:18710 --data-dir "$work/data" --bucket-url http://127.0.0.1:18711 \
  --max-pending -1 --log-format json 2>"$work/serve.log" &
sleep 2
kill $bpid; wait $bpid 2>/dev/null || true
echo "bucket stopped; posting $n records in batches of 1,000"
python3 - "$api" "$n" <<'PY'
import json, sys, time, urllib.request
api, n = sys.argv[1], int(sys.argv[2])
mods = ["education", "finance", "creative", "robotics"]
t0 = time.time()
for b in range(n // 1000):
    items = [{"module": mods[(b * 1000 + i) % 4], "data": {"student_id": "S-%d" % i, "course": "algebra", "score": 87.5,
              "progress": {"done": i % 20, "total": 20}, "notes": "steady improvement over the last three sessions"}}
             for i in range(1000)]
    req = urllib.request.Request(api + "/core/updates", data=json.dumps({"updates": items}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
print("posted %d in %.1f s (%.0f records/s)" % (n, time.time() - t0, n / (time.time() - t0)))
PY
health() { curl -s $api/core/health; }
echo "before restart: $(health | python3 -c 'import json,sys; h=json.load(sys.stdin); print("status", h["status"], "pending", h["pending_queue"], "breaker", h["breaker"])')"
start=$(date +%s.%N)
"$cb" bucket --addr 127.0.0.1:18711 --data-dir "$work/bucket" --log-format json 2>>"$work/bucket.log" &
while :; do
  p=$(health | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_queue"])')
  [ "$p" = 0 ] && break
  sleep 0.5
done
end=$(date +%s.%N)
held=$(curl -s http://127.0.0.1:18711/v1/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
python3 -c "
s, e, n, held = $start, $end, $n, $held
print('drained %d records in %.1f s after the Bucket came back: %.0f records/s; the Bucket holds %d' % (n, e - s, n / (e - s), held))"
echo "after: $(health | python3 -c 'import json,sys; h=json.load(sys.stdin); print("status", h["status"], "synced", h["synced_total"], "dead", h["dead_count"])')"
