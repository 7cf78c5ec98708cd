"""The one JSON reader for request bodies: bounded nesting, valid Unicode, no NUL.

Python's ``json`` recurses once per nesting level (100,000 ``[`` exhaust the stack), accepts lone
surrogates (``"\\ud800"``, which no UTF-8 encoder can write back and PostgreSQL refuses) and NUL
characters (no text column takes them). A body is checked for all three before anything uses it, and
every failure is ``InvalidInput`` with a message the dialect shows — never a server error.
"""

from __future__ import annotations

import json
from typing import Any

from podium.kit.errors import InvalidInput

MAX_DEPTH = 32


def _too_deep(raw: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (a scan, no recursion)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def check_text(value: Any) -> None:
    """Every string (keys too) is valid Unicode without NUL; walks iteratively."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            check_string(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def check_string(text: str, field: str | None = None) -> str:
    """``text`` if it is valid Unicode without NUL, else ``InvalidInput``."""
    where = f"Parameter '{field}'" if field else "The request"
    if "\x00" in text:
        raise InvalidInput(f"{where} contains a NUL character", **({"field": field} if field else {}))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{where} contains text that is not valid Unicode", **({"field": field} if field else {})
        ) from None
    return text


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a request body, checked (see the module docstring).

    Raises:
        InvalidInput: not UTF-8, not JSON, nested deeper than ``max_depth``, or holding a lone
            surrogate or a NUL character.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("Request body is not UTF-8", kind="syntax") from None
    if _too_deep(raw, max_depth):
        raise InvalidInput(f"Request body is nested deeper than {max_depth} levels", kind="syntax")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("Request body is not valid JSON", kind="syntax") from None
    check_text(value)
    return value


def parse_json_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """``parse_json`` for bodies that must be a JSON object (``{}`` when the body is empty)."""
    if not raw.strip():
        return {}
    value = parse_json(raw, max_depth=max_depth)
    if not isinstance(value, dict):
        raise InvalidInput("Request body must be a JSON object")
    return value
