"""The rules on a conference's options: value checks, the recording/streaming rule, and the features
the organiser's plan must grant, with the reference's messages word for word."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session, object_session

from podium.domain.conferences.schemas import MUTE_MODES, ConferenceOptions, Unset
from podium.domain.subscriptions.service import SubscriptionService
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, InvalidInput
from podium.kit.uow import wake_streams
from podium.kit.validation import check_length
from podium.models.conference import Conference
from podium.models.subscription import Feature
from podium.models.tenancy import Host

MAX_DURATION = 7 * 24 * 60  # minutes
SUBJECT_MAX = 255
AGENDA_MAX = 4000
PIN_RE = re.compile(r"\d{3,16}")
STREAM_URL_RE = re.compile(r"^https?://[^\s/]+/\S*$")


def check_media_modes(auto_record: str, auto_stream: str) -> None:
    """Recording and streaming together must use the same mode (a host's defaults and a conference's
    options alike).

    Raises:
        InvalidInput: both are on with different modes.
    """
    if "none" not in (auto_record, auto_stream) and auto_record != auto_stream:
        raise InvalidInput(
            "auto_record and auto_stream must be the same when recording and streaming together"
        )


def apply_options(conference: Conference, options: ConferenceOptions) -> None:
    """Check and copy the given options onto ``conference`` (``start``, ``one_time_access_code`` and
    ``schedule`` are the caller's: they depend on the entry point).

    Raises:
        InvalidInput: a value breaks a rule (length, duration bounds, mute mode, PIN digits, stream URL,
            recording and streaming modes).
        Conflict: ``broadcast_stream_url`` changed after the conference's start.
    """
    if not isinstance(options.subject, Unset):
        conference.title = check_length("subject", options.subject, SUBJECT_MAX)
    if not isinstance(options.agenda, Unset):
        conference.description = check_length("agenda", options.agenda, AGENDA_MAX)
    if not isinstance(options.time_zone, Unset):
        conference.time_zone = options.time_zone.key
    if not isinstance(options.duration, Unset):
        if not 1 <= options.duration <= MAX_DURATION:
            raise InvalidInput(f"duration must be between 1 and {MAX_DURATION} minutes", field="duration")
        conference.duration_minutes = options.duration
    if not isinstance(options.auto_record, Unset):
        conference.auto_record = options.auto_record
    if not isinstance(options.auto_stream, Unset):
        conference.auto_stream = options.auto_stream
    check_media_modes(conference.auto_record, conference.auto_stream)
    if not isinstance(options.auto_transcribe, Unset):
        conference.auto_transcribe = options.auto_transcribe
    if not isinstance(options.host_initiated_recording, Unset):
        conference.host_initiated_recording = options.host_initiated_recording
    if not isinstance(options.secure_url, Unset):
        conference.secure_url = options.secure_url
    if not isinstance(options.mute_mode, Unset):
        mode = options.mute_mode.lower()
        if mode not in MUTE_MODES:
            raise InvalidInput("mute_mode must be one of conversation, q&a, presentation", field="mute_mode")
        conference.mute_mode = mode
    if not isinstance(options.security_pin, Unset):
        pin = options.security_pin or ""
        if pin and not PIN_RE.fullmatch(pin):
            raise InvalidInput("security_pin must be 3 to 16 digits", field="security_pin")
        conference.security_pin = pin or None
    if not isinstance(options.broadcast_stream_url, Unset):
        set_broadcast_url(conference, options.broadcast_stream_url or "")


def set_broadcast_url(conference: Conference, url: str) -> None:
    """The MP4 played at the start (domain/streams/broadcasts.py): a new URL, or the same one after a
    failure, waits again (``NEW``) until the start; from the start on it cannot change.

    Raises:
        InvalidInput: not an http(s) URL.
        Conflict: the conference's start has passed, or its broadcast has played.
    """
    if url and not STREAM_URL_RE.match(url):
        raise InvalidInput("broadcast_stream_url must be an http(s) URL", field="broadcast_stream_url")
    started = conference.starts_at is not None and utcnow() >= conference.starts_at
    if url == (conference.broadcast_stream_url or ""):  # clients send every field again on update
        if url and conference.broadcast_state == "FAILED" and not started:
            reset_broadcast(conference, url)  # another try
        return
    if started or conference.broadcast_state in ("STARTED", "STOPPED"):
        raise Conflict(
            "broadcast_stream_url cannot be changed after the conference's start "
            f"(the broadcast is {conference.broadcast_state or 'not set'})"
        )
    reset_broadcast(conference, url or None)


def reset_broadcast(conference: Conference, url: str | None) -> None:
    """``url`` waits for the conference's start (``NEW``), held by no server process yet; the stream
    keepers look at once (one may be due to fetch it: a reservationless conference starts now)."""
    conference.broadcast_stream_url = url
    conference.broadcast_state = "NEW" if url else None
    conference.broadcast_reason = ""
    conference.broadcast_owner, conference.broadcast_lease_until = None, None
    session = object_session(conference)
    if url and session is not None:
        wake_streams(session)


def check_features(session: Session, host: Host, conference: Conference) -> None:
    """The options ``conference`` uses against the features of the organiser's active subscriptions.

    Raises:
        Forbidden: the plan cannot host, or lacks a feature an option needs (the reference's messages).
        InvalidInput: a security PIN without a one-time access code.
    """
    plan = SubscriptionService(session).host_plan(host)
    if not plan.can_host():
        raise Forbidden("The host's plan is suspended or missing: hosting is not available")
    features = plan.features()
    if conference.auto_record == "audio" and Feature.RECORDING not in features:
        raise Forbidden("Recording feature not enabled")
    if conference.auto_record == "video" and Feature.VIDEO_RECORDING not in features:
        raise Forbidden("Video recording feature not enabled")
    if conference.auto_stream != "none" and Feature.STREAMING not in features:
        raise Forbidden("Streaming feature not enabled")
    if conference.auto_transcribe and Feature.TRANSCRIPTION not in features:
        raise Forbidden("Transcription feature not enabled")
    if conference.one_time_code and Feature.ONE_TIME_ACCESS_CODE not in features:
        raise Forbidden("One time access code feature not available")
    if conference.security_pin and not conference.one_time_code:
        raise InvalidInput("Must enable one_time_access_code to use security_pin", field="security_pin")
