"""Iotum enterprise API: the company's recent lockouts (an extension of ours; see docs/compat.md).

A lockout is a target of the company (a conference's security PIN, a subscription's access
passwords, a host's login) refused to everyone for a while after repeated wrong guesses
(domain/guard).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podium.domain.guard.service import MAX_LOCKOUT_DAYS, GuardService
from podium.edges.common import Param
from podium.edges.iotum.routes_base import INTEGER, Answer, Call, Endpoint
from podium.models.audit import AuditEntry


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def lockout(entry: AuditEntry) -> dict[str, Any]:
    data = entry.data or {}
    return {
        "id": entry.id,
        "kind": data.get("kind"),
        "target": entry.ref,
        "locked_at": _iso(entry.created_at),
        "locked_until": data.get("until"),
        "seconds": data.get("seconds"),
        "failures": data.get("failures"),
        "lockouts_in_a_row": data.get("lockouts_in_a_row"),
        "client": data.get("client"),
    }


def security_lockouts(call: Call) -> Answer:
    """The company's recent lockouts after repeated wrong guesses (extension)."""
    days = call.body.int_("days", required=False)
    entries = GuardService(call.ctx.session, call.ctx.settings).lockouts(
        call.actor, call.body.int_("company_id", required=False), 30 if days is None else days
    )
    return Answer([lockout(entry) for entry in entries])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "security/lockouts",
        "The company's recent lockouts after repeated wrong guesses (extension)",
        security_lockouts,
        "read",
        params=(
            Param("company_id", "Company id (default: the caller's own company)", schema=INTEGER),
            Param("days", f"How many days back, 1 to {MAX_LOCKOUT_DAYS} (default 30)", schema=INTEGER),
        ),
    ),
)
