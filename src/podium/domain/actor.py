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

    @property
    def label(self) -> str:
        who = f"host:{self.host_id}" if self.host_id else f"credential:{self.credential_id}"
        return f"{self.via}:{who}"


SYSTEM_LABEL = "system:cli"
