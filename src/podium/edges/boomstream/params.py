"""Boomstream parameter conventions: yes/no flags, integers, format and version."""

from __future__ import annotations

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


def integer(params: Params, key: str) -> int | None:
    raw = params.text(key).strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        try:
            as_float = float(raw)
        except ValueError:
            as_float = float("nan")
        if as_float.is_integer():
            return int(as_float)
        raise InvalidInput(f"Parameter '{key}' must be an integer", field=key) from None


def optional(params: Params, key: str) -> str | None:
    """A parameter's value when it was sent (even empty), else None."""
    return params.text(key) if key in params else None
