"""Series: a master with an RRULE materialises its instances; updating the master updates the series,
cancelling it cancels the series; schedule details only on the master."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions, Invitee
from podium.domain.conferences.series import Series
from podium.kit.clock import clock, utcnow
from podium.kit.errors import InvalidInput
from podium.models.conference import Conference
from tests.domain.conferences.conftest import Scene, options, soon

TORONTO = ZoneInfo("America/Toronto")


def _series(session: Session, master: Conference) -> list[Conference]:
    return Series(session).members(master)


def test_a_series_materialises_with_one_code_and_one_moderator_token(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    start = soon(days=2)
    master = scheduling.create(
        scene.ca, host, options(start, schedule="FREQ=DAILY;COUNT=3", one_time_access_code=True)
    )
    series = _series(session, master)
    assert [c.starts_at for c in series] == [start + timedelta(days=d) for d in range(3)]
    assert series[0] is master and master.master_id == master.id and master.schedule == "FREQ=DAILY;COUNT=3"
    assert {c.master_id for c in series} == {master.id}
    assert {c.access_code for c in series} == {master.access_code}
    assert {c.moderator_token for c in series} == {master.moderator_token}
    assert len({c.code for c in series}) == 3  # each instance has its own public codes
    assert all(c.code_valid_until == c.starts_at + timedelta(hours=73) for c in series)


def _next_dst_change(zone: ZoneInfo) -> date:
    """The first day (from two days on) whose 09:00 has another UTC offset than the day before's."""
    day = (utcnow() + timedelta(days=2)).date()
    while True:
        nine = [
            datetime.combine(d, time(9)).replace(tzinfo=zone).utcoffset() for d in (day, day + timedelta(1))
        ]
        if nine[0] != nine[1]:
            return day + timedelta(days=1)
        day += timedelta(days=1)


