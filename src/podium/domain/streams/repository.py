"""Stream rows: a conference's runs, the running one, and the leases of the processes running them;
and the leases of conferences' broadcasts (their ``broadcast_stream_url`` played at the start)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from podium.models.conference import Conference
from podium.models.media import Media
from podium.models.recording import Recording, RecordingState
from podium.models.stream import Stream, StreamPreview


class StreamRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, stream: Stream) -> Stream:
        self.session.add(stream)
        self.session.flush()
        return stream

    def by_id(self, stream_id: int) -> Stream | None:
        return self.session.get(Stream, stream_id)

    def running(self, conference_id: int) -> Stream | None:
        """The conference's running stream (what ``is_streaming`` says), not a private preview run."""
        stmt = select(Stream).where(
            Stream.conference_id == conference_id, Stream.ended_at.is_(None), Stream.public.is_(True)
        )
        return self.session.scalars(stmt).first()

    def running_any(self, conference_id: int) -> Stream | None:
        """The conference's running row, public or a private preview run (at most one runs)."""
        stmt = select(Stream).where(Stream.conference_id == conference_id, Stream.ended_at.is_(None))
        return self.session.scalars(stmt).first()

    def latest(self, conference_id: int) -> Stream | None:
        """The conference's newest public run (running or not): its live is the conference's live."""
        stmt = (
            select(Stream)
            .where(Stream.conference_id == conference_id, Stream.public.is_(True))
            .order_by(Stream.started_at.desc(), Stream.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def media_code(self, media_id: int | None) -> str | None:
        if media_id is None:
            return None
        return self.session.scalar(select(Media.code).where(Media.id == media_id))

    # --- private preview runs (a host's stream_preview while a conference records) --------------

    def recording_unstreamed(self) -> Sequence[Conference]:
        """Live conferences that record and run no stream row, public or private."""
        recording = select(Recording.id).where(
            Recording.conference_id == Conference.id, Recording.state == RecordingState.RECORDING.value
        )
        running = select(Stream.id).where(Stream.conference_id == Conference.id, Stream.ended_at.is_(None))
        stmt = select(Conference).where(
            Conference.ended_at.is_(None),
            Conference.started_at.is_not(None),
            recording.exists(),
            ~running.exists(),
        )
        return self.session.scalars(stmt).all()

    def latest_private(self, conference_id: int) -> Stream | None:
        stmt = (
            select(Stream)
            .where(Stream.conference_id == conference_id, Stream.public.is_(False))
            .order_by(Stream.started_at.desc(), Stream.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def preview_runs_not_recording(self) -> Sequence[Stream]:
        """Running private runs whose conference no longer records (or ended)."""
        recording = select(Recording.id).where(
            Recording.conference_id == Stream.conference_id,
            Recording.state == RecordingState.RECORDING.value,
        )
        stmt = select(Stream).where(Stream.ended_at.is_(None), Stream.public.is_(False), ~recording.exists())
        return self.session.scalars(stmt).all()

    # --- the keepers' leases (rooms/streams.py) -------------------------------------------------

    def unowned(self, now: datetime) -> Sequence[Stream]:
        """Running streams no process holds (new ones, and those whose process stopped renewing)."""
        stmt = select(Stream).where(
            Stream.ended_at.is_(None), or_(Stream.lease_until.is_(None), Stream.lease_until < now)
        )
        return self.session.scalars(stmt).all()

    def claim(self, stream_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take a stream's lease if nobody holds it (one process wins a race)."""
        result = self.session.execute(
            update(Stream)
            .where(
                Stream.id == stream_id,
                Stream.ended_at.is_(None),
                or_(Stream.lease_until.is_(None), Stream.lease_until < now),
            )
            .values(owner=owner, lease_until=until, attempts=Stream.attempts + 1)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, owner: str, stream_ids: Sequence[int], until: datetime) -> set[int]:
        """Extend this process's leases; returns the ids it still holds and that still run."""
        if not stream_ids:
            return set()
        self.session.execute(
            update(Stream)
            .where(Stream.id.in_(stream_ids), Stream.owner == owner, Stream.ended_at.is_(None))
            .values(lease_until=until)
        )
        stmt = select(Stream.id).where(
            Stream.id.in_(stream_ids), Stream.owner == owner, Stream.ended_at.is_(None)
        )
        return set(self.session.scalars(stmt).all())

    def release(self, owner: str, stream_ids: Sequence[int]) -> None:
        """A stopping process lets its streams go at once (another one, or its restart, takes them)."""
        if stream_ids:
            self.session.execute(
                update(Stream)
                .where(Stream.id.in_(stream_ids), Stream.owner == owner)
                .values(owner=None, lease_until=None)
            )

    # --- previews (a host's stream_preview) -----------------------------------------------------

    def add_preview(self, preview: StreamPreview) -> StreamPreview:
        self.session.add(preview)
        self.session.flush()
        return preview

    def previews_of(self, conference_id: int, now: datetime) -> Sequence[StreamPreview]:
        """The conference's previews that have not expired, oldest first."""
        stmt = (
            select(StreamPreview)
            .where(StreamPreview.conference_id == conference_id, StreamPreview.expires_at > now)
            .order_by(StreamPreview.id)
        )
        return self.session.scalars(stmt).all()

    def expired_previews(self, now: datetime, limit: int) -> Sequence[StreamPreview]:
        stmt = select(StreamPreview).where(StreamPreview.expires_at <= now).limit(limit)
        return self.session.scalars(stmt).all()

    def delete_previews(self, ids: list[int]) -> None:
        self.session.execute(delete(StreamPreview).where(StreamPreview.id.in_(ids)))


class BroadcastRepository:
    """The conferences' ``broadcast_stream_url`` playouts (domain/streams/broadcasts.py): which are
    due, and the lease of the server process preparing or playing each. Every change of state is a
    conditional update on the holder, so a process that lost its claim changes nothing."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def due(self, now: datetime, horizon: datetime) -> Sequence[int]:
        """Conferences whose broadcast is waiting (``NEW``), held by nobody, starting by ``horizon``."""
        stmt = select(Conference.id).where(
            Conference.broadcast_state == "NEW",
            Conference.broadcast_stream_url.is_not(None),
            Conference.starts_at <= horizon,
            Conference.deleted_at.is_(None),
            Conference.ended_at.is_(None),
            or_(Conference.broadcast_lease_until.is_(None), Conference.broadcast_lease_until < now),
        )
        return self.session.scalars(stmt.order_by(Conference.starts_at)).all()

    def claim(self, conference_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take a waiting broadcast's lease if nobody holds it (one process wins a race)."""
        result = self.session.execute(
            update(Conference)
            .where(
                Conference.id == conference_id,
                Conference.broadcast_state == "NEW",
                Conference.deleted_at.is_(None),
                or_(Conference.broadcast_lease_until.is_(None), Conference.broadcast_lease_until < now),
            )
            .values(broadcast_owner=owner, broadcast_lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, owner: str, conference_ids: Sequence[int], until: datetime) -> Sequence[Conference]:
        """Extend ``owner``'s leases on the broadcasts it holds that still wait or play."""
        if not conference_ids:
            return []
        held = (
            Conference.id.in_(conference_ids),
            Conference.broadcast_owner == owner,
            Conference.broadcast_state.in_(("NEW", "STARTED")),
        )
        self.session.execute(update(Conference).where(*held).values(broadcast_lease_until=until))
        return self.session.scalars(select(Conference).where(*held)).all()

    def move(
        self, conference_id: int, owner: str, from_states: Sequence[str], to_state: str, reason: str = ""
    ) -> bool:
        """``from_states`` → ``to_state`` while ``owner`` holds it; a final state lets go of the lease."""
        values: dict[str, object] = {"broadcast_state": to_state, "broadcast_reason": reason}
        if to_state not in ("NEW", "STARTED"):
            values |= {"broadcast_owner": None, "broadcast_lease_until": None}
        result = self.session.execute(
            update(Conference)
            .where(
                Conference.id == conference_id,
                Conference.broadcast_owner == owner,
                Conference.broadcast_state.in_(from_states),
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def lapsed_playing(self, now: datetime) -> Sequence[int]:
        """Broadcasts that were playing when their process stopped renewing (it died)."""
        stmt = select(Conference.id).where(
            Conference.broadcast_state == "STARTED",
            or_(Conference.broadcast_lease_until.is_(None), Conference.broadcast_lease_until < now),
        )
        return self.session.scalars(stmt).all()

    def take_lapsed(self, conference_id: int, now: datetime, to_state: str, reason: str) -> bool:
        result = self.session.execute(
            update(Conference)
            .where(
                Conference.id == conference_id,
                Conference.broadcast_state == "STARTED",
                or_(Conference.broadcast_lease_until.is_(None), Conference.broadcast_lease_until < now),
            )
            .values(
                broadcast_state=to_state,
                broadcast_reason=reason,
                broadcast_owner=None,
                broadcast_lease_until=None,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_waiting(self, owner: str, conference_ids: Sequence[int]) -> None:
        """A stopping process lets the broadcasts it was preparing go (another one takes them)."""
        if conference_ids:
            self.session.execute(
                update(Conference)
                .where(
                    Conference.id.in_(conference_ids),
                    Conference.broadcast_owner == owner,
                    Conference.broadcast_state == "NEW",
                )
                .values(broadcast_owner=None, broadcast_lease_until=None)
            )
