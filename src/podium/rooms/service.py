"""Rooms: from a validated join link to a seat in the conference's media room, and attendance."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.attendance.service import AttendanceService
from podium.domain.conferences.lifecycle import end_active, end_if_empty
from podium.domain.conferences.room_records import RoomRecords
from podium.domain.joining.service import JoinTicket
from podium.domain.lives.service import LiveService
from podium.domain.recordings.service import RecordingService, auto_record_of, host_initiated_of
from podium.domain.streams.service import StreamService, auto_stream_of, streaming_url
from podium.domain.telephony.service import TelephonyService
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, DomainError, ErrorCode, InvalidInput, LinkRevoked, NotFound
from podium.kit.uow import room_event
from podium.models.conference import Conference
from podium.models.recording import Recording
from podium.models.stream import Stream
from podium.rooms.janus import JanusClient, JanusUnavailable, MediaPool

log = logging.getLogger(__name__)
TICKET_AUDIENCE = "podium:room"
SOCKET_AUDIENCE = "podium:room-socket"
TICKET_LIFETIME = timedelta(hours=12)
SOCKET_KEY_LIFETIME = timedelta(minutes=10)


class MediaUnavailable(Conflict):
    """The media server is down or not configured: the page says so, the API keeps working."""

    code = ErrorCode.MEDIA_UNAVAILABLE


MODERATOR_ROLES = ("host", "moderator")


def is_moderator(role: str) -> bool:
    return role in MODERATOR_ROLES


@dataclass(frozen=True)
class RoomRules:
    """How a conference's room behaves, from its options and its host's settings."""

    mute_mode: str
    waiting_room: bool

    def may_publish(self, role: str) -> bool:
        """In presentation mode only moderators are seen and heard."""
        return is_moderator(role) or self.mute_mode != "presentation"

    def starts_muted(self, role: str) -> bool:
        return not is_moderator(role) and self.mute_mode in ("q&a", "presentation")

    def waits(self, role: str) -> bool:
        return self.waiting_room and not is_moderator(role)


@dataclass(frozen=True)
class RoomEntry:
    janus_url: str
    room: int
    media_token: str | None  # None until a moderator admits the visitor from the waiting room
    display: str
    role: str
    socket_key: str
    conference_id: int
    rules: RoomRules

    def as_json(self) -> dict[str, Any]:
        return {
            "janus_url": self.janus_url,
            "room": self.room,
            "token": self.media_token,
            "display": self.display,
            "role": self.role,
            "socket_key": self.socket_key,
            "conference_id": self.conference_id,
            "may_publish": self.rules.may_publish(self.role),
            "start_muted": self.rules.starts_muted(self.role),
            "waiting": self.media_token is None,
            "moderator": is_moderator(self.role),
        }


@dataclass(frozen=True)
class Seat:
    """Who a socket key admits: the conference, their name and role, their media token."""

    conference_id: int
    participant_id: int | None
    host_id: int | None
    name: str
    role: str
    media_token: str


def screen_sharers(conference: Conference) -> list[int]:
    """The media publishers sharing a screen in the conference's room now."""
    return [int(p) for p in (conference.screen_sharers or "").split(",") if p.isdigit()]


