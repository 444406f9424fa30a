#!/usr/bin/env bash
# The three-replica drill, for people: starts a throwaway PostgreSQL
# (unless COREBRIDGE_TEST_POSTGRES_URL names one), then runs the drill
# test: three `serve` replicas as processes on one database, producers
# spread round-robin over them (4 modules; every tenth update resent
# through another replica with the same Idempotency-Key), one replica
# kill -9'd mid-run and restarted, the Bucket stopped for 10 s. It passes
# only if the Bucket ends with every acknowledged record exactly once, in
# each producer's order, and the producers saw no error but 503s.
#   scripts/replicas-drill.sh [RECORDS_PER_MODULE=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${COREBRIDGE_TEST_POSTGRES_URL:-}" ]; then
  COREBRIDGE_TEST_POSTGRES_URL=$(scripts/postgres.sh start /tmp/corebridge-drill-pg)
  trap 'scripts/postgres.sh stop /tmp/corebridge-drill-pg' EXIT
fi
export COREBRIDGE_TEST_POSTGRES_URL COREBRIDGE_REQUIRE_POSTGRES=1
export COREBRIDGE_DRILL_RECORDS=${1:-5000}
go test ./cmd/corebridge -run '^TestReplicasDrill$' -count=1 -v -timeout 30m 2>&1 | grep -v '^\s*{' 
