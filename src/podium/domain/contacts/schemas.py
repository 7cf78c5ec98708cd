"""Typed inputs of the contacts service."""

from __future__ import annotations

from dataclasses import dataclass

from podium.kit.unset import UNSET, Unset


@dataclass(frozen=True)
class BookRef:
    """Whose address book, as a caller names it: a host's (``host_id``), else a company's shared book
    (``company_id``; none at all means the caller's own company's)."""

    host_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True)
class ContactFields:
    """A contact's fields; UNSET ones are left as they are (on create, name and email are required).

    Text arrives as sent (untrimmed): trimming, length and format are the service's rules. An empty
    phone clears it; ``time_zone`` None clears it.
    """

    name: str | Unset = UNSET
    email: str | Unset = UNSET
    business_phone: str | Unset = UNSET
    mobile_phone: str | Unset = UNSET
    home_phone: str | Unset = UNSET
    other_phone: str | Unset = UNSET
    time_zone: str | None | Unset = UNSET
