"""Background jobs run by the outbox worker (accepted with 202, finished later, retried on failure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.conferences.lifecycle import SUMMARY_JOB
from podium.domain.media.service import MediaService
from podium.domain.recordings.service import RecordingService
from podium.domain.subscriptions.service import SubscriptionService
from podium.kit.clock import utcnow
from podium.models.conference import Conference
from podium.models.subscription import SubscriptionStatus


def _subscriptions_set_all(session: Session, _settings: Settings, payload: dict[str, Any]) -> None:
    SubscriptionService(session).set_all(
        str(payload.get("actor", "system:job")),
        int(payload["company_id"]),
        SubscriptionStatus(payload["from"]),
        SubscriptionStatus(payload["to"]),
    )


class RecordingsPending(Exception):
    """The conference's recordings are still being composed: the summary waits (retried)."""


# How long a summary waits for recordings still being composed before it goes without them.
SUMMARY_WAITS_FOR_RECORDINGS = timedelta(minutes=30)


def _conference_summary(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    conference_id = int(payload["conference_id"])
    links = [(str(label), str(url)) for label, url in payload.get("recording_links") or ()]
    recordings = RecordingService(session, settings).views([conference_id])[conference_id]
    conference = session.get(Conference, conference_id)
    ended = conference.ended_at if conference is not None else None
    if any(r.publishing_state == "processing" for r in recordings) and (
        ended is None or utcnow() - ended < SUMMARY_WAITS_FOR_RECORDINGS
    ):
        raise RecordingsPending(f"conference {conference_id}: recordings are still being composed")
    for number, view in enumerate((r for r in recordings if r.download_link), start=1):
        label = f"{view.recording.kind.capitalize()} recording {number} (link valid 24 hours)"
        links.append((label, str(view.download_link)))
    ConferenceEmails(session, settings).summary_of(conference_id, links or None)


def _media_purge(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    MediaService(session, settings).purge_files(str(payload["storage_key"]))


JOBS: dict[str, Callable[[Session, Settings, dict[str, Any]], None]] = {
    "subscriptions.set_all": _subscriptions_set_all,
    "media.purge": _media_purge,
    SUMMARY_JOB: _conference_summary,
}
