"""Boomstream parameter conventions: yes/no flags, integers, format and version."""

from __future__ import annotations

import re
from datetime import date, datetime, time

from podium.domain.conferences.service import UNSET, Unset
from podium.edges.common import Params
from podium.kit.errors import InvalidInput

YES = {"yes", "true", "1", "y", "on"}
NO = {"no", "false", "0", "n", "off"}


def yes_no(params: Params, key: str) -> bool | None:
    """``yes`` / ``no`` (and the usual spellings of true and false); absent or empty is None."""
    raw = params.text(key).strip().lower()
    if not raw:
        return None
    if raw in YES:
        return True
    if raw in NO:
        return False
    raise InvalidInput(f'Parameter \'{key}\' must be "yes" or "no"', field=key)


# Counts, offsets, limits and timeouts: anything beyond fits no column and means nothing here.
INTEGER_LIMIT = 2**31 - 1


def integer(params: Params, key: str) -> int | None:
    """A whole number (``10`` or ``10.0``) within 32 bits; anything else is bad input."""
    raw = params.text(key).strip()
    if not raw:
        return None
    number: int | None = None
    if re.fullmatch(r"[+-]?[0-9]{1,12}", raw):
        number = int(raw)
    elif re.fullmatch(r"[+-]?[0-9]{1,12}\.0*", raw):
        number = int(raw.split(".", 1)[0])
    if number is None or abs(number) > INTEGER_LIMIT:
        raise InvalidInput(f"Parameter '{key}' must be an integer", field=key)
    return number


def optional(params: Params, key: str) -> str | None:
    """A parameter's value when it was sent (even empty), else None."""
    return params.text(key) if key in params else None


_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATETIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$")
NEVER = "0000-00-00 00:00:00"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def date_time(params: Params, key: str, *, end_of_day: bool) -> datetime | None | Unset:
    """A Boomstream date: ``YYYY-MM-DD`` (00:00:01 for a start, 23:59:59 for an end) or
    ``YYYY-MM-DD H:i:s``. Absent or empty is UNSET; ``0000-00-00`` clears the date."""
    raw = params.text(key).strip()
    if not raw:
        return UNSET
    if raw.startswith("0000-00-00"):
        return None
    try:
        if match := _DATE.match(raw):
            year, month, day = (int(g) for g in match.groups())
            moment = time(23, 59, 59) if end_of_day else time(0, 0, 1)
            return datetime.combine(date(year, month, day), moment)
        if match := _DATETIME.match(raw):
            year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
            return datetime(year, month, day, hour, minute, second)
    except ValueError:
        pass
    raise InvalidInput(f"Parameter '{key}' must be a date YYYY-MM-DD or YYYY-MM-DD H:i:s", field=key)


def plain_date(params: Params, key: str) -> date | None:
    """A ``YYYY-MM-DD`` date (statistics periods); absent or empty is None."""
    raw = params.text(key).strip()
    if not raw:
        return None
    match = _DATE.match(raw)
    try:
        if match:
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        pass
    raise InvalidInput(f"Parameter '{key}' must be a date YYYY-MM-DD", field=key)


def show_time(moment: datetime | None) -> str:
    """How answers write a moment; a missing one (no limit) is the reference's ``0000-00-00 00:00:00``."""
    return moment.strftime(TIME_FORMAT) if moment else NEVER


def flag(params: Params, key: str) -> bool | Unset:
    value = yes_no(params, key)
    return UNSET if value is None else value


def given_integer(params: Params, key: str) -> int | None | Unset:
    """An integer that was sent; empty means "no value" (None), absent means UNSET."""
    if key not in params:
        return UNSET
    return integer(params, key)


def given_text(params: Params, key: str) -> str | Unset:
    return params.text(key) if key in params else UNSET
