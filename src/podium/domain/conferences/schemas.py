"""Typed commands into the conference services, and the views they give back.

Edges read their dialect's loose input into these (the Iotum edge turns ``"60"`` into ``60`` and
``true`` into ``"video"``); services apply the rules. An option left ``UNSET`` was not given and
changes nothing; ``None`` where a type allows it means "clear it".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from podium.kit.unset import UNSET, Unset
from podium.models.conference import Conference

__all__ = [
    "MEDIA_MODES",
    "MUTE_MODES",
    "UNSET",
    "ConferenceOptions",
    "ConferenceView",
    "DialOut",
    "Invitee",
    "MediaMode",
    "Unset",
]

MediaMode = Literal["none", "audio", "video"]
MEDIA_MODES: tuple[MediaMode, ...] = ("none", "audio", "video")
MUTE_MODES = ("conversation", "q&a", "presentation")


@dataclass(frozen=True)
class ConferenceOptions:
    """The options of a scheduled or reservationless conference (Iotum create and update).

    Attributes:
        subject: The title.
        agenda: The description.
        start: When it starts: a naive value is a wall time in the conference's time zone, an aware
            one an absolute instant (its offset wins).
        time_zone: The zone start times are given and shown in.
        duration: Minutes (1 to a week).
        auto_record: Record automatically, and what.
        auto_stream: Stream automatically, and what (the same as ``auto_record`` when both are on).
        auto_transcribe: Transcribe the recording.
        one_time_access_code: A one-time code instead of the host's dedicated code.
        secure_url: The room URL carries the code encrypted.
        host_initiated_recording: Recording also starts when the host joins.
        security_pin: The PIN visitors give (digits; needs a one-time code); ``None`` clears it.
        mute_mode: One of ``MUTE_MODES`` (checked by the service).
        broadcast_stream_url: An MP4 to stream at the start; ``None`` clears it.
        schedule: An RRULE making the conference a series' master; ``None`` ends the series.
    """

    subject: str | Unset = UNSET
    agenda: str | Unset = UNSET
    start: datetime | Unset = UNSET
    time_zone: ZoneInfo | Unset = UNSET
    duration: int | Unset = UNSET
    auto_record: MediaMode | Unset = UNSET
    auto_stream: MediaMode | Unset = UNSET
    auto_transcribe: bool | Unset = UNSET
    one_time_access_code: bool | Unset = UNSET
    secure_url: bool | Unset = UNSET
    host_initiated_recording: bool | Unset = UNSET
    security_pin: str | None | Unset = UNSET
    mute_mode: str | Unset = UNSET
    broadcast_stream_url: str | None | Unset = UNSET
    schedule: str | None | Unset = UNSET


@dataclass(frozen=True)
class Invitee:
    """Someone invited to a conference: one of the host's contacts, a person by email (added to the
    host's contacts when new), or another host of the same company.

    Exactly one of ``contact_id``, ``host_id`` or ``email`` names the invitee (checked in that order).
    """

    contact_id: int | None = None
    host_id: int | None = None
    email: str | None = None
    name: str = ""
    moderator: bool = False

    @classmethod
    def contact(cls, contact_id: int, *, moderator: bool = False) -> Invitee:
        return cls(contact_id=contact_id, moderator=moderator)

    @classmethod
    def person(cls, email: str, name: str = "", *, moderator: bool = False) -> Invitee:
        return cls(email=email, name=name, moderator=moderator)

    @classmethod
    def colleague(cls, host_id: int, *, moderator: bool = False) -> Invitee:
        return cls(host_id=host_id, moderator=moderator)


@dataclass(frozen=True)
class DialOut:
    """A phone number to dial into an active conference.

    Attributes:
        country_code: Two-letter ISO 3166 code, upper case.
        phone_number: The number as given (a leading ``+`` is allowed).
        name: How the callee shows; the number when empty.
        invitation_text: What the callee hears when they answer (the host's invitation when empty).
    """

    country_code: str
    phone_number: str
    name: str = ""
    invitation_text: str = ""


@dataclass(frozen=True)
class ConferenceView:
    """A conference as the Iotum answers show it."""

    conference: Conference
    participants: list[int]
    moderators: list[int]
    # The moderators as people: host id (when the moderator is a host), name and email.
    moderator_people: list[dict[str, Any]]
    participant_emails: list[dict[str, Any]]
    room_url: str
    streaming_url: str
    active: bool
    start_local: str
    end_local: str
    master: Conference | None
