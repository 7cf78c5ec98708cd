"""Every table; imported as a whole so Alembic sees the full metadata."""

from podium.kit.stamped import CacheGeneration
from podium.models.activity import (
    Attendance,
    ChatMessage,
    ChatRoom,
    DriveFile,
    RoomRemoval,
    WebhookDelivery,
    WebhookEndpoint,
)
from podium.models.audit import AuditEntry
from podium.models.auth import ApiSession, OAuthAuthorizationCode, OAuthClient, OAuthToken
from podium.models.conference import Conference, Folder
from podium.models.contact import Contact
from podium.models.guard import GuardCounter
from podium.models.live import Live, LiveState
from podium.models.media import Media, MediaImage, MediaRendition, MediaStatus
from podium.models.outbox import OutboxMessage
from podium.models.participant import Participant
from podium.models.paywall import (
    AccessKind,
    AccessPass,
    Paywall,
    PaywallMedia,
    SellerContacts,
    ViewDailyRollup,
    ViewRollup,
    ViewSession,
)
from podium.models.phone_leg import LegStatus, PhoneLeg
from podium.models.recording import Recording, RecordingState, TranscriptState
from podium.models.stream import Stream, StreamPreview, StreamState
from podium.models.subscription import (
    Feature,
    HostSubscription,
    Pricing,
    Product,
    Subscription,
    SubscriptionStatus,
)
from podium.models.tenancy import Company, Credential, Host, Reseller

__all__ = [
    "Live",
    "LiveState",
    "Recording",
    "Stream",
    "StreamPreview",
    "StreamState",
    "RecordingState",
    "TranscriptState",
    "Attendance",
    "RoomRemoval",
    "ChatMessage",
    "ChatRoom",
    "DriveFile",
    "WebhookDelivery",
    "WebhookEndpoint",
    "ApiSession",
    "AuditEntry",
    "Contact",
    "Feature",
    "HostSubscription",
    "OAuthAuthorizationCode",
    "OAuthClient",
    "OAuthToken",
    "Pricing",
    "Product",
    "Subscription",
    "SubscriptionStatus",
    "Company",
    "Conference",
    "Credential",
    "Folder",
    "GuardCounter",
    "CacheGeneration",
    "Host",
    "OutboxMessage",
    "Participant",
    "PhoneLeg",
    "LegStatus",
    "Reseller",
    "Media",
    "MediaImage",
    "MediaRendition",
    "MediaStatus",
    "AccessKind",
    "AccessPass",
    "Paywall",
    "PaywallMedia",
    "SellerContacts",
    "ViewDailyRollup",
    "ViewRollup",
    "ViewSession",
]
