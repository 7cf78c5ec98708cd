"""Background jobs run by the outbox worker (accepted with 202, finished later, retried on failure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.media.service import MediaService
from podium.domain.subscriptions.service import SubscriptionService
from podium.models.subscription import SubscriptionStatus


def _subscriptions_set_all(session: Session, _settings: Settings, payload: dict[str, Any]) -> None:
    SubscriptionService(session).set_all(
        str(payload.get("actor", "system:job")),
        int(payload["company_id"]),
        SubscriptionStatus(payload["from"]),
        SubscriptionStatus(payload["to"]),
    )


def _media_purge(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    MediaService(session, settings).purge_files(str(payload["storage_key"]))


JOBS: dict[str, Callable[[Session, Settings, dict[str, Any]], None]] = {
    "subscriptions.set_all": _subscriptions_set_all,
    "media.purge": _media_purge,
}
