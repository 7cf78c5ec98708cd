"""How a phone call is shown: the Iotum answers (``dial_outs``) and the room page (``phone``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium.models.phone_leg import PhoneLeg


@dataclass(frozen=True)
class DialOutView:
    """A call as ``conference/fetch`` (``output=detail``) and ``host/active_calls`` show it."""

    id: int
    phone_number: str
    name: str
    status: str
    reason: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    muted: bool = False
    direction: str = "out"  # out: dialled from the meeting; in: the caller dialled in

    def in_room(self) -> dict[str, Any]:
        """How the room page shows it (docs/protocol/signaling.md, ``phone``)."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "muted": self.muted,
            "direction": self.direction,
        }


def view_of(leg: PhoneLeg) -> DialOutView:
    return DialOutView(
        id=leg.id,
        phone_number=leg.phone_number,
        name=leg.name,
        status=leg.status,
        reason=leg.reason,
        started_at=leg.requested_at,
        answered_at=leg.answered_at,
        ended_at=leg.ended_at,
        muted=leg.muted,
        direction=leg.direction,
    )