class RoomService:
    def __init__(self, session: Session, settings: Settings, media: MediaPool | None) -> None:
        self.session = session
        self.settings = settings
        self.pool = media
        self.conferences = RoomRecords(session)

    def _unavailable(self) -> MediaUnavailable:
        return MediaUnavailable("Audio and video are not available on this server right now")

    def server_of(self, conference: Conference) -> JanusClient | None:
        """The Janus the conference's room lives on (None before its first join or without media)."""
        return self.pool.by_url(conference.media_server) if self.pool is not None else None

    def ticket_for(self, ticket: JoinTicket) -> str:
        """The lobby's ticket to the room (the link was checked when the lobby was shown)."""
        participant = ticket.participant
        return tokens.sign(
            {
                "aud": TICKET_AUDIENCE,
                "conf": ticket.conference.id,
                "pid": participant.id if participant else None,
                "host": ticket.host_id or (participant.host_id if participant else None),
                "role": ticket.role,
                "name": ticket.display_name,
            },
            self.settings.signing_key(),
            expires_at=utcnow() + TICKET_LIFETIME,
        )

    def _live(self, conference_id: int) -> Conference:
        conference = self.conferences.by_id(conference_id)
        if conference is None or conference.deleted_at is not None:
            raise LinkRevoked("This meeting has been cancelled")
        if conference.ended_at is not None:
            raise LinkRevoked("This meeting has ended")
        return conference

    def rules(self, conference: Conference) -> RoomRules:
        return RoomRules(conference.mute_mode or "conversation", self.conferences.waiting_room(conference))

    def rules_for(self, conference_id: int) -> RoomRules:
        return self.rules(self._live(conference_id))

    def admission(self, socket_key: str) -> tuple[Seat, RoomRules, str | None]:
        """What a socket's hello needs, in one transaction: the seat its key admits (``seat``), the
        live conference's rules, and the Janus (API URL) its visitors' media tokens are on."""
        seat = self.seat(socket_key)
        conference = self._live(seat.conference_id)
        return seat, self.rules(conference), conference.media_server

    def ensure_room(self, conference: Conference) -> JanusClient:
        """The conference's VideoRoom, made on first join, with its own secret, on the least loaded Janus.

        Two visitors arriving together may both make one: the first to record it wins, the other's
        room is destroyed and it joins the winner's.
        """
        if self.pool is None:
            raise self._unavailable()
        try:
            current = self.server_of(conference)
            if current is not None and conference.media_room is not None:
                if current.room_exists(conference.media_room):
                    return current
                self.conferences.forget_media_room(
                    conference.id, conference.media_room
                )  # e.g. Janus restarted
                self.session.refresh(conference)
            server = self.pool.least_loaded()
            room, secret = secrets.randbelow(2**52) + 1, secrets.token_hex(16)
            server.create_room(
                room, secret=secret, publishers=self.settings.room_publishers, description=conference.title
            )
        except JanusUnavailable as exc:
            raise self._unavailable() from exc
        won = self.conferences.claim_media_room(conference.id, room, secret, server.endpoint.api_url)
        self.session.refresh(conference)
        if not won:
            server.destroy_room(room, secret=secret)
            winner = self.server_of(conference)
            if winner is None:
                raise self._unavailable()
            return winner
        return server

    def enter(self, ticket: str, name: str) -> RoomEntry:
        """Turn a lobby ticket into a media seat: the room exists, a token of the visitor's own."""
        claims = tokens.verify(ticket, self.settings.signing_key(), audience=TICKET_AUDIENCE)
        conference = self._live(int(claims["conf"]))
        display = (claims.get("name") or name or "").strip()
        if not display:
            raise InvalidInput("Please give your name", field="name")
        if len(display) > 255:
            raise InvalidInput("name is longer than 255 characters", field="name")
        participant_id = claims.get("pid")
        if participant_id is not None:
            participant = self.conferences.participant(int(participant_id))
            if participant is None or participant.deleted_at is not None:
                raise LinkRevoked("This invitation has been withdrawn")
            AttendanceService(self.session).check_not_removed(
                conference.id, media_token=None, participant_id=int(participant_id)
            )
        server = self.ensure_room(conference)
        assert conference.media_room is not None
        room = conference.media_room
        rules = self.rules(conference)
        role = str(claims.get("role", "guest"))
        media_token = secrets.token_urlsafe(24)
        if not rules.waits(role):
            self.grant_media(server, media_token)
        seat = Seat(conference.id, participant_id, claims.get("host"), display, role, media_token)
        socket_key = self.socket_key(seat, SOCKET_KEY_LIFETIME)
        return RoomEntry(
            server.endpoint.api_url,
            room,
            None if rules.waits(role) else media_token,
            display,
            role,
            socket_key,
            conference.id,
            rules,
        )

    def grant_media(self, server: JanusClient | None, media_token: str) -> None:
        """Let a visitor's token reach the room's media server (on entry, or when admitted)."""
        if server is None:
            raise self._unavailable()
        try:
            server.add_token(media_token)
        except JanusUnavailable as exc:
            raise self._unavailable() from exc

    def admit(self, seat: Seat) -> int:
        """A moderator let a waiting visitor in: media token, then the join."""
        conference = self._live(seat.conference_id)
        self.grant_media(self.server_of(conference), seat.media_token)
        return self.arrive(seat)

    def room_of(self, conference_id: int) -> tuple[JanusClient, int, str] | None:
        conference = self.conferences.by_id(conference_id)
        server = self.server_of(conference) if conference is not None else None
        if conference is None or conference.media_room is None or server is None:
            return None
        return server, conference.media_room, conference.media_secret or ""

    def end(self, conference_id: int) -> None:
        """A moderator ends the meeting for everyone."""
        conference = self._live(conference_id)
        end_active(self.session, conference, actor_label="system")

    def socket_key(self, seat: Seat, lifetime: timedelta) -> str:
        """A key that admits ``seat`` to the signaling socket for ``lifetime``."""
        return tokens.sign(
            {
                "aud": SOCKET_AUDIENCE,
                "conf": seat.conference_id,
                "pid": seat.participant_id,
                "host": seat.host_id,
                "role": seat.role,
                "name": seat.name,
                "media": seat.media_token,
            },
            self.settings.signing_key(),
            expires_at=utcnow() + lifetime,
        )

    def resume_key(self, seat: Seat) -> str:
        """The key a connected page reconnects its seat with (its server process may die): as long
        as the lobby's ticket lasts."""
        return self.socket_key(seat, TICKET_LIFETIME)

    def seat(self, socket_key: str) -> Seat:
        """The seat a socket key admits, unless a moderator removed it (or its personal link's
        participant) from the room."""
        claims = tokens.verify(socket_key, self.settings.signing_key(), audience=SOCKET_AUDIENCE)
        seat = Seat(
            int(claims["conf"]),
            claims.get("pid"),
            claims.get("host"),
            str(claims["name"]),
            str(claims["role"]),
            str(claims["media"]),
        )
        AttendanceService(self.session).check_not_removed(
            seat.conference_id, media_token=seat.media_token, participant_id=seat.participant_id
        )
        return seat

    def remove(self, seat: Seat, *, removed_by: str) -> None:
        """A moderator removed ``seat`` from the room: it stays out (its socket is closed by the
        caller, and its departure, recorded as that socket ends, revokes its media token)."""
        conference = self._live(seat.conference_id)
        AttendanceService(self.session).record_removal(
            conference,
            media_token=seat.media_token,
            participant_id=seat.participant_id,
            name=seat.name,
            removed_by=removed_by,
        )

    def arrive(self, seat: Seat) -> int:
        """Record the join (the first one starts the conference); returns the attendance id.

        A conference that records by itself starts recording with its first visitor (unless it has
        recorded already: a moderator who stopped it decided), and with ``host_initiated_recording``
        also whenever its host (or a moderator) arrives and nothing is recording.
        """
        conference = self._live(seat.conference_id)
        participant = (
            self.conferences.participant(seat.participant_id) if seat.participant_id is not None else None
        )
        attendance = AttendanceService(self.session).record_join(
            conference, participant=participant, host_id=seat.host_id, name=seat.name, role=seat.role
        )
        self.start_on_arrival(conference, seat.role)
        return attendance.id

    def start_on_arrival(self, conference: Conference, role: str) -> None:
        """What the meeting starts by itself when someone (a visitor, or a phone) arrives in ``role``:
        its automatic recording and stream (see ``arrive``)."""
        if auto_record_of(self.session, conference) != "none":
            recordings = RecordingService(self.session, self.settings)
            first = not recordings.of_conference(conference.id)
            if first or (is_moderator(role) and host_initiated_of(self.session, conference)):
                self._record_automatically(conference)
        if auto_stream_of(self.session, conference) != "none":
            streamed = StreamService(self.session, self.settings).live_media_id(conference.id) is not None
            if not streamed or (is_moderator(role) and host_initiated_of(self.session, conference)):
                self._stream_automatically(conference)

    # --- recording ------------------------------------------------------------------------------

    def _record_automatically(self, conference: Conference) -> None:
        """Start the automatic recording unless one runs; a refusal (a plan without recording, the
        media server down) never keeps anyone out of the meeting: it is logged."""
        if (
            self.pool is None
            or RecordingService(self.session, self.settings).active(conference.id) is not None
        ):
            return
        try:
            with self.session.begin_nested():
                self.start_recording(conference.id, started_by="auto")
        except DomainError as error:
            log.warning("conference %s did not start recording: %s", conference.id, error.message)

    def start_recording(self, conference_id: int, *, started_by: str) -> Recording:
        """Record the conference's room from now: a new segment, and the media server records it.

        Raises:
            Conflict: already recording, or the meeting is not live.
            Forbidden: the organiser's plan has no recording.
            MediaUnavailable: the media server cannot record.
        """
        conference = self._live(conference_id)
        server = self.ensure_room(conference)
        assert conference.media_room is not None
        recordings = RecordingService(self.session, self.settings)
        recording = recordings.begin(conference, started_by=started_by, media_server=server.endpoint.api_url)
        try:
            server.record(
                conference.media_room,
                secret=conference.media_secret or "",
                directory=recordings.raw_dir(recording),
            )
        except JanusUnavailable as exc:
            raise self._unavailable() from exc
        for sharer in screen_sharers(conference):  # a share that began before the recording
            recordings.note_screen_share(conference.id, sharer, True)
        return recording

    def stop_recording(self, conference_id: int) -> Recording | None:
        """Stop recording: the segment goes to post-processing (None when nothing was recording)."""
        conference = self._live(conference_id)
        recording = RecordingService(self.session, self.settings).finish(conference)
        room = self.room_of(conference_id)
        if recording is not None and room is not None:
            server, number, secret = room
            try:
                server.record(number, secret=secret, directory=None)
            except JanusUnavailable as exc:
                # The room is gone with its recorders (the files hold what was recorded).
                log.info("conference %s: recording not stopped at the media server: %s", conference_id, exc)
        return recording

    # --- streaming ------------------------------------------------------------------------------

    def start_streaming(self, conference_id: int, *, started_by: str) -> Stream:
        """Stream the meeting from now into the conference's live (made on its first stream); a
        server process's keeper starts the compositor once this commits (rooms/streams.py).

        Raises:
            Conflict: already streaming, or the meeting is not live.
            Forbidden: the host has live streaming off.
            MediaUnavailable: no media server (nothing to compose).
        """
        conference = self._live(conference_id)
        if self.pool is None:
            raise self._unavailable()
        streams = StreamService(self.session, self.settings)
        streams.may_stream(conference)
        # One live per conference, kept across its streams: its streaming page stays the same.
        live = LiveService(self.session, self.settings).for_internal_publisher(
            conference.company_id, title=conference.title, media_id=streams.live_media_id(conference.id)
        )
        return streams.start(conference, started_by=started_by, live_media_id=live.media_id)

    def stop_streaming(self, conference_id: int, *, actor: str) -> Stream | None:
        conference = self._live(conference_id)
        return StreamService(self.session, self.settings).stop(conference, actor=actor)

    def streaming(self, conference_id: int) -> dict[str, Any] | None:
        """The running stream as the room shows it (its kind and streaming page), or None."""
        stream = StreamService(self.session, self.settings).running(conference_id)
        if stream is None:
            return None
        return {
            "kind": stream.kind,
            "state": stream.state,
            "url": streaming_url(self.settings, conference_id),
        }

    def open_for_broadcast(self, conference: Conference, *, started_by: str) -> None:
        """A ``broadcast_stream_url`` opens the meeting at its start, nobody in it yet: it streams,
        and it records when it records by itself (``auto_record``), as with a first visitor."""
        if StreamService(self.session, self.settings).running(conference.id) is None:
            self.start_streaming(conference.id, started_by=started_by)
        if auto_record_of(self.session, conference) != "none" and not RecordingService(
            self.session, self.settings
        ).of_conference(conference.id):
            self._record_automatically(conference)

    def _stream_automatically(self, conference: Conference) -> None:
        """Start the automatic stream unless one runs; a refusal never keeps anyone out: it is logged."""
        if self.pool is None or StreamService(self.session, self.settings).running(conference.id) is not None:
            return
        try:
            with self.session.begin_nested():
                self.start_streaming(conference.id, started_by="auto")
        except DomainError as error:
            log.warning("conference %s did not start streaming: %s", conference.id, error.message)

    def is_recording(self, conference_id: int) -> bool:
        return RecordingService(self.session, self.settings).active(conference_id) is not None

    def note_screen_share(self, conference_id: int, publisher_id: int, on: bool) -> None:
        """A share takes the stage of the recording (its notes) and of the stream (the process
        running the conference's compositor hears the room event: rooms/streams.py); the conference
        remembers it for a stream or recording that starts while it lasts."""
        conference = self.session.get(Conference, conference_id)
        if conference is not None:
            sharers = set(screen_sharers(conference)) - {publisher_id} | ({publisher_id} if on else set())
            conference.screen_sharers = ",".join(str(p) for p in sorted(sharers))[:255]
        RecordingService(self.session, self.settings).note_screen_share(conference_id, publisher_id, on)
        room_event(self.session, conference_id, {"type": "stage", "publisher": publisher_id, "on": on})

    def phones(self, conference_id: int) -> list[dict[str, Any]]:
        """The meeting's phone calls ringing or on the line, as the room page shows them."""
        views = TelephonyService(self.session, self.settings).views(
            [conference_id], open_only=True, direction=None
        )
        return [view.in_room() for view in views.get(conference_id, [])]

    def moderate_phone(self, conference_id: int, leg_id: int, action: str, *, actor: str) -> None:
        """A moderator mutes, unmutes or hangs up a call (the caller checked the role)."""
        TelephonyService(self.session, self.settings).moderate(conference_id, leg_id, action, actor=actor)

    def note_publisher(self, attendance_id: int, publisher_id: int | None) -> None:
        RecordingService(self.session, self.settings).note_publisher(attendance_id, publisher_id)

    def recover_recordings(self) -> list[int]:
        """At start-up: segments a crash cut off are published with what they hold."""

        def live(conference: Conference) -> bool:
            server = self.server_of(conference)
            try:
                return bool(server and conference.media_room and server.room_exists(conference.media_room))
            except JanusUnavailable:
                return False

        return RecordingService(self.session, self.settings).recover_interrupted(live)

    def depart(self, attendance_id: int, media_token: str, *, revoke_media: bool = True) -> None:
        """Record the leave; the last one out of a host's ad-hoc (or overrun) conference ends it.

        ``revoke_media=False`` keeps the visitor's media token: it is in use again (a visitor whose
        server process died, back through another one with the same seat).
        """
        attendance = AttendanceService(self.session).record_leave(attendance_id)
        conference = self.conferences.by_id(attendance.conference_id)
        server = self.server_of(conference) if conference is not None else None
        if server is not None and revoke_media:
            server.remove_token(media_token)
        if conference is not None:
            end_if_empty(self.session, conference)

    def close(self, conference_id: int) -> None:
        """The conference ended: its media room goes."""
        conference = self.conferences.by_id(conference_id)
        if conference is None or conference.media_room is None:
            raise NotFound("No room")
        server = self.server_of(conference)
        if server is not None:
            server.destroy_room(conference.media_room, secret=conference.media_secret or "")
