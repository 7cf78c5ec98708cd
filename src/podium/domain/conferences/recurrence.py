"""The RRULE subset of the Iotum reference, validated with its error messages and expanded with
dateutil.rrule in the conference's own time zone (wall-clock times stay put across DST changes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from podium.kit.errors import InvalidInput
from podium.kit.text import ascii_digits

FREQS = ("DAILY", "WEEKLY", "MONTHLY")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MONTHLY_DAY = re.compile(r"^([+-]?[1-5])(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL = re.compile(r"^(\d{8})(T\d{6}Z?)?$")
MAX_OCCURRENCES = 1000


def _parse_error(detail: str) -> InvalidInput:
    return InvalidInput(f"Failed to parse the schedule rule. {detail}", field="schedule")


@dataclass(frozen=True)
class Schedule:
    """A validated rule; ``text`` is its canonical iCal form, as answers show it."""

    freq: str
    interval: int | None
    count: int | None
    until: str | None  # YYYYMMDD, inclusive
    byday: tuple[str, ...]
    bymonthday: int | None

    @property
    def text(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval is not None:
            parts.append(f"INTERVAL={self.interval}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(self.byday))
        if self.bymonthday is not None:
            parts.append(f"BYMONTHDAY={self.bymonthday}")
        return ";".join(parts)

    @property
    def bounded(self) -> bool:
        return self.count is not None or self.until is not None

    def _rule(self, dtstart_local: datetime) -> rrule:
        text = self.text
        if self.until is not None:
            # The reference's UNTIL is a date that the schedule includes: the end of that day.
            text = text.replace(f"UNTIL={self.until}", f"UNTIL={self.until}T235959")
        rule: rrule = rrulestr(text, dtstart=dtstart_local)
        return rule

    def occurrences(
        self, start_local: datetime, zone: ZoneInfo, *, until_utc: datetime
    ) -> Iterator[datetime]:
        """Occurrences (naive UTC) from ``start_local``, a wall time in ``zone``, up to ``until_utc``."""
        for index, local in enumerate(self._rule(start_local)):
            if index >= MAX_OCCURRENCES:
                return
            moment = _to_utc(local, zone)
            if moment > until_utc:
                return
            yield moment


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Wall time in ``zone`` → naive UTC; a wall time skipped by a DST jump moves forward with it."""
    aware = local.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != local:  # nonexistent local time (spring forward): use the instant after the gap
        aware = (local + timedelta(hours=1)).replace(tzinfo=zone)
    return aware.astimezone(UTC).replace(tzinfo=None)


def parse(text: str) -> Schedule:
    """Validate a schedule with the reference's messages, word for word."""
    raw = text.strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    if not raw:
        raise _parse_error("The rule is empty.")
    fields: dict[str, str] = {}
    for part in raw.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise _parse_error(f"'{part}' is not NAME=VALUE.")
        if key not in ("FREQ", "INTERVAL", "UNTIL", "COUNT", "BYDAY", "BYMONTHDAY"):
            raise _parse_error(f"{key} is not supported.")
        if key in fields:
            raise _parse_error(f"{key} is given twice.")
        fields[key] = value
    if "FREQ" not in fields:
        raise _parse_error("FREQ is required.")
    freq = fields["FREQ"]
    if freq not in FREQS:
        raise InvalidInput("Schedule FREQ must be DAILY, WEEKLY or MONTHLY", field="schedule")
    interval = _positive(fields, "INTERVAL")
    count = _positive(fields, "COUNT")
    until = None
    if "UNTIL" in fields:
        match = _UNTIL.match(fields["UNTIL"])
        if not match:
            raise _parse_error("UNTIL must be a date such as 20211231.")
        until = match.group(1)
        try:
            datetime.strptime(until, "%Y%m%d")
        except ValueError:
            raise _parse_error("UNTIL is not a valid date.") from None
    if count is not None and until is not None:
        raise _parse_error("COUNT and UNTIL cannot be used together.")
    byday = tuple(d for d in fields.get("BYDAY", "").split(",") if d) if "BYDAY" in fields else ()
    monthdays = [d for d in fields.get("BYMONTHDAY", "").split(",") if d] if "BYMONTHDAY" in fields else []
    bymonthday: int | None = None
    if freq == "WEEKLY":
        if not byday:
            raise InvalidInput("Schedule WEEKLY must include BYDAY", field="schedule")
        for day in byday:
            if day not in DAYS:
                raise _parse_error(f"BYDAY {day} is not one of MO, TU, WE, TH, FR, SA, SU.")
        if monthdays:
            raise _parse_error("BYMONTHDAY is only for MONTHLY schedules.")
    elif freq == "MONTHLY":
        if byday and monthdays:
            raise InvalidInput(
                "Schedule MONTHLY supports BYDAY or BYMONTHDAY, cannot use both", field="schedule"
            )
        if not byday and not monthdays:
            raise InvalidInput("Schedule MONTHLY must include BYDAY or BYMONTHDAY", field="schedule")
        if len(byday) > 1:
            raise InvalidInput("Schedule MONTHLY BYDAY only supports one item", field="schedule")
        if len(monthdays) > 1:
            raise InvalidInput("Schedule MONTHLY BYMONTHDAY only supports one item", field="schedule")
        if byday:
            match = _MONTHLY_DAY.match(byday[0])
            if not match:
                if byday[0] in DAYS:
                    raise InvalidInput("Schedule MONTHLY BYDAY must include number and day", field="schedule")
                raise _parse_error(f"BYDAY {byday[0]} is not a week number and day such as 2WE.")
            number = int(match.group(1))
            byday = (f"{number}{match.group(2)}",)
        if monthdays:
            try:
                bymonthday = int(monthdays[0])
            except ValueError:
                raise _parse_error("BYMONTHDAY must be a number.") from None
            if bymonthday == 0 or not -31 <= bymonthday <= 31:
                raise _parse_error("BYMONTHDAY must be between -31 and 31, not 0.")
    else:  # DAILY
        if byday or monthdays:
            raise _parse_error("BYDAY and BYMONTHDAY are not used with DAILY schedules.")
    return Schedule(freq, interval, count, until, byday, bymonthday)


def _positive(fields: dict[str, str], key: str) -> int | None:
    if key not in fields:
        return None
    value = fields[key]
    if not ascii_digits(value, max_length=5) or int(value) < 1 or int(value) > 10000:
        raise _parse_error(f"{key} must be a positive number.")
    return int(value)
