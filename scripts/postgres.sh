#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benchmarks, on a free
# port, owned by the postgres user (initdb refuses root). Nothing of the
# system's own cluster is touched.
#
#   scripts/postgres.sh start [DIR]   # prints the URL; state in DIR (default /tmp/corebridge-pg)
#   scripts/postgres.sh stop  [DIR]
#   scripts/postgres.sh url   [DIR]
#
# Tests read the URL from COREBRIDGE_TEST_POSTGRES_URL:
#   export COREBRIDGE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
set -euo pipefail
cmd=${1:-}
dir=${2:-/tmp/corebridge-pg}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres?sslmode=disable"; }

case "$cmd" in
start)
	if [ -f "$dir/port" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		url
		exit 0
	fi
	[ -x "$PGBIN/initdb" ] || { echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
	rm -rf "$dir"
	mkdir -p "$dir/data" "$dir/run"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	echo "$port" >"$dir/port"
	[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
	chmod 700 "$dir/data"
	as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# Room for several replicas' pools and the tests' handles.
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/run/server.log" -w -t 60 \
		-o "-p $port -k $dir/run -h 127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" start >/dev/null ||
		{ cat "$dir/run/server.log" >&2; exit 1; }
	url
	;;
stop)
	[ -d "$dir/data" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
url) url ;;
*)
	echo "usage: $0 start|stop|url [DIR]" >&2
	exit 2
	;;
esac
