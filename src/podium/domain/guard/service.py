"""Guessing: failed attempts at secrets, counted per target and per client, and the locks they earn.

The rules (settings ``PODIUM_GUARD_*``):

- Only failures count; successful attempts write nothing and never use up a budget, so any number of
  people behind one address (a webinar audience behind a NAT) get in as long as they do not fail.
- A target (``targets.Target``: one conference's PIN, one room-code prefix, one subscription's
  passwords, one login) that fails ``guard_target_failures`` times within ``guard_window_seconds`` is
  locked for everyone — the right secret is refused too — for ``guard_lock_seconds``, doubling with
  each lockout in a row up to ``guard_lock_max_seconds``.
- A client address that fails ``guard_client_failures`` times within the window, whatever it aimed
  at, is refused every guarded attempt for the same growing time.
- A key quiet for a day forgets its lockouts (and its row is swept).
- Every lockout is audited (``security.lockout``), under the target's company when it has one.

Counters live in the database (``guard_counters``), so every process sees every lock: an attempt
checks its keys against the locks in force, which each process keeps and reads again when a lock is
taken anywhere (``check``, kit/stamped: at once here, within a second elsewhere); a failure is one
upsert per key (``record_failure``), made in a transaction of its own because the failed request's
transaction is rolled back (``attempts.Attempts``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.guard.repository import GUARD_LOCKS, LOCKOUT_ACTION, GuardRepository
from podium.domain.guard.targets import Target
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput, TooManyAttempts
from podium.kit.stamped import StampedCache
from podium.models.audit import AuditEntry

GUARD_ACTOR = "system:guard"
CLIENT_KIND = "client"
# A key with no failure for this long forgets its lockouts (and its row goes at the next sweep).
FORGET_AFTER = timedelta(days=1)
# Old rows are swept after each lockout and, besides, after about one failure in this many.
SWEEP_EVERY = 50
MAX_LOCKOUT_DAYS = 90
MAX_LOCKOUTS_LISTED = 1000


# The locks in force (few), kept per process while no new lock is taken anywhere; a lock ends by itself
# at its time, which the check compares.
LOCKS_BOARD: StampedCache[dict[str, datetime]] = StampedCache(GUARD_LOCKS)


def client_key(client: str) -> str:
    return f"{CLIENT_KIND}:{client}"


@dataclass(frozen=True)
class Lockout:
    """A key that has just been locked."""

    kind: str
    ref: str
    company_id: int | None
    seconds: int
    until: datetime


class GuardService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = GuardRepository(session)

    def check(self, client: str, targets: Sequence[Target] = ()) -> None:
        """Refuse an attempt while its client or any of its targets is locked (one read).

        Args:
            client: the address the attempt comes from (``kit.clients.client_address``).
            targets: what the attempt is aimed at, when it is a guessable target.

        Raises:
            TooManyAttempts: with the seconds until the longest of those locks ends.
        """
        if not self.settings.guard_enabled:
            return
        now = utcnow()
        board = self.locks_board()
        keys = [client_key(client), *(t.key for t in targets)]
        locks = [board[key] for key in keys if key in board and board[key] > now]
        if not locks:
            return
        seconds = max(1, math.ceil((max(locks) - now).total_seconds()))
        raise TooManyAttempts(
            f"Too many failed attempts: try again in {seconds} seconds", retry_after=seconds
        )

    def locks_board(self) -> dict[str, datetime]:
        """Every lock in force, as this process knows it: read again whenever a lock was taken here
        (at once) or in another process (within a second, kit/stamped)."""
        board = LOCKS_BOARD.get(self.session, "locks")
        if board is None:
            stamp = LOCKS_BOARD.stamp(self.session)
            board = self.repo.locks(utcnow())
            LOCKS_BOARD.put(self.session, "locks", board, stamp)
        return board

    def record_failure(self, client: str, targets: Sequence[Target] = ()) -> list[Lockout]:
        """Count one failed attempt against the client and each target; lock every key that has used
        up its budget, with an audit entry each.

        Runs in a transaction of its own (the failed request's is rolled back): one upsert per key,
        and an update plus an audit entry when a key locks.

        Returns:
            The lockouts this failure caused.
        """
        if not self.settings.guard_enabled:
            return []
        now = utcnow()
        window_start = now - timedelta(seconds=self.settings.guard_window_seconds)
        forget_before = now - FORGET_AFTER
        keyed: dict[str, Target | None] = {client_key(client): None}
        keyed.update({t.key: t for t in targets})
        lockouts: list[Lockout] = []
        # Keys in one order in every process: two failures on shared keys never deadlock.
        for key in sorted(keyed):
            target = keyed[key]
            budget = (
                self.settings.guard_client_failures if target is None else self.settings.guard_target_failures
            )
            failures, streak = self.repo.count_failure(
                key, now, window_start=window_start, forget_before=forget_before
            )
            if budget < 1 or failures < budget:
                continue
            seconds = self.lock_seconds(streak)
            until = now + timedelta(seconds=seconds)
            if not self.repo.lock(key, now, until, budget=budget):
                continue  # another process locked it with the same failure count
            lockout = Lockout(
                kind=CLIENT_KIND if target is None else target.kind.value,
                ref=f"{CLIENT_KIND}:{client}" if target is None else target.ref,
                company_id=None if target is None else target.company_id,
                seconds=seconds,
                until=until,
            )
            log_action(
                self.session,
                LOCKOUT_ACTION,
                actor=GUARD_ACTOR,
                ref=lockout.ref,
                company_id=lockout.company_id,
                kind=lockout.kind,
                seconds=seconds,
                until=until.isoformat(timespec="seconds") + "Z",
                failures=failures,
                lockouts_in_a_row=streak + 1,
                client=client,
            )
            lockouts.append(lockout)
        if lockouts or random.randrange(SWEEP_EVERY) == 0:
            self.repo.sweep(now, forget_before)
        return lockouts

    def lock_seconds(self, streak: int) -> int:
        """How long the next lock lasts after ``streak`` lockouts in a row: the base, doubled each time,
        at most the cap."""
        base = max(1, self.settings.guard_lock_seconds)
        cap = max(base, self.settings.guard_lock_max_seconds)
        return min(cap, base * 2 ** min(streak, 32))

    def lockouts(self, actor: Actor, company_id: int | None, days: int = 30) -> Sequence[AuditEntry]:
        """A company's recent lockouts (its admins', or a reseller admin's within its tree), newest first.

        Args:
            actor: a company admin (its own company) or a reseller admin.
            company_id: the company, for a reseller admin (else its own).
            days: how far back (1 to 90).

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            InvalidInput: ``days`` out of range.
            NotFound: the company does not exist.
        """
        company = AccessPolicy(self.session, actor).company_or_own(company_id)
        if not 1 <= days <= MAX_LOCKOUT_DAYS:
            raise InvalidInput(f"days must be between 1 and {MAX_LOCKOUT_DAYS}", field="days")
        since = utcnow() - timedelta(days=days)
        return self.repo.recent_lockouts(company.id, since, MAX_LOCKOUTS_LISTED)
