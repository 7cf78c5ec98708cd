#!/usr/bin/env bash
# Runs "$@" with PODIUM_TEST_DATABASE_URL pointing at a throwaway PostgreSQL cluster that this
# script installs (Debian package, when missing), starts on loopback, and removes on exit.
set -euo pipefail

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
bindir=$(find_bin)
if [ -z "$bindir" ]; then
  echo "with-postgres: installing PostgreSQL (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  bindir=$(find_bin)
fi

workdir=$(mktemp -d /tmp/podium-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner=()
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: run the cluster as the package's postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$workdir"
  as_owner=(runuser -u postgres --)
fi

cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$workdir/data" -U podium --auth=trust -E UTF8 >/dev/null
# A throwaway cluster: no fsync. Autovacuum looks every second instead of every minute: a table the
# benchmarks fill from empty in ten seconds would otherwise be planned as empty throughout, which a
# production table, analysed as it grows, never is (bench/api_latency.py, ppv/addbuyer).
"${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/log" -w \
  -o "-h 127.0.0.1 -p $port -k $workdir -c fsync=off -c full_page_writes=off -c autovacuum_naptime=1" \
  start >/dev/null
"${as_owner[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U podium podium_test

export PODIUM_TEST_DATABASE_URL="postgresql://podium@127.0.0.1:$port/podium_test"
"$@"
