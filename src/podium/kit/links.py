"""Every address Podium hands out, built in one place on ``PODIUM_PUBLIC_URL``.

Services and edges ask this module for a link instead of formatting one, so a route that moves
moves here once, and no answer can point at a path the server does not serve. Values that come
from outside (tokens, codes, passwords) are percent-encoded where they could hold reserved
characters.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from podium.config import Settings


class Links:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.base_url

    # --- rooms ------------------------------------------------------------------------------

    def room(self, access_code: str) -> str:
        """An Iotum room (a host's dedicated code or a conference's one-time code)."""
        return f"{self.base}/conf/call/{access_code}"

    def secure_room(self, token: str) -> str:
        """An Iotum room whose code travels encrypted (``secure_url``)."""
        return f"{self.base}/conf/call/s/{token}"

    def moderator_room(self, room_url: str, moderator_token: str) -> str:
        """An Iotum room URL (plain or secure) that admits whoever opens it as a moderator."""
        return f"{room_url}?{urlencode({'moderator_token': moderator_token})}"

    def invite(self, jwt: str) -> str:
        """A Boomstream conference invitation."""
        return f"{self.base}/conf/invite.html?jwt={jwt}"

    def meeting(self, short_code: str) -> str:
        """A LiveMinutes meeting URL (guests type their name)."""
        return f"{self.base}/m/{short_code}"

    def personal(self, token: str) -> str:
        """A personal join link: a LiveMinutes host or participant URL, an invitee's own link."""
        return f"{self.base}/e/{token}"

    def conference_summary(self, conference_id: int) -> str:
        return f"{self.base}/conf/summary/{conference_id}"

    # --- accounts ------------------------------------------------------------------------------

    def password_new(self, token: str) -> str:
        return f"{self.base}/password/new?token={token}"

    # --- files ------------------------------------------------------------------------------------

    def drive(self, action: str, file_id: int, token: str) -> str:
        """A signed drive transfer: ``upload`` or ``download``."""
        return f"{self.base}/drive/{action}/{file_id}?token={token}"

    def recording_file(self, recording_id: int, file_name: str, token: str) -> str:
        """A signed, expiring link to a meeting's recording or transcript file."""
        return f"{self.base}/recordings/{recording_id}/{file_name}?token={token}"

    def stream_preview(self, preview_id: int, file_name: str, token: str) -> str:
        """A signed link to a stream's preview clip or image (valid while the preview is kept)."""
        return f"{self.base}/previews/{preview_id}/{file_name}?token={token}"

    def media_upload(self, media_code: str, token: str) -> str:
        return f"{self.base}/media/upload/{media_code}?token={token}"

    def media_progress(self, media_code: str, token: str) -> str:
        return f"{self.base}/media/progress/{media_code}?token={token}"

    def media_image(self, image_code: str) -> str:
        return f"{self.base}/media/images/{image_code}.jpg"

    def play(self, token: str, media_code: str) -> str:
        """The base of a signed playback URL (``…/master.m3u8``, renditions, segments follow)."""
        return f"{self.base}/play/{token}/{media_code}"

    # --- watching --------------------------------------------------------------------------------

    def streaming(self, page_key: str) -> str:
        """A conference's streaming page (domain/streams: the key names the conference, signed)."""
        return f"{self.base}/stream/{quote(page_key, safe='')}"

    def watch(self, media_code: str, *, embed: bool = False) -> str:
        return f"{self.base}/watch/{media_code}" + ("?embed=1" if embed else "")

    def watch_subscription(self, subscription_code: str, password: str | None = None) -> str:
        """A subscription's watch page; with a password in the fragment, which browsers never send."""
        link = f"{self.base}/watch/s/{subscription_code}"
        return link if password is None else f"{link}#access={quote(password, safe='')}"

    def player(self, media_code: str, options: list[tuple[str, str]] | None = None) -> str:
        """Boomstream's bare player address ``<base>/<media code>``, with its options."""
        return f"{self.base}/{media_code}" + (f"?{urlencode(options)}" if options else "")

    # --- APIs -----------------------------------------------------------------------------------

    def iotum_page(self, endpoint: str, page: int) -> str:
        """The next page of an Iotum list (``Link: <…>; rel="next"``)."""
        return f"{self.base}/enterprise_api/{endpoint}?page={page}"
