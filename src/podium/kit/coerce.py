"""Loose input types, as real clients send them: "60" for 60, "true" for True, "EST" for a zone."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from podium.kit.errors import InvalidInput

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off"}
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")


def to_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise InvalidInput(f"{field} must be true or false", field=field)


# Beyond this a number fits no INTEGER column (32 bits on PostgreSQL): it is bad input, not a
# server error. Ids, counts, durations and access codes (9 digits) all fit.
INT_LIMIT = 2**31 - 1


def to_int(field: str, value: Any) -> int:
    number: int | None = None
    integral_float = isinstance(value, float) and value.is_integer()
    # ASCII digits, with spaces around at most: ``\s`` and ``\d`` also match characters ``int()``
    # refuses (``"0\x1f"`` was a server error).
    digits = isinstance(value, str) and re.fullmatch(r"[ \t\r\n]*-?[0-9]{1,30}[ \t\r\n]*", value) is not None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif integral_float or digits:
        number = int(value)
    if number is None or abs(number) > INT_LIMIT:
        raise InvalidInput(f"{field} must be an integer", field=field)
    return number


def to_text(field: str, value: Any) -> str:
    """A string as sent (numbers become their digits), untrimmed: length and emptiness are the
    service's rules (``kit.validation.clean_text``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{field} must be a string", field=field)
    return str(value)


def to_str(field: str, value: Any, *, maximum: int = 255) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{field} must be a string", field=field)
    text = str(value).strip()
    if len(text) > maximum:
        raise InvalidInput(f"{field} is longer than {maximum} characters", field=field)
    return text


MEDIA_MODES = ("none", "audio", "video")


def media_mode(field: str, value: Any) -> str:
    """``none``, ``audio`` or ``video``; loose clients send a boolean (true records video, false
    nothing) or leave it empty (nothing)."""
    if value is None:
        return "none"
    if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in TRUE | FALSE):
        return "video" if to_bool(field, value) else "none"
    mode = to_str(field, value).lower() or "none"
    if mode not in MEDIA_MODES:
        raise InvalidInput(f"{field} must be one of none, audio, video", field=field)
    return mode


def to_int_list(field: str, value: Any) -> list[int]:
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be an array of integers", field=field)
    return [to_int(field, item) for item in value]


def to_str_list(field: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be an array of strings", field=field)
    return [to_str(field, item) for item in value]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(field: str, value: Any) -> str:
    """An IANA time zone name (the tz database, including links like US/Eastern and EST)."""
    name = to_str(field, value, maximum=64)
    if name not in _zones():
        raise InvalidInput(f"{field} must be an IANA time zone name (e.g. Europe/London)", field=field)
    return name


def locale(field: str, value: Any) -> str:
    tag = to_str(field, value, maximum=35).replace("_", "-")
    if not LOCALE_RE.match(tag):
        raise InvalidInput(f"{field} must be a BCP-47 language tag (e.g. en-US)", field=field)
    return tag


def country(field: str, value: Any) -> str:
    code = to_str(field, value, maximum=2)
    if not COUNTRY_RE.match(code):
        raise InvalidInput(f"{field} must be a two-letter ISO 3166 country code", field=field)
    return code.upper()
