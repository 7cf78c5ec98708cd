"""Every table; imported as a whole so Alembic sees the full metadata."""

from podium.models.audit import AuditEntry
from podium.models.conference import Conference, Folder
from podium.models.outbox import OutboxMessage
from podium.models.participant import Participant
from podium.models.tenancy import Company, Credential, Host, Reseller

__all__ = [
    "AuditEntry",
    "Company",
    "Conference",
    "Credential",
    "Folder",
    "Host",
    "OutboxMessage",
    "Participant",
    "Reseller",
]
