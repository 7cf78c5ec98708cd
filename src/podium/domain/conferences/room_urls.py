"""A conference's room URL: its access code in the clear, or encrypted when it has a secure URL."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from podium.config import Settings
from podium.kit.links import Links
from podium.models.conference import Conference


class RoomUrls:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _fernet(self) -> Fernet:
        digest = hashlib.sha256(("secure-url:" + self.settings.signing_key()).encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))

    def of(self, conference: Conference) -> str:
        """The URL that opens ``conference``'s room (``/conf/call/<code>`` or ``/conf/call/s/<token>``)."""
        code = conference.access_code or ""
        if conference.secure_url:
            token = self._fernet().encrypt(code.encode()).decode()
            return Links(self.settings).secure_room(token)
        return Links(self.settings).room(code)

    def code_in(self, token: str) -> str | None:
        """The access code a secure URL's token carries; None when the token is not ours."""
        try:
            return self._fernet().decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None
