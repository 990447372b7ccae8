#!/usr/bin/env bash
# The daemon burst on each history setup, in one run: one daemon on SQLite, then one, two and
# three daemons sharing a PostgreSQL history (and the drop and reports folders). Starts its own
# PostgreSQL server (Debian's packages; as the postgres user when run as root) on 127.0.0.1, on
# a free port, in a temporary folder, with the server's defaults (fsync on), and stops it at the
# end. Prints each setup's throughput and complete-to-report latency (p50, p95).
#
#   bash benches/fleet_burst.sh [COUNT] [SETTLE_MS] [rename|copy]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000}"
settle="${2:-2000}"
mode="${3:-copy}"
export SOLGUARD_CORPUS="${SOLGUARD_CORPUS:-$(cd .. && pwd)/shared/corpus}"

bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
root="$(mktemp -d /tmp/solguard-bench-pg-XXXXXX)"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$root"
  as_pg=(runuser -u postgres --)
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${as_pg[@]}" "$bin/initdb" -D "$root/data" -U solguard -A trust -E UTF8 --no-instructions >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$root -c max_connections=50" start >/dev/null
stop() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap stop EXIT

cargo build --release --quiet
cargo build --release --quiet --example watch_burst
burst=target/release/examples/watch_burst

echo "== one daemon, SQLite"
"$burst" "$count" "$settle" "$mode" 1
for daemons in 1 2 3; do
  db="bench_${daemons}"
  psql -q -h 127.0.0.1 -p "$port" -U solguard -d postgres -c "CREATE DATABASE $db" >/dev/null
  echo "== $daemons daemon(s), PostgreSQL"
  SOLGUARD_BENCH_HISTORY="postgres://solguard@127.0.0.1:$port/$db" "$burst" "$count" "$settle" "$mode" "$daemons"
done
