.PHONY: system-packages web-assets run test test-sqlite test-postgres check bench venv clean

venv:
	@scripts/ensure-venv.sh

## Run the server on the embedded defaults (SQLite under ./var, a local Janus), migrating on start.
run: venv system-packages web-assets
	.venv/bin/podium serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

## The whole suite on SQLite and on a throwaway PostgreSQL + Redis.
## Both passes at once (scripts/test-both.sh); test-sqlite / test-postgres run one.
test: venv system-packages web-assets
	scripts/test-both.sh

system-packages:
	@scripts/ensure-system-packages.sh

## The watch page's player library (hls.js) with npm, pinned and hash-checked; a no-op once it is there.
web-assets: venv system-packages
	@.venv/bin/python scripts/fetch-web-assets.py

test-sqlite: venv system-packages web-assets
	.venv/bin/pytest tests

test-postgres: venv system-packages web-assets
	scripts/with-postgres.sh scripts/with-redis.sh .venv/bin/pytest tests

check: venv
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy

bench: venv system-packages web-assets
	@scripts/ensure-system-packages.sh --bench
	.venv/bin/python bench/api_latency.py
	.venv/bin/python bench/room_join.py
	.venv/bin/python bench/heartbeats.py
	.venv/bin/python bench/stats_query.py
	.venv/bin/python bench/room_load.py
	.venv/bin/python bench/recordings.py
	.venv/bin/python bench/transcription.py
	.venv/bin/python bench/phone_legs.py

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache
