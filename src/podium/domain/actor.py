"""Who is calling: every service call names its actor explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from podium.models.tenancy import Role


@dataclass(frozen=True)
class Actor:
    company_id: int
    role: Role
    via: str
    host_id: int | None = None
    credential_id: int | None = None
    reseller_id: int | None = None
    # OAuth scopes granted to the caller; None when the credential is not scoped (API key, auth_token).
    scopes: frozenset[str] | None = None

    @property
    def label(self) -> str:
        who = f"host:{self.host_id}" if self.host_id else f"credential:{self.credential_id}"
        return f"{self.via}:{who}"

    @property
    def is_reseller_admin(self) -> bool:
        return self.role == Role.RESELLER_ADMIN

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.RESELLER_ADMIN, Role.COMPANY_ADMIN)


SYSTEM_LABEL = "system:cli"
