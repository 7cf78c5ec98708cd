"""Typed inputs of the tenancy services."""

from __future__ import annotations

from dataclasses import dataclass, fields

from podium.kit.unset import UNSET, Unset


@dataclass(frozen=True)
class CompanyChanges:
    """The settable fields of a company; UNSET ones are left as they are.

    Text arrives as sent (untrimmed): trimming, length and format are the service's rules. An empty
    colour or currency clears it; None (or empty) clears a partner or customer id.
    """

    name: str | Unset = UNSET
    subdomain: str | Unset = UNSET
    partner_id: str | None | Unset = UNSET
    customer_id: str | None | Unset = UNSET
    openid_provider: bool | Unset = UNSET
    primary_color: str | Unset = UNSET
    accent_color: str | Unset = UNSET
    currency: str | Unset = UNSET

    def given(self) -> list[str]:
        """Names of the fields given, sorted."""
        return sorted(f.name for f in fields(self) if not isinstance(getattr(self, f.name), Unset))


@dataclass(frozen=True)
class NewCompany:
    """A company to create: ``name`` and ``subdomain`` are required (UNSET or empty is "missing").

    ``product_id`` subscribes it to that product of the reseller's catalogue; None, to the
    catalogue's default plan.
    """

    fields: CompanyChanges
    product_id: int | None = None
