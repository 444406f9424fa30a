#!/usr/bin/env bash
# What authentication costs ingest: three serve processes of the same build
# (each as it ships, embedded Bucket delivering) — no auth file, a bearer
# token, a bearer token that must also sign every request (Standard
# Webhooks, HMAC-SHA256) — driven in turn by the Go load generator
# (corebridge mock --load; it signs through the client package), rotating
# the order each round so that none is always first. Then the same for
# none vs bearer with wrk (lighter client), if wrk is installed.
# Loopback only; bounded duration.
# Usage: scripts/bench-auth.sh [seconds per run=8] [rounds=3] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8} rounds=${2:-3} conns=${3:-64}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; true' EXIT
go build -o "$work/corebridge" ./cmd/corebridge
cb="$work/corebridge"
# One token for both auth files; the signing one adds a secret.
out=$("$cb" token new --name bench --role producer --module '*')
token=$(echo "$out" | grep -o 'cbt_[A-Za-z0-9_-]*' | head -1)
entry=$(echo "$out" | grep -o '{.*}' | head -1)
secret="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
printf 'tokens:\n  - %s\n' "$entry" >"$work/auth-bearer.yaml"
printf 'tokens:\n  - %s\n' "$(echo "$entry" | sed "s|}\$|,\"signing_secrets\":[\"$secret\"]}|")" >"$work/auth-signed.yaml"
printf '%s\n' "$secret" >"$work/secret"
chmod 600 "$work"/auth-*.yaml "$work/secret"
common=(--log-format json --max-pending -1 --core-sync-log off --flow-log off --metrics-log off)
"$cb" serve --addr 127.0.0.1:18901 --data-dir "$work/none" "${common[@]}" 2>"$work/none.log" &
"$cb" serve --addr 127.0.0.1:18902 --data-dir "$work/bearer" --auth-file "$work/auth-bearer.yaml" "${common[@]}" 2>"$work/bearer.log" &
"$cb" serve --addr 127.0.0.1:18903 --data-dir "$work/signed" --auth-file "$work/auth-signed.yaml" "${common[@]}" 2>"$work/signed.log" &
sleep 3
load() { # name port extra-args…
  local name=$1 port=$2; shift 2
  "$cb" mock --load --api-url "http://127.0.0.1:$port" --connections "$conns" --duration "${secs}s" --json "$@" 2>/dev/null |
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(sys.argv[1], d["ok_rps"], d["latency_ms"]["p99"], d["errors"])' "$name"
}
{
  for r in $(seq "$rounds"); do
    order="none bearer signed"
    [ $((r % 3)) = 2 ] && order="bearer signed none"
    [ $((r % 3)) = 0 ] && order="signed none bearer"
    for t in $order; do
      case $t in
        none) load none 18901 ;;
        bearer) load bearer 18902 --token "$token" ;;
        signed) load signed 18903 --token "$token" --signing-secret-file "$work/secret" ;;
      esac
    done
  done
} | tee "$work/runs"
python3 - "$work/runs" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
mean = lambda k, i: sum(float(r[i]) for r in rows if r[0] == k) / max(1, sum(1 for r in rows if r[0] == k))
worst = lambda k: max(float(r[2]) for r in rows if r[0] == k)
base = mean("none", 1)
for k in ("none", "bearer", "signed"):
    print(f"mock --load {k:7s} {mean(k, 1):8.0f} req/s  p99<={worst(k):6.1f} ms  ratio to none {mean(k, 1) / base:.3f}")
PY
if command -v wrk >/dev/null; then
  lua=scripts/wrk/post-token.lua
  for r in $(seq "$rounds"); do
    for t in none bearer; do
      [ $((r % 2)) = 0 ] && t=$([ "$t" = none ] && echo bearer || echo none)
      port=18901; tok=""
      [ "$t" = bearer ] && port=18902 && tok=$token
      o=$(COREBRIDGE_TOKEN=$tok wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$port/core/update" 2>&1)
      echo "wrk $t $(echo "$o" | awk '/Requests\/sec/{print $2}') $(echo "$o" | awk '$1=="99%"{print $2}') $(echo "$o" | awk '/Non-2xx/{print $NF}')"
    done
  done
fi
