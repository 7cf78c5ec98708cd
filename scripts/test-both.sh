#!/usr/bin/env bash
# The README's test command: the suite on SQLite and, at the same time, on a throwaway PostgreSQL with
# Redis. Most of the suite waits (browsers, Janus, ffmpeg, timers), so on two cores the passes overlap
# well: about 24 minutes instead of about 36 one after the other. The PostgreSQL pass writes to a file
# that is printed after the SQLite pass, so the two outputs never interleave. Exits non-zero when either
# pass fails. Extra arguments go to both pytest runs.
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp /tmp/podium-test-postgres.XXXXXX.log)
scripts/with-postgres.sh scripts/with-redis.sh .venv/bin/pytest tests "$@" >"$log" 2>&1 &
postgres_pid=$!
# A CI timeout or ^C stops the background pass too.
trap 'kill -- "$postgres_pid" 2>/dev/null; rm -f "$log"' EXIT

echo "=== SQLite pass (the PostgreSQL + Redis pass runs alongside; its output follows) ==="
.venv/bin/pytest tests "$@"
sqlite_status=$?
wait "$postgres_pid"
postgres_status=$?

echo
echo "=== PostgreSQL + Redis pass ==="
cat "$log"
echo
echo "SQLite pass: exit $sqlite_status; PostgreSQL + Redis pass: exit $postgres_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
