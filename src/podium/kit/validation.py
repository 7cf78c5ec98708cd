"""Small input rules shared by every service."""

from __future__ import annotations

import re

from podium.kit.errors import InvalidInput

# Deliberately simple: one @, a dot in the domain, no spaces; delivery is the real test.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def check_length(label: str, value: str, maximum: int) -> str:
    if len(value) > maximum:
        raise InvalidInput(f"{label} is longer than {maximum} characters", field=label)
    return value


def normalise_email(email: str, *, required: bool, label: str = "email") -> str:
    """Trimmed email; empty is allowed only when not required."""
    email = email.strip()
    if not email:
        if required:
            raise InvalidInput(f"{label} is required", field=label)
        return ""
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidInput(f"{label} is not a valid address", field=label)
    return email


def clean_text(label: str, value: str, maximum: int = 255) -> str:
    """``value`` trimmed, no longer than ``maximum`` characters (the rule every text field follows)."""
    return check_length(label, value.strip(), maximum)
