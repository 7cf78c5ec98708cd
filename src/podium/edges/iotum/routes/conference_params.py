"""Reading an Iotum conference request into the typed commands of the conference services: loose
types as real clients send them ("60" for 60, true for "video", "EST" for a zone), with the
reference's messages word for word."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from podium.domain.conferences.options import MAX_DURATION
from podium.domain.conferences.schemas import (
    MUTE_MODES,
    UNSET,
    ConferenceOptions,
    DialOut,
    Invitee,
    MediaMode,
    Unset,
)
from podium.edges.common import Param
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes.hosts import MEDIA_MODE
from podium.edges.iotum.routes_base import BOOLEAN, INTEGER, INTEGERS, TEXT
from podium.kit import coerce
from podium.kit.errors import InvalidInput

NOT_CONTACTS = "Participants must be an array of contacts'"  # the stray quote is the reference's
START_EXAMPLE = "start must be a date and time such as 2020-09-19 13:00:00"
INVITEE_KEYS = ("participants", "participant_emails", "participant_hosts", "moderators")


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _start(value: Any) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` (a wall time in the conference's zone) or ISO 8601 (an offset wins)."""
    text = coerce.to_str("start", value, maximum=40)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(START_EXAMPLE, field="start") from None


def _media_mode(field: str, value: Any) -> MediaMode:
    """none, audio or video; true records video, false (or empty) nothing."""
    return cast(MediaMode, coerce.media_mode(field, value))


def _optional_text(values: dict[str, Any], key: str, maximum: int) -> str | None | Unset:
    """Absent: not given; null: clear it; else text."""
    if key not in values:
        return UNSET
    value = values[key]
    return None if value is None else coerce.to_str(key, value, maximum=maximum)


def _flag(values: dict[str, Any], key: str) -> bool | Unset:
    """Absent or null: not given."""
    value = values.get(key)
    return UNSET if value is None else coerce.to_bool(key, value)


Kind = Literal["create", "reservationless", "update"]


def conference_options(body: Body, kind: Kind) -> ConferenceOptions:
    """The options of ``conference/create``, ``conference/create/reservationless`` or ``conference/update``.

    An empty ``start`` is not given (``create`` then says it is required), nor an empty ``duration``
    on ``create``; an empty ``one_time_access_code`` means false when creating.
    """
    values = body.values
    creating = kind != "update"
    subject: str | Unset = UNSET
    if "subject" in values:
        subject = coerce.to_str("subject", values["subject"] or "", maximum=255)
    agenda: str | Unset = UNSET
    if "agenda" in values:
        agenda = "" if values["agenda"] is None else coerce.to_str("agenda", values["agenda"], maximum=4000)
    time_zone: ZoneInfo | Unset = UNSET
    if values.get("time_zone") is not None:
        time_zone = ZoneInfo(coerce.time_zone("time_zone", values["time_zone"]))
    duration: int | Unset = UNSET
    if "duration" in values and not (kind == "create" and _empty(values["duration"])):
        duration = coerce.to_int("duration", values["duration"])
    auto_record: MediaMode | Unset = UNSET
    if "auto_record" in values:
        auto_record = _media_mode("auto_record", values["auto_record"])
    auto_stream: MediaMode | Unset = UNSET
    if "auto_stream" in values:
        auto_stream = _media_mode("auto_stream", values["auto_stream"])
    auto_transcribe = _flag(values, "auto_transcribe")
    host_initiated_recording = _flag(values, "host_initiated_recording")
    secure_url = _flag(values, "secure_url")
    mute_mode: str | Unset = UNSET
    if values.get("mute_mode") is not None:
        mute_mode = coerce.to_str("mute_mode", values["mute_mode"])
    security_pin = _optional_text(values, "security_pin", 16)
    broadcast_stream_url = _optional_text(values, "broadcast_stream_url", 2048)
    start: datetime | Unset = UNSET
    if not _empty(values.get("start")):
        start = _start(values["start"])
    one_time: bool | Unset = UNSET
    if creating:
        one_time = coerce.to_bool("one_time_access_code", values.get("one_time_access_code") or False)
    elif values.get("one_time_access_code") is not None:
        one_time = coerce.to_bool("one_time_access_code", values["one_time_access_code"])
    schedule: str | None | Unset = UNSET
    if "schedule" in values:
        raw = values["schedule"]
        schedule = None if _empty(raw) else coerce.to_str("schedule", raw)
    return ConferenceOptions(
        subject=subject,
        agenda=agenda,
        start=start,
        time_zone=time_zone,
        duration=duration,
        auto_record=auto_record,
        auto_stream=auto_stream,
        auto_transcribe=auto_transcribe,
        one_time_access_code=one_time,
        secure_url=secure_url,
        host_initiated_recording=host_initiated_recording,
        security_pin=security_pin,
        mute_mode=mute_mode,
        broadcast_stream_url=broadcast_stream_url,
        schedule=schedule,
    )


