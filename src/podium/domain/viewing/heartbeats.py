"""Heartbeats counted in memory and written once a second: the watch page's beats at webinar scale.

A playing page beats every ``heartbeat_seconds`` with the milliseconds it played since its last beat;
the answer is a fresh playback token. Checking the session against its paywall and writing two rollup
upserts per beat held ingest to a few hundred beats a second. Here:

- **Admission** (``ViewingService.admit``, a database read): the first beat of a session in this
  process, and again after ``RECHECK_SECONDS`` or as soon as a paywall, access password or media
  changed (the ``viewing`` generation, kit/stamped), checks that the session may still play and keeps
  what the next beats need (``LiveView``).
- **A beat** of an admitted session touches no database: its claim is capped by the time that really
  passed since the session's previous beat (plus ``HEARTBEAT_SLACK``), added to the pending time of
  its hour, and answered with a new token.
- **The flush** (every ``FLUSH_SECONDS``, and when the server stops) writes the pending time of every
  session in one transaction: each session's watched time and last beat, and the rollups. It caps
  each session's total by its life so far (plus one slack), so a page beating faster than it plays,
  or whose beats reach several processes, counts no more than the time that really passed.

Durability: a beat is acknowledged before it is written. A stopping server (SIGTERM) writes
everything; a killed one (``kill -9``) loses at most the beats of its last ``FLUSH_SECONDS``. A flush
that fails keeps its pending time for the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.media import links
from podium.domain.paywall.generations import VIEWING
from podium.domain.stats.repository import PROJECT, StatsRepository
from podium.domain.viewing.repository import ViewSessionRepository
from podium.kit import stamped
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput
from podium.kit.metrics import HEARTBEAT_FLUSH_FAILURES, HEARTBEAT_WATCHED, HEARTBEATS
from podium.kit.text import same_secret

log = logging.getLogger(__name__)

# A heartbeat may claim the time since the previous one, plus this much for network jitter.
HEARTBEAT_SLACK = timedelta(seconds=5)
MAX_HEARTBEAT_MS = 5 * 60 * 1000
FLUSH_SECONDS = 1.0
# An admitted session is checked against the database again after this long, whatever changed.
RECHECK_SECONDS = 30.0
# A session silent this long leaves memory (its next beat is admitted again).
FORGET_SECONDS = 600.0
# /metrics (kit/metrics.py): beats by outcome.
_COUNTED, _ADMITTED, _INVALID = (HEARTBEATS.labels(o) for o in ("counted", "admitted", "invalid"))


@dataclass
class LiveView:
    """What the beats of an admitted session need, without the database."""

    session_id: int
    key: str
    company_id: int
    media_id: int
    media_code: str
    preview_seconds: int | None
    last_seen: datetime
    generation: int
    # The end of the access password's window: from then the session is checked (and refused).
    valid_until: datetime | None = None
    admitted_at: float = field(default_factory=time.monotonic)
    heard_at: float = field(default_factory=time.monotonic)
    # The playback token last answered, and when it expires (re-signed only when it would not outlive
    # two more beats: signing costs about as much as a whole bare request).
    token: str = ""
    token_expires: datetime | None = None


@dataclass
class _Pending:
    company_id: int
    media_id: int
    last_seen: datetime
    by_hour: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def total(self) -> int:
        return sum(self.by_hour.values())


def check_claim(watched_ms: int) -> None:
    if not 0 <= watched_ms <= MAX_HEARTBEAT_MS:
        _INVALID.inc()
        raise InvalidInput(f"watched must be between 0 and {MAX_HEARTBEAT_MS} ms", field="watched")


def allowance_ms(since: datetime, now: datetime) -> int:
    """What may be counted for the time from ``since`` to ``now``: that time plus the slack."""
    return int(((now - since) + HEARTBEAT_SLACK).total_seconds() * 1000)


def counted_ms(claimed_ms: int, since: datetime, now: datetime) -> int:
    """The part of a claim the time since ``since`` allows (the one rule of counting)."""
    return max(0, min(claimed_ms, allowance_ms(since, now)))


class HeartbeatLedger:
    """This process's admitted sessions and their pending watched time (thread-safe)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.database = stamped.database_of(sessions.kw["bind"])
        self._views: dict[int, LiveView] = {}
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the event loop's side: no database --------------------------------------------------

    def beat(self, session_id: int, key: str, watched_ms: int) -> str | None:
        """Count a beat of an admitted session and answer its new token; None when the session must
        be admitted (first beat here, re-check due, or something it depends on changed)."""
        view = self._views.get(session_id)
        if view is None or not same_secret(key, view.key):
            return None
        moment = time.monotonic()
        current = stamped.known(self.database, VIEWING)
        if current != view.generation or moment - view.admitted_at > RECHECK_SECONDS:
            return None
        now = utcnow()
        if view.valid_until is not None and now > view.valid_until:
            return None
        check_claim(watched_ms)
        self.count(view, watched_ms, now)
        _COUNTED.inc()
        view.heard_at = moment
        return self.token(view)

    def admitted(self, view: LiveView, watched_ms: int) -> str:
        """Keep a session just admitted (``ViewingService.admit``) and count its beat."""
        check_claim(watched_ms)
        with self._lock:
            known = self._views.get(view.session_id)
            if known is not None:
                # Beats counted here since: keep the later moment, so no time is counted twice.
                view.last_seen = max(view.last_seen, known.last_seen)
            self._views[view.session_id] = view
        self.count(view, watched_ms, utcnow())
        _ADMITTED.inc()
        return self.token(view)

    def playing(self, session_id: int, key_prefix: str, media_code: str) -> bool:
        """Whether an admitted session may load its media's playlist now without the database: the
        checks its next beat would pass (same session and media, admitted within RECHECK_SECONDS,
        nothing it depends on changed, its password's window open). A preview goes the full way.
        A live's playlist, which a player reloads every second, is answered this way (web/media.py)."""
        view = self._views.get(session_id)
        if view is None or not key_prefix or view.media_code != media_code or view.preview_seconds:
            return False
        if not same_secret(view.key[: len(key_prefix)], key_prefix):
            return False
        if stamped.known(self.database, VIEWING) != view.generation:
            return False
        if time.monotonic() - view.admitted_at > RECHECK_SECONDS:
            return False
        return view.valid_until is None or utcnow() <= view.valid_until

    def forget(self, session_id: int) -> None:
        """The session ended (its page closed): its next beat is admitted again, and refused."""
        self._views.pop(session_id, None)

    def count(self, view: LiveView, watched_ms: int, now: datetime) -> None:
        counted = counted_ms(watched_ms, view.last_seen, now)
        with self._lock:
            view.last_seen = max(view.last_seen, now)
            pending = self._pending.get(view.session_id)
            if pending is None:
                pending = self._pending[view.session_id] = _Pending(view.company_id, view.media_id, now)
            pending.last_seen = max(pending.last_seen, now)
            if counted:
                pending.by_hour[now.replace(minute=0, second=0, microsecond=0)] += counted
        if counted:
            HEARTBEAT_WATCHED.inc(counted / 1000)

    def token(self, view: LiveView) -> str:
        """The session's playback token: the one last answered while it outlives two more beats
        (and a third of its life), else a freshly signed one. Reusing it never makes a token live
        longer than ``play_token_seconds`` from its signing."""
        now = utcnow()
        lifetime = timedelta(seconds=self.settings.play_token_seconds)
        keep = max(timedelta(seconds=2 * self.settings.heartbeat_seconds), lifetime / 3)
        if view.token and view.token_expires is not None and view.token_expires - now > keep:
            return view.token
        view.token = links.sign_play(
            self.settings,
            view.media_code,
            session_id=view.session_id,
            session_key=view.key,
            preview_seconds=view.preview_seconds,
        )
        view.token_expires = now + lifetime
        return view.token

    # --- the flusher's side --------------------------------------------------------------------

    def start(self) -> None:
        """Write the pending beats every ``FLUSH_SECONDS`` on a thread of its own."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="podium-heartbeats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the flusher and write what is pending (a stopping server loses no beat)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush(keep_fresh=True)

    def flush(self, *, keep_fresh: bool = False) -> int:
        """Write every pending beat in one transaction; returns the sessions written. A failure keeps
        the pending time for the next flush. Nothing pending: no transaction, unless ``keep_fresh``
        (the flusher's tick, which also re-reads the ``viewing`` generation the beats compare)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch and not keep_fresh:
                return 0
            try:
                with self.sessions() as session:
                    if keep_fresh:
                        stamped.generation(session, VIEWING)
                    if batch:
                        self._write(session, batch)
                    session.commit()
            except SQLAlchemyError:
                HEARTBEAT_FLUSH_FAILURES.inc()
                log.exception("could not write the watched time of %d session(s); retrying", len(batch))
                self._restore(batch)
                return 0
            self._forget_silent()
            return len(batch)

    def _write(self, session: Session, batch: dict[int, _Pending]) -> None:
        views = ViewSessionRepository(session)
        written = views.progress(list(batch))
        rows: dict[tuple[int, int, datetime], int] = defaultdict(int)
        updates: list[tuple[int, int, datetime]] = []
        for session_id, pending in batch.items():
            progress = written.get(session_id)
            if progress is None:
                continue  # deleted meanwhile
            # A session never counts more than its life (plus one slack), whatever its beats claimed
            # and whichever processes they reached.
            life_ms = allowance_ms(progress.started_at, pending.last_seen)
            allowed = max(0, min(pending.total, life_ms - progress.watched_ms))
            updates.append((session_id, allowed, max(pending.last_seen, progress.last_seen_at)))
            for hour in sorted(pending.by_hour):
                part = min(pending.by_hour[hour], allowed)
                allowed -= part
                rows[pending.company_id, pending.media_id, hour] += part
                rows[pending.company_id, PROJECT, hour] += part
        views.add_watched(updates)
        StatsRepository(session).add_watched([(c, m, h, ms) for (c, m, h), ms in rows.items()])

    def _restore(self, batch: dict[int, _Pending]) -> None:
        with self._lock:
            for session_id, failed in batch.items():
                pending = self._pending.get(session_id)
                if pending is None:
                    self._pending[session_id] = failed
                    continue
                pending.last_seen = max(pending.last_seen, failed.last_seen)
                for hour, ms in failed.by_hour.items():
                    pending.by_hour[hour] += ms

    def _forget_silent(self) -> None:
        horizon = time.monotonic() - FORGET_SECONDS
        with self._lock:
            for session_id in [s for s, v in self._views.items() if v.heard_at < horizon]:
                del self._views[session_id]
