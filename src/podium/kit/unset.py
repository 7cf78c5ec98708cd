"""One sentinel for "the caller did not give this field", distinct from an explicit None or ""."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unset:
    """Marks an optional argument the caller did not give (distinct from an empty value)."""


UNSET = Unset()
