"""Answers to repeated reads, kept for at most a second while nothing was written (ADR 0016).

An API read costs ten bare requests, most of it the unit of work's hop to a thread, the session and
the ORM; a client that polls one conference, or a thousand clients of one webinar, ask the same
question over and over. ``AnswerCache`` keeps the rendered answer of a method that declares itself
cacheable, keyed by everything in the request that can change it (method, path, query, body, the
credential's headers), and serves it again on the event loop — no thread, no session — while:

- **no write has happened in this process since** the answer's unit of work began: every statement
  that is not a read, on any engine of the process, moves a generation (``_writes``) when it runs,
  and again when its connection goes back to the pool after the commit. A process's own writes are
  therefore seen by its next read, as before;
- **it is younger than ``TTL_SECONDS``** on the monotonic clock *and* on the application's clock (a test
  that moves the frozen clock sees the answers that depend on it change). Another process's writes,
  and what is not in the database (viewers counted in memory, presence), are seen within that
  second — the bound the request-path caches already keep for credentials (ADR 0008).

Only successful answers are kept; a failure (and the guard's counting of it) always runs in full.
Requests for the same answer that arrive while it is being read wait for that one read (a second's
expiry would otherwise send every concurrent client to the database at once).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool
from starlette.requests import Request
from starlette.responses import Response

from podium.kit.clock import utcnow
from podium.kit.metrics import API_ANSWERS

TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000
# Statements that write nothing; anything else counts as a write (a new kind of statement is
# conservatively a write: it only costs cached answers).
_READS = ("SELECT", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "SHOW", "SET ", "EXPLAIN")
_WROTE = "podium.answers.wrote"
# The request headers an answer may depend on besides its method, path, query and body.
_HEADERS = (b"authorization", b"cookie", b"content-type", b"accept", b"host", b"x-forwarded-proto")

_KEPT, _SHARED, _READ = (API_ANSWERS.labels(source) for source in ("kept", "shared", "read"))

_writes = 0
_writes_lock = threading.Lock()


def _moved() -> None:
    global _writes
    with _writes_lock:
        _writes += 1


@event.listens_for(Engine, "after_cursor_execute")
def _after_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if statement.lstrip()[:8].upper().startswith(_READS):
        return
    conn.info[_WROTE] = True
    _moved()  # now, for a connection that commits by itself


@event.listens_for(Pool, "checkin")
def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    # A connection goes back to the pool once its transaction is over — after its COMMIT: a read
    # that began between the write and the commit (and saw the old rows) is not kept.
    if record is not None and record.info.pop(_WROTE, None):
        _moved()


@dataclass(frozen=True)
class _Kept:
    writes: int
    expires: float
    at: datetime
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]

    def response(self) -> Response:
        response = Response(status_code=200)
        response.body = self.body
        response.raw_headers = list(self.headers)  # a copy: middlewares may add to the list they send
        return response


class AnswerCache:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._kept: dict[Hashable, _Kept] = {}
        # (key, write generation) -> the read of it under way (on the event loop only).
        self._flights: dict[tuple[Hashable, int], asyncio.Future[_Kept | None]] = {}

    @staticmethod
    def key(request: Request, method: str, body: bytes) -> bytes:
        """A digest of what can change the answer (never the secrets in it themselves, ADR 0008)."""
        scope = request.scope
        headers = sorted(k + b":" + v for k, v in scope.get("headers", ()) if k in _HEADERS)
        parts = [method.encode(), scope["method"].encode(), str(scope.get("scheme")).encode()]
        parts += [scope["path"].encode(), scope["query_string"], body, *headers]
        digest = hashlib.sha256()
        for part in parts:  # each with its length: no two requests' parts run into the same bytes
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.digest()

    async def serve(self, key: Hashable, run: Callable[[], Awaitable[tuple[Response, bool]]]) -> Response:
        """The kept answer to ``key``; else the one being read for it now; else ``run``'s (which
        also says whether it succeeded: only a success is kept)."""
        kept = self._kept.get(key)
        if kept is not None and self._fresh(kept):
            _KEPT.inc()
            return kept.response()
        stamp = self.stamp()
        flight = (key, stamp[0])
        leader = self._flights.get(flight)
        if leader is not None:
            shared = await asyncio.shield(leader)
            if shared is not None:
                _SHARED.inc()
                return shared.response()
            return (await run())[0]  # the leader failed, or its answer may not be kept: read our own
        _READ.inc()
        future: asyncio.Future[_Kept | None] = asyncio.get_running_loop().create_future()
        self._flights[flight] = future
        kept = None
        try:
            response, succeeded = await run()
            if succeeded:
                kept = self._put(key, stamp, response)
            return response
        finally:
            del self._flights[flight]
            future.set_result(kept)

    def _fresh(self, kept: _Kept) -> bool:
        if kept.writes != _writes or kept.expires < time.monotonic():
            return False
        age = (utcnow() - kept.at).total_seconds()
        return 0 <= age < self.ttl

    @staticmethod
    def stamp() -> tuple[int, float, datetime]:
        """Taken before the answer's unit of work begins: a write committed while it ran (which it
        may or may not have seen) keeps the answer out."""
        return _writes, time.monotonic(), utcnow()

    def _put(self, key: Hashable, stamp: tuple[int, float, datetime], response: Response) -> _Kept | None:
        generation, started, at = stamp
        if generation != _writes or response.status_code != 200 or not isinstance(response.body, bytes):
            return None
        if any(name == b"set-cookie" for name, _ in response.raw_headers):
            return None
        if len(self._kept) >= self.max_entries:
            self._kept.clear()  # rare (that many distinct reads within a second): start afresh
        kept = _Kept(generation, started + self.ttl, at, response.body, tuple(response.raw_headers))
        self._kept[key] = kept
        return kept
