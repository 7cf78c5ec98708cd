"""The ``viewing`` family of cached rows (kit/stamped): the changes that can stop a session playing.

The heartbeat ledger (domain/viewing/heartbeats.py) lets an admitted session's beats through without
the database; any of these changes, made anywhere, sends every session back to its full check. An
access password using up an activation is not one of them (it cannot stop a session that plays).
"""

from __future__ import annotations

from podium.kit.stamped import watch
from podium.models.media import Media
from podium.models.paywall import AccessPass, Paywall, PaywallMedia

VIEWING = "viewing"

watch(
    VIEWING,
    Paywall,
    frozenset(
        {
            "deleted_at",
            "access_kind",
            "scope",
            "access_start",
            "access_expire",
            "period_days",
            "preview_seconds",
        }
    ),
)
watch(
    VIEWING,
    AccessPass,
    frozenset({"deleted_at", "media_id", "paywall_id", "access_start", "access_expire", "purchased_at"}),
)
# A media put behind a paywall ends its free sessions: new links count too.
watch(VIEWING, PaywallMedia, None, new_rows=True)
watch(VIEWING, Media, frozenset({"deleted_at", "status"}))
