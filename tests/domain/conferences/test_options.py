"""The rules on a conference's options, in the domain: duration bounds, the recording/streaming rule,
a PIN needs a one-time code, features against the organiser's plan (the reference's messages)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from podium.domain.conferences.options import check_media_modes
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.kit.errors import Conflict, Forbidden, InvalidInput
from tests.domain.conferences.conftest import Scene, options, soon


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"duration": 0}, "duration must be between 1 and 10080 minutes"),
        ({"duration": 10081}, "duration must be between 1 and 10080 minutes"),
        ({"mute_mode": "silent"}, "mute_mode must be one of conversation, q&a, presentation"),
        ({"security_pin": "12"}, "security_pin must be 3 to 16 digits"),
        ({"broadcast_stream_url": "ftp://x/y.mp4"}, "broadcast_stream_url must be an http(s) URL"),
        (
            {"auto_record": "audio", "auto_stream": "video"},
            "auto_record and auto_stream must be the same when recording and streaming together",
        ),
        ({"security_pin": "1234"}, "Must enable one_time_access_code to use security_pin"),
        ({"subject": "x" * 256}, "subject is longer than 255 characters"),
    ],
)
def test_bad_options_are_refused(
    scene: Scene, scheduling: SchedulingService, fields: dict[str, object], message: str
) -> None:
    host = scene.organiser()
    base = {"duration": 60, **fields}
    with pytest.raises(InvalidInput) as raised:
        scheduling.create(scene.ca, host, options(**base))  # type: ignore[arg-type]
    assert raised.value.message == message


def test_start_and_duration_are_required_to_schedule(scene: Scene, scheduling: SchedulingService) -> None:
    host = scene.organiser()
    with pytest.raises(InvalidInput, match="^start is required$"):
        scheduling.create(scene.ca, host, ConferenceOptions(duration=30))
    with pytest.raises(InvalidInput, match="^duration is required$"):
        scheduling.create(scene.ca, host, ConferenceOptions(start=soon(days=1)))


def test_recording_and_streaming_together_use_one_mode() -> None:
    check_media_modes("video", "video")
    check_media_modes("audio", "none")
    with pytest.raises(InvalidInput):
        check_media_modes("audio", "video")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"auto_record": "audio"}, "Recording feature not enabled"),
        ({"auto_record": "video"}, "Video recording feature not enabled"),
        ({"auto_stream": "audio"}, "Streaming feature not enabled"),
        ({"auto_transcribe": True}, "Transcription feature not enabled"),
    ],
)
def test_features_the_plan_lacks_are_forbidden(
    scene: Scene, scheduling: SchedulingService, fields: dict[str, object], message: str
) -> None:
    host = scene.organiser(plan="small_plan")
    with pytest.raises(Forbidden) as raised:
        scheduling.create(scene.ca, host, options(**fields))  # type: ignore[arg-type]
    assert raised.value.message == message


def test_turning_the_one_time_code_off_drops_the_pin_and_takes_the_hosts_code(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    conference = scheduling.create(scene.ca, host, options(one_time_access_code=True, security_pin="2468"))
    one_time = conference.access_code
    scheduling.update(scene.ca, conference.id, ConferenceOptions(one_time_access_code=False))
    assert conference.security_pin is None and conference.access_code != one_time
    with pytest.raises(InvalidInput, match="^Must enable one_time_access_code to use security_pin$"):
        scheduling.update(scene.ca, conference.id, ConferenceOptions(security_pin="1357"))


def test_a_changed_stream_url_starts_over_and_none_clears_it(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    conference = scheduling.create(scene.ca, host, options(broadcast_stream_url="https://cdn.example/a.mp4"))
    assert (conference.broadcast_stream_url, conference.broadcast_state) == (
        "https://cdn.example/a.mp4",
        "NEW",
    )
    scheduling.update(scene.ca, conference.id, ConferenceOptions(broadcast_stream_url=None))
    assert (conference.broadcast_stream_url, conference.broadcast_state) == (None, None)
    scheduling.update(
        scene.ca, conference.id, ConferenceOptions(broadcast_stream_url="https://cdn.example/b.mp4")
    )
    conference.broadcast_state = "STARTED"
    scheduling.update(
        scene.ca, conference.id, ConferenceOptions(broadcast_stream_url="https://cdn.example/b.mp4")
    )
    assert conference.broadcast_state == "STARTED"  # the same URL: nothing changes
    # Once it played, it stays (tests/domain/conferences/test_broadcast_url.py has the rules).
    with pytest.raises(Conflict, match="cannot be changed after the conference's start"):
        scheduling.update(scene.ca, conference.id, ConferenceOptions(broadcast_stream_url=None))


def test_reservationless_starts_now_and_refuses_start_and_schedule(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    for given in (ConferenceOptions(start=soon(days=1)), ConferenceOptions(schedule="FREQ=DAILY;COUNT=2")):
        with pytest.raises(InvalidInput, match="cannot be given to a reservationless conference"):
            scheduling.create_reservationless(scene.ca, host, given)
    live = scheduling.create_reservationless(
        scene.ca, host, ConferenceOptions(one_time_access_code=True, mute_mode="Q&A")
    )
    assert live.started_at is not None and live.reservationless and live.mute_mode == "q&a"
    assert scheduling.view(live).active
    assert live.code_valid_until == live.starts_at + timedelta(hours=73)
