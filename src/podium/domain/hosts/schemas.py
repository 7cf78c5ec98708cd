"""Typed inputs of the hosts service, and the shape rules an edge applies while reading them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from podium.kit.errors import InvalidInput
from podium.kit.unset import UNSET, Unset
from podium.models.tenancy import Role

DISABLE_EMAIL_KEYS = (
    "conference_invitations",
    "conference_reminders",
    "conference_summaries",
    "transcription_summaries",
)
TIME_FORMAT_KEYS = ("time_24hr", "hm_separator", "md_format", "md_y_comma")
TIME_FORMAT_FLAGS = ("time_24hr", "md_y_comma")
MEDIA_MODES = ("none", "audio", "video")


def check_disable_email_keys(value: object) -> None:
    """``disable_emails`` is an object whose keys are known email kinds.

    Raises:
        InvalidInput: not an object, or an unknown key.
    """
    if not isinstance(value, Mapping) or set(value) - set(DISABLE_EMAIL_KEYS):
        raise InvalidInput(
            f"disable_emails takes the keys {', '.join(DISABLE_EMAIL_KEYS)}", field="disable_emails"
        )


def check_time_format_keys(value: object) -> None:
    """``time_format`` is an object with some of its four keys.

    Raises:
        InvalidInput: not an object, or an unknown key.
    """
    if not isinstance(value, Mapping) or set(value) - set(TIME_FORMAT_KEYS):
        raise InvalidInput(f"time_format takes the keys {', '.join(TIME_FORMAT_KEYS)}", field="time_format")


@dataclass(frozen=True)
class StreamPreview:
    """How the livestream preview behaves: seconds shown, seconds between, and a still image."""

    duration: int = 60
    interval: int = 300
    image_preview: bool = False


@dataclass(frozen=True)
class HostChanges:
    """Fields a create or update call gives; UNSET ones are left as they are (or defaulted on create).

    Text arrives as sent (untrimmed): trimming, length and rules are the service's. ``access_code``
    and ``moderator_pin`` None draw a fresh code; ``password`` None (or empty) leaves it; ``plan_slug``
    None keeps the host's plan while add-ons change. ``disable_emails`` and ``time_format`` hold only
    the keys given, merged over the current values.
    """

    name: str | Unset = UNSET
    email: str | Unset = UNSET
    password: str | None | Unset = UNSET
    role: Role | str | Unset = UNSET
    no_login: bool | Unset = UNSET
    no_welcome_email: bool | Unset = UNSET
    access_code: str | None | Unset = UNSET
    moderator_pin: str | None | Unset = UNSET
    native_streaming: bool | Unset = UNSET
    host_initiated_recording: bool | Unset = UNSET
    waiting_room: bool | Unset = UNSET
    auto_record: str | Unset = UNSET
    auto_stream: str | Unset = UNSET
    stream_preview: StreamPreview | None | Unset = UNSET
    disable_emails: Mapping[str, bool] | Unset = UNSET
    time_format: Mapping[str, bool | str] | Unset = UNSET
    locale: str | Unset = UNSET
    country_code: str | Unset = UNSET
    time_zone: str | Unset = UNSET
    openid_sub: str | None | Unset = UNSET
    public_username: str | None | Unset = UNSET
    image_url: str | Unset = UNSET
    subscription_ids: tuple[int, ...] | Unset = UNSET
    plan_slug: str | None | Unset = UNSET
    add_on_slugs: tuple[str, ...] | Unset = UNSET

    def has(self, name: str) -> bool:
        return not isinstance(getattr(self, name), Unset)

    def given(self) -> list[str]:
        """Names of the fields given, sorted."""
        return sorted(f.name for f in fields(self) if self.has(f.name))

    @property
    def touches_subscriptions(self) -> bool:
        return self.has("subscription_ids") or self.has("plan_slug") or self.has("add_on_slugs")
