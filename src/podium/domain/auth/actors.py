"""Who a credential or an Iotum session acts as, kept in the process while the tenancy rows behind
it stand still.

Every API call names its caller with a secret (a Boomstream API key, a LiveMinutes AuthToken, an
Iotum auth_token); finding the credential, its host and its company took three queries per call.
``ACTORS`` keeps the answer, keyed by the secret's SHA-256 digest (never the secret), stamped with
the ``tenancy`` generation (kit/stamped, ADR 0007): a revoked credential or session, a deleted host
or company, a changed role moves the generation in the transaction that makes the change, so this
process forgets at once and every other within a second. Unknown secrets are never cached: each
goes to the database, and the guessing guard counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from podium.domain.actor import Actor
from podium.kit.stamped import StampedCache, watch
from podium.models.auth import ApiSession
from podium.models.tenancy import Company, Credential, Host

TENANCY = "tenancy"

# (dialect, public id, digest) -> the actor of a live credential of a live company.
ACTORS: StampedCache[Actor] = StampedCache(TENANCY)


@dataclass
class SessionGrant:
    """What an open Iotum session resolves to, and when this process last wrote its use."""

    actor: Actor
    session_id: int
    last_used_at: datetime


# auth_token digest -> its grant, kept while the tenancy rows stand still.
SESSION_GRANTS: StampedCache[SessionGrant] = StampedCache(TENANCY)
TOUCH_EVERY = timedelta(minutes=1)


# The columns an actor is built from; any other change (a host's name, a company's colours) keeps it.
watch(TENANCY, Company, frozenset({"deleted_at", "reseller_id"}))
watch(TENANCY, Host, frozenset({"deleted_at", "role", "company_id"}))
watch(
    TENANCY,
    Credential,
    frozenset({"revoked_at", "secret_hash", "host_id", "company_id", "kind", "public_id"}),
)
# A session's last use moves every minute; only its end matters here.
watch(TENANCY, ApiSession, frozenset({"revoked_at", "host_id", "credential_id"}))