def test_wall_time_stays_put_across_dst(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    change = _next_dst_change(TORONTO)
    master = scheduling.create(
        scene.ca,
        host,
        ConferenceOptions(
            start=datetime.combine(change - timedelta(days=1), time(9)),
            duration=30,
            time_zone=TORONTO,
            schedule="FREQ=DAILY;COUNT=3",
        ),
    )
    series = _series(session, master)
    assert [scheduling.view(c).start_local[11:] for c in series] == ["09:00:00"] * 3
    before, after = (series[1].starts_at - series[0].starts_at), (series[2].starts_at - series[1].starts_at)
    assert before != after and {before, after} <= {
        timedelta(hours=23),
        timedelta(hours=24),
        timedelta(hours=25),
    }


def test_the_master_moves_to_the_first_occurrence(scene: Scene, scheduling: SchedulingService) -> None:
    host = scene.organiser()
    # 2031-06-02 is a Monday: a Wednesday-only rule starts on the 4th.
    master = scheduling.create(
        scene.ca, host, options(datetime(2031, 6, 2, 10, 0), schedule="FREQ=WEEKLY;COUNT=2;BYDAY=WE")
    )
    assert master.starts_at == datetime(2031, 6, 4, 10, 0)


def test_updating_the_master_updates_the_instances(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    contact = scene.contact(host)
    master = scheduling.create(scene.ca, host, options(schedule="FREQ=DAILY;COUNT=3"))
    scheduling.update(
        scene.ca,
        master.id,
        ConferenceOptions(subject="Daily", mute_mode="presentation"),
        [Invitee.contact(contact, moderator=True)],
    )
    series = _series(session, master)
    assert {(c.title, c.mute_mode) for c in series} == {("Daily", "presentation")}
    for instance in series:
        assert scheduling.view(instance).moderators[1:] == [contact]

    one = series[1]
    scheduling.update(scene.ca, one.id, ConferenceOptions(subject="Special"))
    assert [c.title for c in _series(session, master)] == ["Daily", "Special", "Daily"]


def test_a_new_start_or_rule_on_the_master_makes_the_instances_again(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    start = soon(days=3)
    master = scheduling.create(scene.ca, host, options(start, schedule="FREQ=DAILY;COUNT=3"))
    first = _series(session, master)
    scheduling.update(scene.ca, master.id, ConferenceOptions(start=start + timedelta(hours=2)))
    assert [c.starts_at for c in _series(session, master)] == [
        start + timedelta(days=d, hours=2) for d in range(3)
    ]
    assert all(c.deleted_at is not None for c in first[1:])  # the old instances went
    scheduling.update(
        scene.ca, master.id, ConferenceOptions(schedule="FREQ=WEEKLY;COUNT=2;BYDAY=MO,TU,WE,TH,FR,SA,SU")
    )
    assert len(_series(session, master)) == 2 and master.schedule.startswith("FREQ=WEEKLY")


def test_clearing_the_schedule_ends_the_series(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    master = scheduling.create(scene.ca, host, options(schedule="FREQ=DAILY;COUNT=3"))
    instances = _series(session, master)[1:]
    scheduling.update(scene.ca, master.id, ConferenceOptions(schedule=None))
    assert (master.schedule, master.master_id, master.deleted_at) == (None, None, None)
    assert all(c.deleted_at is not None for c in instances)
    assert scheduling.view(master).master is None


def test_cancelling_the_master_cancels_the_series_and_an_instance_only_itself(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    master = scheduling.create(scene.ca, host, options(schedule="FREQ=DAILY;COUNT=4"))
    series = _series(session, master)
    scheduling.cancel(scene.ca, series[2].id)
    assert series[2].cancelled_at is not None and series[2].deleted_at is not None
    assert len(_series(session, master)) == 3
    scheduling.cancel(scene.ca, master.id)
    assert _series(session, master) == []
    assert all(c.cancelled_at is not None for c in series)


def test_schedule_on_an_instance_is_refused(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    master = scheduling.create(scene.ca, host, options(schedule="FREQ=DAILY;COUNT=2"))
    instance = _series(session, master)[1]
    for schedule in ("FREQ=DAILY;COUNT=5", None):
        with pytest.raises(
            InvalidInput, match="^Can only include schedule details in the master conference$"
        ):
            scheduling.update(scene.ca, instance.id, ConferenceOptions(schedule=schedule))


def test_rule_errors_keep_the_reference_messages(scene: Scene, scheduling: SchedulingService) -> None:
    host = scene.organiser()
    with pytest.raises(InvalidInput, match="^Schedule WEEKLY must include BYDAY$"):
        scheduling.create(scene.ca, host, options(schedule="FREQ=WEEKLY"))
    with pytest.raises(
        InvalidInput, match="^Failed to parse the schedule rule. The rule has no occurrence.$"
    ):
        scheduling.create(scene.ca, host, options(schedule="FREQ=DAILY;UNTIL=20000101"))


def test_an_unbounded_series_grows_as_time_passes(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    master = scheduling.create(scene.ca, host, options(soon(days=1), schedule="FREQ=WEEKLY;BYDAY=MO"))
    count = len(_series(session, master))
    assert 77 <= count <= 80  # about 18 months of Mondays
    clock.freeze(utcnow() + timedelta(days=70))
    assert len(scheduling.for_host(scene.ca, host)) in range(77, 81)  # ten weeks more were made
    assert len(_series(session, master)) >= count + 9


def test_a_cancelled_instance_stays_cancelled_when_the_series_grows(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    master = scheduling.create(scene.ca, host, options(soon(days=1), schedule="FREQ=WEEKLY;BYDAY=MO"))
    cancelled = _series(session, master)[2]
    scheduling.cancel(scene.ca, cancelled.id)
    clock.freeze(utcnow() + timedelta(days=70))
    scheduling.for_host(scene.ca, host)
    assert cancelled.starts_at not in {c.starts_at for c in _series(session, master)}
