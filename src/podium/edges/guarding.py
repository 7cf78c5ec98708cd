"""The guessing guard (domain/guard) for one request: its attempts, counted against its client address."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from podium.domain.guard.attempts import Attempts
from podium.kit.clients import client_address
from podium.kit.uow import NO_DISPATCH


def attempts(connection: HTTPConnection) -> Attempts:
    """The attempts of this request, recorded on the app's database."""
    state = connection.app.state
    return Attempts(
        state.sessions, state.settings, client_address(connection), getattr(state, "dispatcher", NO_DISPATCH)
    )