def _moderator(entry: dict[str, Any]) -> bool:
    return coerce.to_bool("moderator", entry.get("moderator", False))


def _person(entry: dict[str, Any]) -> Invitee:
    """``{email, name, moderator}`` (loose clients add a phone, which is ignored)."""
    return Invitee.person(
        coerce.to_str("email", entry.get("email") or "", maximum=254),
        coerce.to_str("name", entry.get("name") or ""),
        moderator=_moderator(entry),
    )


def invitees(body: Body) -> list[Invitee] | None:
    """Everyone the request invites, in the order named; ``None`` when it names no invitee list
    (the invitees stay as they are). A list given as null counts as empty."""
    values = body.values
    if not any(key in values for key in INVITEE_KEYS):
        return None
    found: list[Invitee] = []
    participants = values.get("participants")
    if participants is not None:
        if not isinstance(participants, list):
            raise InvalidInput(NOT_CONTACTS, field="participants")
        for item in participants:
            if isinstance(item, dict):
                found.append(_person(item))
                continue
            try:
                found.append(Invitee.contact(coerce.to_int("participants", item)))
            except InvalidInput:
                raise InvalidInput(NOT_CONTACTS, field="participants") from None
    emails = values.get("participant_emails")
    if emails is not None:
        if not isinstance(emails, list):
            raise InvalidInput("participant_emails must be an array", field="participant_emails")
        found.extend(_person(item if isinstance(item, dict) else {"email": item}) for item in emails)
    hosts = values.get("participant_hosts")
    if hosts is not None:
        if not isinstance(hosts, list):
            raise InvalidInput("participant_hosts must be an array", field="participant_hosts")
        for item in hosts:
            entry = item if isinstance(item, dict) else {"host_id": item}
            host_id = coerce.to_int("participant_hosts", entry.get("host_id"))
            found.append(Invitee.colleague(host_id, moderator=_moderator(entry)))
    moderators = values.get("moderators")
    if moderators is not None:
        if not isinstance(moderators, list):
            raise InvalidInput("moderators must be an array of contacts", field="moderators")
        found.extend(
            Invitee.contact(coerce.to_int("moderators", item), moderator=True) for item in moderators
        )
    return found


def dial_out(body: Body) -> DialOut:
    """``conference/dial_number``: country_code, phone_number, name, invitation_text."""
    values = body.values
    return DialOut(
        country_code=coerce.country("country_code", values.get("country_code") or ""),
        phone_number=coerce.to_str("phone_number", values.get("phone_number") or "", maximum=20),
        name=coerce.to_str("name", values.get("name") or "", maximum=255),
        invitation_text=coerce.to_str("invitation_text", values.get("invitation_text") or "", maximum=1000),
    )


# --- the fields these readers read, for the OpenAPI --------------------------------------------

