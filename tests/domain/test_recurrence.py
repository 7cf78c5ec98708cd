"""RRULE subset: expansion against hand-checked dates, and every schedule error of the reference."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from podium.domain.conferences.recurrence import parse
from podium.kit.errors import InvalidInput

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

TORONTO = ZoneInfo("America/Toronto")
LONDON = ZoneInfo("Europe/London")
FAR = datetime(2035, 1, 1)


def expand(rule: str, start: datetime, zone: ZoneInfo = TORONTO, until: datetime = FAR) -> list[datetime]:
    return list(parse(rule).occurrences(start, zone, until_utc=until))


def test_daily_every_other_day_keeps_wall_time_across_spring_forward() -> None:
    # Toronto moves to EDT on Sunday 8 March 2026: 13:00 is 18:00 UTC before, 17:00 UTC after.
    got = expand("FREQ=DAILY;INTERVAL=2;COUNT=4", datetime(2026, 3, 4, 13, 0))
    assert got == [
        datetime(2026, 3, 4, 18),
        datetime(2026, 3, 6, 18),
        datetime(2026, 3, 8, 17),
        datetime(2026, 3, 10, 17),
    ]


def test_until_is_an_inclusive_date() -> None:
    got = expand("FREQ=DAILY;UNTIL=20261103", datetime(2026, 10, 30, 9, 30), LONDON)
    # London leaves BST on Sunday 25 October 2026, so 09:30 is 09:30 UTC throughout.
    assert got == [datetime(2026, 10, d, 9, 30) for d in (30, 31)] + [
        datetime(2026, 11, d, 9, 30) for d in (1, 2, 3)
    ]


def test_weekly_monday_and_wednesday_across_fall_back() -> None:
    # Toronto returns to EST on Sunday 1 November 2026.
    got = expand("FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE", datetime(2026, 10, 26, 13, 0))
    assert got == [
        datetime(2026, 10, 26, 17),
        datetime(2026, 10, 28, 17),
        datetime(2026, 11, 2, 18),
        datetime(2026, 11, 4, 18),
    ]


def test_monthly_second_wednesday_every_other_month() -> None:
    got = expand("FREQ=MONTHLY;COUNT=4;INTERVAL=2;BYDAY=2WE", datetime(2026, 1, 1, 10, 0), LONDON)
    assert [d.date().isoformat() for d in got] == ["2026-01-14", "2026-03-11", "2026-05-13", "2026-07-08"]
    assert got[2].hour == 9  # 10:00 BST in May is 09:00 UTC


def test_monthly_last_friday() -> None:
    got = expand("FREQ=MONTHLY;COUNT=5;INTERVAL=1;BYDAY=-1FR", datetime(2026, 1, 1, 13, 0))
    assert [d.date().isoformat() for d in got] == [
        "2026-01-30",
        "2026-02-27",
        "2026-03-27",
        "2026-04-24",
        "2026-05-29",
    ]


def test_monthly_tenth_and_third_to_last_day() -> None:
    tenth = expand("FREQ=MONTHLY;COUNT=3;INTERVAL=1;BYMONTHDAY=10", datetime(2026, 1, 1, 8, 0), LONDON)
    assert [d.date().isoformat() for d in tenth] == ["2026-01-10", "2026-02-10", "2026-03-10"]
    minus_three = expand(
        "FREQ=MONTHLY;BYMONTHDAY=-3", datetime(2028, 1, 1, 8, 0), LONDON, datetime(2028, 5, 1)
    )
    # 2028 is a leap year: February has 29 days, so its third-to-last day is the 27th.
    assert [d.date().isoformat() for d in minus_three] == [
        "2028-01-29",
        "2028-02-27",
        "2028-03-29",
        "2028-04-28",
    ]


def test_month_end_day_31_skips_short_months() -> None:
    got = expand("FREQ=MONTHLY;COUNT=3;BYMONTHDAY=31", datetime(2026, 1, 1, 8, 0), LONDON)
    assert [d.date().isoformat() for d in got] == ["2026-01-31", "2026-03-31", "2026-05-31"]


def test_canonical_text() -> None:
    assert parse("rrule:freq=weekly;byday=mo,we;count=10").text == "FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE"
    assert parse("FREQ=MONTHLY;BYDAY=+2WE").text == "FREQ=MONTHLY;BYDAY=2WE"


ERRORS = [
    ("FREQ=YEARLY", "Schedule FREQ must be DAILY, WEEKLY or MONTHLY"),
    ("FREQ=HOURLY;COUNT=2", "Schedule FREQ must be DAILY, WEEKLY or MONTHLY"),
    ("FREQ=MONTHLY;BYDAY=1MO,3FR", "Schedule MONTHLY BYDAY only supports one item"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", "Schedule MONTHLY BYMONTHDAY only supports one item"),
    (
        "FREQ=MONTHLY;BYDAY=2WE;BYMONTHDAY=10",
        "Schedule MONTHLY supports BYDAY or BYMONTHDAY, cannot use both",
    ),
    ("FREQ=MONTHLY;BYDAY=WE", "Schedule MONTHLY BYDAY must include number and day"),
    ("FREQ=MONTHLY;COUNT=3", "Schedule MONTHLY must include BYDAY or BYMONTHDAY"),
    ("FREQ=WEEKLY;COUNT=3", "Schedule WEEKLY must include BYDAY"),
]


@pytest.mark.parametrize(("rule", "message"), ERRORS)
def test_schedule_errors_word_for_word(rule: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(rule)
    assert error.value.message == message


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ",
        "COUNT=3",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;UNTIL=2021-12-31",
        "FREQ=DAILY;BYHOUR=3",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=DAILY;UNTIL=20210231",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=DAILY;COUNT=2;UNTIL=20301231",
        "FREQ=DAILY;FREQ=DAILY",
    ],
)
def test_unparsable_rules(rule: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(rule)
    assert error.value.message.startswith("Failed to parse the schedule rule.")
