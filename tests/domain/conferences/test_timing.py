"""Timing: when a conference is active, the 15-minute early entry, start times in zones (DST), and how
long a one-time code stays valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences import timing
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.joining.service import JoiningService
from podium.kit.clock import clock
from podium.kit.errors import Conflict
from podium.models.conference import Conference
from tests.domain.conferences.conftest import Scene, options, soon

TORONTO = ZoneInfo("America/Toronto")


def test_a_naive_start_is_a_wall_time_in_the_zone_and_an_aware_one_keeps_its_offset() -> None:
    assert timing.to_utc(datetime(2031, 1, 15, 9, 0), TORONTO) == datetime(2031, 1, 15, 14, 0)  # EST
    assert timing.to_utc(datetime(2031, 7, 15, 9, 0), TORONTO) == datetime(2031, 7, 15, 13, 0)  # EDT
    assert timing.to_utc(datetime(2031, 7, 15, 9, 0, tzinfo=UTC), TORONTO) == datetime(2031, 7, 15, 9, 0)
    assert timing.local(datetime(2031, 7, 15, 13, 0), TORONTO) == datetime(2031, 7, 15, 9, 0)


def test_start_and_end_are_shown_in_the_conference_zone_across_a_dst_change(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    # Clocks spring forward in Toronto at 2:00 on 2031-03-09: 23:30 the evening before is EST; three
    # hours later it is 3:30 EDT (four hours on the wall clock).
    conference = scheduling.create(
        scene.ra,
        host,
        ConferenceOptions(start=datetime(2031, 3, 8, 23, 30), duration=180, time_zone=TORONTO),
    )
    assert conference.starts_at == datetime(2031, 3, 9, 4, 30)
    view = scheduling.view(conference)
    assert (view.start_local, view.end_local) == ("2031-03-08 23:30:00", "2031-03-09 03:30:00")


def test_is_active_from_the_start_until_just_before_the_end(scene: Scene, session: Session) -> None:
    conference = Conference(starts_at=datetime(2031, 5, 1, 10, 0), duration_minutes=30)
    assert timing.end_of(conference) == datetime(2031, 5, 1, 10, 30)
    assert not timing.is_active(session, conference, datetime(2031, 5, 1, 9, 59, 59))
    assert timing.is_active(session, conference, datetime(2031, 5, 1, 10, 0))
    assert timing.is_active(session, conference, datetime(2031, 5, 1, 10, 29, 59))
    assert not timing.is_active(session, conference, datetime(2031, 5, 1, 10, 30))
    conference.ended_at = datetime(2031, 5, 1, 10, 5)
    assert not timing.is_active(session, conference, datetime(2031, 5, 1, 10, 10))
    conference.ended_at, conference.deleted_at = None, datetime(2031, 5, 1, 10, 5)
    assert not timing.is_active(session, conference, datetime(2031, 5, 1, 10, 10))


def test_a_conference_without_duration_lasts_an_hour() -> None:
    conference = Conference(starts_at=datetime(2031, 5, 1, 10, 0), duration_minutes=None)
    assert timing.end_of(conference) == datetime(2031, 5, 1, 11, 0)


def test_the_room_opens_fifteen_minutes_early(scene: Scene, session: Session) -> None:
    conference = Conference(starts_at=datetime(2031, 5, 1, 10, 0), duration_minutes=30)
    assert not timing.opens_now(session, conference, datetime(2031, 5, 1, 9, 44, 59))
    assert timing.opens_now(session, conference, datetime(2031, 5, 1, 9, 45))
    assert not timing.is_active(session, conference, datetime(2031, 5, 1, 9, 45))  # open, not active
    assert timing.opens_now(session, conference, datetime(2031, 5, 1, 10, 29))
    assert not timing.opens_now(session, conference, datetime(2031, 5, 1, 10, 30))


def test_a_room_link_reaches_the_scheduled_conference_within_the_early_entry(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    start = soon(days=3)
    conference = scheduling.create(scene.ca, host, options(start, one_time_access_code=True))
    code = conference.access_code
    assert code is not None
    joining = JoiningService(session, scene.settings)
    within = joining.resolve_access_code(code, now=start - timedelta(minutes=15))
    assert within.conference.id == conference.id
    before = joining.resolve_access_code(code, now=start - timedelta(minutes=16))
    assert before.conference.id != conference.id  # too early: a new instance on the same code
    assert before.conference.access_code == code


def test_a_one_time_code_is_valid_until_72_hours_after_the_end(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    start = soon(days=4)
    conference = scheduling.create(scene.ca, host, options(start, duration=45, one_time_access_code=True))
    assert conference.code_valid_until == start + timedelta(minutes=45, hours=72)
    moved = scheduling.update(scene.ca, conference.id, ConferenceOptions(duration=90))
    assert moved.code_valid_until == start + timedelta(minutes=90, hours=72)
    dedicated = scheduling.create(scene.ca, host, options(start))
    assert dedicated.code_valid_until is None  # a dedicated code does not expire


def test_end_needs_an_active_conference(scene: Scene, scheduling: SchedulingService) -> None:
    host = scene.organiser()
    start = soon(days=1)
    conference = scheduling.create(scene.ca, host, options(start, duration=30))
    with pytest.raises(Conflict, match="Conference is not active"):
        scheduling.end(scene.ca, conference.id)
    clock.freeze(start + timedelta(minutes=5))
    scheduling.end(scene.ca, conference.id)  # during its time: it starts and ends
    assert conference.started_at == start + timedelta(minutes=5) and conference.ended_at is not None
    assert not timing.is_active(scheduling.session, conference)