START = Param(
    "start",
    "Start time: YYYY-MM-DD HH:MM:SS in time_zone (or ISO 8601; an offset wins)",
    schema=TEXT,
)
DURATION = Param("duration", f"Duration in minutes (1 to {MAX_DURATION})", schema=INTEGER)
SCHEDULE = Param(
    "schedule",
    "Recurrence as an iCalendar RRULE such as FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE (null or empty ends a series)",
    schema=TEXT,
)
# What every kind of ``conference_options`` reads besides start, duration and schedule.
CONFERENCE_OPTIONS = (
    Param("subject", "Subject", schema=TEXT),
    Param("agenda", "Agenda", schema=TEXT),
    Param("time_zone", "IANA time zone name of start, such as America/Toronto", schema=TEXT),
    Param("auto_record", "Record automatically: none, audio or video", schema=MEDIA_MODE),
    Param(
        "auto_stream",
        "Stream automatically: none, audio or video (the same as auto_record when both are on)",
        schema=MEDIA_MODE,
    ),
    Param("auto_transcribe", "Transcribe the recording automatically", schema=BOOLEAN),
    Param(
        "one_time_access_code",
        "true: a one-time access code instead of the host's dedicated one",
        schema=BOOLEAN,
    ),
    Param("secure_url", "true: the room_url carries an encrypted access code", schema=BOOLEAN),
    Param(
        "host_initiated_recording",
        "Also start automatic recording or streaming when the host joins",
        schema=BOOLEAN,
    ),
    Param(
        "security_pin",
        "PIN required to join, 3 to 16 digits; needs one_time_access_code (null clears it)",
        schema=TEXT,
    ),
    Param(
        "mute_mode",
        "Initial mute settings: conversation (all unmuted), q&a (muted, may unmute) or presentation "
        "(muted, may not unmute)",
        schema={"type": "string", "enum": list(MUTE_MODES)},
    ),
    Param(
        "broadcast_stream_url",
        "http(s) URL of an MP4 file streamed from the start time (null clears it)",
        schema=TEXT,
    ),
)

_MODERATOR: dict[str, Any] = {**BOOLEAN, "description": "Invited as a moderator (default false)"}
_PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {"email": TEXT, "name": TEXT, "moderator": _MODERATOR},
    "required": ["email"],
}
# What ``invitees`` reads, in the order of ``INVITEE_KEYS``; any of them given replaces the invitees.
INVITEE_FIELDS = (
    Param(
        "participants",
        "Contact ids to invite (or {email, name, moderator} objects)",
        schema={"type": "array", "items": {"oneOf": [INTEGER, _PERSON]}},
    ),
    Param(
        "participant_emails",
        "People to invite by email: addresses or {email, name, moderator} objects (added to the host's "
        "contacts when new)",
        schema={"type": "array", "items": {"oneOf": [TEXT, _PERSON]}},
    ),
    Param(
        "participant_hosts",
        "Hosts of the same company to invite: host ids or {host_id, moderator} objects",
        schema={
            "type": "array",
            "items": {
                "oneOf": [
                    INTEGER,
                    {
                        "type": "object",
                        "properties": {"host_id": INTEGER, "moderator": _MODERATOR},
                        "required": ["host_id"],
                    },
                ]
            },
        },
    ),
    Param("moderators", "Contact ids to invite as moderators", schema=INTEGERS),
)

# What ``dial_out`` reads.
DIAL_OUT_FIELDS = (
    Param("country_code", "Two-letter ISO 3166 country code of the number", required=True, schema=TEXT),
    Param(
        "phone_number",
        "E.164 number to dial (with the country code), with or without a leading +",
        required=True,
        schema=TEXT,
    ),
    Param("name", "Name shown for the callee (default: the number)", schema=TEXT),
    Param(
        "invitation_text",
        "Spoken to the callee when they answer (default: the host's invitation to the meeting's subject)",
        schema=TEXT,
    ),
)
