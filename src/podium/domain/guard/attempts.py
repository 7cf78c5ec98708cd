"""One request's attempts at secrets, for the edges and pages that take them.

The check is a read in the request's own transaction. A failure cannot be written there: the request
that failed is rolled back (its unit of work raises). So ``failed`` only notes it, and ``settle``
— called once the request's transaction is over, whatever its outcome — records the noted failures in
a short transaction of their own.

    attempts = Attempts(sessions, settings, client_address(request), dispatcher)
    def work(ctx):
        attempts.check(ctx.session, target)      # TooManyAttempts while locked
        if not secret_matches(...):
            attempts.failed(target)
            raise WrongSecret(...)
    try:
        await run_unit_of_work(request, work)
    finally:
        await attempts.settle_async()
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from podium.config import Settings
from podium.domain.guard.service import GuardService, Lockout
from podium.domain.guard.targets import Target
from podium.kit.uow import NO_DISPATCH, Context, Dispatcher, run

log = logging.getLogger(__name__)


class Attempts:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        client: str,
        dispatcher: Dispatcher = NO_DISPATCH,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.client = client
        self.dispatcher = dispatcher
        self.failures: list[tuple[Target, ...]] = []

    def check(self, session: Session, *targets: Target) -> None:
        """Refuse (``TooManyAttempts``) while the client or any of ``targets`` is locked."""
        GuardService(session, self.settings).check(self.client, targets)

    def failed(self, *targets: Target) -> None:
        """Note a failed attempt (on the client, and on ``targets`` when it was aimed at some)."""
        self.failures.append(targets)

    def settle(self) -> list[Lockout]:
        """Record the noted failures in a transaction of their own (after the request's)."""
        failures, self.failures = self.failures, []
        if not failures or not self.settings.guard_enabled:
            return []

        def record(ctx: Context) -> list[Lockout]:
            guard = GuardService(ctx.session, ctx.settings)
            return [lockout for targets in failures for lockout in guard.record_failure(self.client, targets)]

        try:
            return run(self.sessions, self.settings, record, self.dispatcher)
        except SQLAlchemyError:
            # The attempt is answered anyway; a database that cannot count it now is logged, not a 500.
            log.exception("could not record %d failed attempt(s) from %s", len(failures), self.client)
            return []

    async def settle_async(self) -> list[Lockout]:
        """``settle`` off the event loop (database calls block); a request that failed nothing — nearly
        every one — settles without leaving the loop."""
        if not self.failures or not self.settings.guard_enabled:
            self.failures = []
            return []
        return await run_in_threadpool(self.settle)
