"""What ``/metrics`` reads from the database when it is scraped: the queues of the workers.

A few counting queries, each served by the index of its queue (``ix_outbox_due``, ``ix_media_queue``,
``ix_recordings_due``, ``ix_phone_legs_open``), so a scrape stays cheap however large the tables grow.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from podium.domain.media.repository import MediaRepository
from podium.domain.outbox.repository import OutboxRepository
from podium.domain.recordings.repository import RecordingRepository
from podium.domain.telephony.repository import PhoneLegRepository
from podium.kit.clock import utcnow
from podium.kit.metrics import (
    MEDIA_FAILED,
    MEDIA_QUEUE,
    OUTBOX_DUE,
    OUTBOX_MESSAGES,
    PHONE_CALLS,
    RECORDING_JOBS,
    Reading,
)

OUTBOX_KINDS = ("email", "webhook", "job")
OUTBOX_STATUSES = ("pending", "failed")


def queue_readings(session: Session) -> list[Reading]:
    """The depth of every worker queue, as gauge readings (every known label combination, zeros too)."""
    now = utcnow()
    outbox = OutboxRepository(session)
    backlog = outbox.backlog()
    kinds = sorted({*OUTBOX_KINDS, *(kind for kind, _ in backlog)})
    readings = [
        Reading(OUTBOX_MESSAGES, backlog.get((kind, status), 0), {"kind": kind, "status": status})
        for kind in kinds
        for status in OUTBOX_STATUSES
    ]
    readings.append(Reading(OUTBOX_DUE, outbox.due_count(now)))
    waiting, leased, failed = MediaRepository(session).queue_counts(now)
    readings += [
        Reading(MEDIA_QUEUE, waiting, {"state": "waiting"}),
        Reading(MEDIA_QUEUE, leased, {"state": "leased"}),
        Reading(MEDIA_FAILED, failed),
    ]
    compose, transcribe = RecordingRepository(session).jobs_waiting()
    readings += [
        Reading(RECORDING_JOBS, compose, {"step": "compose"}),
        Reading(RECORDING_JOBS, transcribe, {"step": "transcribe"}),
    ]
    calls = PhoneLegRepository(session).open_counts()
    readings += [
        Reading(PHONE_CALLS, calls.get(direction, 0), {"direction": direction}) for direction in ("out", "in")
    ]
    return readings


def read_queues(sessions: sessionmaker[Session]) -> list[Reading]:
    """``queue_readings`` in a read-only session of its own (nothing is written)."""
    with sessions() as session:
        return queue_readings(session)
