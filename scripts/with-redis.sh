#!/usr/bin/env bash
# Runs "$@" with PODIUM_TEST_REDIS_URL pointing at a throwaway Redis that this script installs
# (Debian package redis-server, when missing), starts on a free loopback port without persistence,
# and stops on exit.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  echo "with-redis: installing Redis (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq redis-server >/dev/null
fi

workdir=$(mktemp -d /tmp/podium-redis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  if [ -f "$workdir/redis.pid" ]; then
    pid=$(cat "$workdir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

# No RDB snapshots, no append-only file: nothing outlives the run.
redis-server --bind 127.0.0.1 --port "$port" --dir "$workdir" --save '' --appendonly no \
  --daemonize yes --pidfile "$workdir/redis.pid" --logfile "$workdir/log" >/dev/null
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
    break
  fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" ping | grep -q PONG

export PODIUM_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
"$@"
