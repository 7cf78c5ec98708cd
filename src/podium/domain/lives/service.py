"""Boomstream lives: a media of kind Live that an encoder publishes to over RTMP.

A live is a row of ``media`` (``media_type = "live"``, status Done: watch pages, paywalls and
statistics take it like a video) with a row of ``lives`` for what only a live has. Its states:
``waiting`` (never on air), ``live`` (a publisher is on air) and ``ended`` (it was; it may go on air
again, each broadcast recorded on its own).

The RTMP server (``streaming/``: nginx with its rtmp module) asks this service before it lets a
publisher in (``publish``), every few seconds while it publishes (``still_publishing``), when it
stops (``publish_done``) and when a broadcast's recording is closed (``recorded``). The stream key
is a secret: only its SHA-256 is kept, compared in constant time; it is shown once, on create and
on ``reset_key``. One publisher per live at a time.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences.service import UNSET, Unset
from podium.domain.lives import links
from podium.domain.lives.paths import hls_dir, records_dir
from podium.domain.lives.repository import LiveRepository
from podium.domain.lives.state import LiveStatus, silent, status_of, viewers_now
from podium.domain.media.repository import MediaRepository
from podium.domain.media.service import MediaService, MediaView
from podium.kit import ids
from podium.kit.clock import utcnow
from podium.kit.errors import DomainError, ErrorCode, InvalidInput, NotFound
from podium.kit.text import same_secret
from podium.kit.validation import check_length
from podium.models.live import LIVE_MEDIA_TYPE, Live, LiveState
from podium.models.media import Media, MediaStatus

LIST_MAX = 1000
KEY_PARAMETER = "key"
TOKEN_PARAMETER = "token"
SYSTEM_LABEL = "system:rtmp"
LOOPBACK = ("127.0.0.1", "::1")


class LivesUnavailable(DomainError):
    code = ErrorCode.MEDIA_UNAVAILABLE


class PublishRefused(DomainError):
    """The RTMP server must not let this publisher in (or must drop it)."""

    code = ErrorCode.ACCESS_DENIED


@dataclass
class LiveView:
    """A live with what its answers show."""

    live: Live
    media: MediaView
    status: LiveStatus
    ingest_url: str
    stream_key: str  # only right after create or reset_key; empty otherwise


class LiveService:
    """Lives of a company (the API: an actor; its company only) and the RTMP server's callbacks."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = LiveRepository(session)
        self.library = MediaService(session, settings)

    # --- the API -------------------------------------------------------------------------------

    def check_available(self) -> None:
        """Lives need an RTMP server: refused when this server has none (PODIUM_RTMP=off, or nginx
        with its rtmp module is missing or did not start)."""
        if self.settings.rtmp == "off":
            raise LivesUnavailable(
                "Lives are not available on this server: it has no RTMP server (PODIUM_RTMP is off, "
                "or nginx with libnginx-mod-rtmp is not installed or did not start; see the server log)"
            )

    def create(
        self, actor: Actor, *, title: str, description: str = "", folder_code: str = ""
    ) -> tuple[Live, Media, str]:
        """A live waiting for its first broadcast, and its stream key (shown this once).

        Raises:
            LivesUnavailable: this server has no RTMP server.
            InvalidInput: no title, or a field too long.
            NotFound: no such folder.
        """
        self.check_available()
        if not title.strip():
            raise InvalidInput("Parameter 'title' is required", field="title")
        check_length("title", title, 255)
        check_length("description", description, 65535)
        folder = self.library.folder(actor, folder_code) if folder_code else None
        live, media, key = self._new(
            actor.company_id, title.strip(), description, folder.id if folder else None
        )
        self._log("created", actor.label, live, media)
        return live, media, key

    def _new(
        self, company_id: int, title: str, description: str, folder_id: int | None, *, internal: bool = False
    ) -> tuple[Live, Media, str]:
        media_repo = MediaRepository(self.session)
        media = Media(
            company_id=company_id,
            code=ids.unused(ids.client_code, lambda code: media_repo.code_taken(Media, code)),
            title=title,
            description=description,
            folder_id=folder_id,
            media_type=LIVE_MEDIA_TYPE,
            # Done: it can be watched whenever it is on air (its live state says when).
            status=MediaStatus.DONE.value,
            storage_key=ids.secret_token(16),
        )
        media_repo.add(media)
        secret = ids.secret_token(16)
        live = Live(
            media_id=media.id,
            company_id=company_id,
            key_hash=ids.hash_secret(secret),
            state=LiveState.WAITING.value,
            internal=internal,
            record=not internal,
            record_failure="",
            broadcasts=0,
        )
        self.repo.add(live)
        return live, media, self.stream_key(media, secret)

    @staticmethod
    def stream_key(media: Media, secret: str) -> str:
        """What an encoder is given as its stream key: the stream name (the live's code) and the
        secret, which the RTMP server hands back to us on publish."""
        return f"{media.code}?{KEY_PARAMETER}={secret}"

    def get(self, actor: Actor, code: str) -> tuple[Live, Media]:
        """Raises NotFound when the company has no live with this code."""
        code = code.strip()
        found = self.repo.for_company(actor.company_id, code) if len(code) <= 64 else None
        if found is None:
            raise NotFound(f"Live {code} not found")
        return found

    def page(
        self, actor: Actor, *, limit: int | None = None, offset: int | None = None
    ) -> tuple[Sequence[tuple[Live, Media]], int]:
        """The company's lives, newest first, and how many there are."""
        limit = 100 if limit is None else limit
        offset = 0 if offset is None else offset
        if not 1 <= limit <= LIST_MAX:
            raise InvalidInput(f"limit must be between 1 and {LIST_MAX}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        return self.repo.page(actor.company_id, limit, offset)

    def update(
        self,
        actor: Actor,
        code: str,
        *,
        title: str | Unset = UNSET,
        description: str | Unset = UNSET,
        folder_code: str | Unset = UNSET,
    ) -> tuple[Live, Media]:
        """Change title, description or folder (the media rules: MediaService.update)."""
        live, media = self.get(actor, code)
        if isinstance(title, str) and not title.strip():
            raise InvalidInput("The title of a live cannot be empty", field="title")
        self.library.update(actor, media, title=title, description=description, folder_code=folder_code)
        return live, media

    def delete(self, actor: Actor, code: str) -> None:
        """Delete the live: viewers stop, a publisher on air is dropped at the RTMP server's next
        report (within UPDATE_SECONDS) and its recording is not kept."""
        live, media = self.get(actor, code)
        was_on_air = live.state == LiveState.LIVE.value
        self.library.remove(actor, media)
        live.state = LiveState.ENDED.value
        live.publisher = None
        if was_on_air:
            live.ended_at = utcnow()
            self._log("stopped", actor.label, live, media, status=LiveState.ENDED.value, reason="deleted")
        self.session.flush()
        shutil.rmtree(hls_dir(self.settings, media.code), ignore_errors=True)

    def reset_key(self, actor: Actor, code: str) -> tuple[Live, Media, str]:
        """A new stream key (shown this once); the old one stops working, and a publisher on air
        with it is dropped at the RTMP server's next report."""
        live, media = self.get(actor, code)
        secret = ids.secret_token(16)
        live.key_hash = ids.hash_secret(secret)
        self.session.flush()
        self._log("key_reset", actor.label, live, media)
        return live, media, self.stream_key(media, secret)

    def view(self, live: Live, media: Media, *, stream_key: str = "") -> LiveView:
        media_view = self.library.view(media)
        return LiveView(
            live=live,
            media=media_view,
            status=media_view.live or status_of(self.session, self.settings, live),
            ingest_url=self.settings.rtmp_ingest_url,
            stream_key=stream_key,
        )

    # --- viewers --------------------------------------------------------------------------------

    def viewers_now(self, live: Live) -> int:
        """Viewers watching the live now: its open view sessions whose page beat within
        ``state.watching_window`` (two heartbeats and a second; a page that closed sent /watch/end
        and no longer counts). What a conference's ``fetch_livestream_viewer_count`` answers."""
        return viewers_now(self.session, self.settings, live)

    # --- internal publishers (a conference's stream) --------------------------------------------

    def for_internal_publisher(
        self, company_id: int, *, title: str, media_id: int | None = None, record: bool = False
    ) -> Live:
        """The company's live that a publisher inside Podium feeds: the one of ``media_id`` while it
        exists (a conference keeps one live across its streams), else a new one.

        Raises:
            LivesUnavailable: this server has no RTMP server.
        """
        self.check_available()
        if media_id is not None:
            live = self.repo.for_media(media_id)
            media = self.repo.media(media_id)
            if (
                live is not None
                and media is not None
                and media.deleted_at is None
                and live.company_id == company_id
            ):
                return live
        live, media, _key = self._new(company_id, title.strip()[:255] or "Live", "", None, internal=True)
        live.record = record
        self.session.flush()
        self._log("created", SYSTEM_LABEL, live, media)
        return live

    def internal_publish_url(self, live: Live) -> str:
        """The rtmp:// URL a publisher on this machine pushes the live to: the RTMP server's loopback
        address (or the one address it listens on), the live's code and a signed token instead of
        the stream key (accepted from this machine only, when publishing starts within
        PUBLISH_TOKEN_SECONDS)."""
        media = self.repo.media(live.media_id)
        assert media is not None
        token = links.publish_token(self.settings, media.code)
        host = self._rtmp_host()
        host = f"[{host}]" if ":" in host else host
        return f"rtmp://{host}:{self.settings.rtmp_port}/live/{media.code}?{TOKEN_PARAMETER}={token}"

    # --- the RTMP server's callbacks (trusted: streaming/callbacks.py checked their origin) -------

    def _credential_ok(self, live: Live, code: str, *, key: str, token: str, address: str | None) -> bool:
        if key:
            return same_secret(ids.hash_secret(key), live.key_hash)
        if token and (address is None or address in self._this_machine()):
            try:
                links.check_publish_token(self.settings, token, code, expiry=address is not None)
            except DomainError:
                return False
            return True
        return False

    def _rtmp_host(self) -> str:
        """The address an internal publisher connects to: loopback, unless the RTMP server listens on
        one other address only."""
        host = self.settings.rtmp_listen.rpartition(":")[0].strip("[]")
        return "127.0.0.1" if host in ("0.0.0.0", "::", "*", "127.0.0.1", "localhost") else host

    def _this_machine(self) -> tuple[str, ...]:
        return (*LOOPBACK, self._rtmp_host())

    def publish(self, code: str, *, key: str, token: str, publisher: str, address: str) -> None:
        """An encoder asks to publish to the live named ``code``.

        Raises:
            PublishRefused: no such live, a wrong key (or token), or another publisher on air.
        """
        found = self.repo.by_code(code, lock=True) if 0 < len(code) <= 64 else None
        if found is None:
            raise PublishRefused("No such live")
        live, media = found
        if not self._credential_ok(live, code, key=key, token=token, address=address):
            raise PublishRefused("Wrong stream key")
        now = utcnow()
        if live.state == LiveState.LIVE.value:
            if not silent(live, now) and live.publisher != publisher:
                raise PublishRefused("Another encoder is publishing to this live")
            # The previous broadcast's RTMP server stopped reporting it: it is over.
            self._stopped(live, media, now, reason="lost")
        # The previous broadcast's segments go: viewers wait for this one's first (the RTMP server
        # writes nothing before this callback is answered).
        shutil.rmtree(hls_dir(self.settings, media.code), ignore_errors=True)
        live.state = LiveState.LIVE.value
        live.publisher = publisher[:64]
        live.publisher_seen_at = now
        live.started_at = now
        live.ended_at = None
        live.broadcasts += 1
        live.record_failure = ""
        self.session.flush()
        self._log("started", SYSTEM_LABEL, live, media, status=LiveState.LIVE.value)

    def still_publishing(self, code: str, *, key: str, token: str, publisher: str) -> None:
        """The RTMP server's report on a publisher (every UPDATE_SECONDS).

        Raises:
            PublishRefused: drop it — the live is gone, its key was reset, or it is not the live's
                publisher any more.
        """
        found = self.repo.by_code(code) if 0 < len(code) <= 64 else None
        if found is None:
            raise PublishRefused("No such live")
        live, _media = found
        if live.state != LiveState.LIVE.value or live.publisher != publisher:
            raise PublishRefused("This encoder is not the live's publisher")
        if not self._credential_ok(live, code, key=key, token=token, address=None):
            raise PublishRefused("The stream key has changed")
        live.publisher_seen_at = utcnow()
        self.session.flush()

    def publish_done(self, code: str, *, publisher: str) -> None:
        """The publisher left (or was dropped): the broadcast is over; ``live.stopped``."""
        found = self.repo.by_code(code, lock=True) if 0 < len(code) <= 64 else None
        if found is None:
            return
        live, media = found
        if live.state == LiveState.LIVE.value and live.publisher == publisher:
            self._stopped(live, media, utcnow(), reason="stopped")

    def _stopped(self, live: Live, media: Media, now: datetime, *, reason: str) -> None:
        live.state = LiveState.ENDED.value
        live.publisher = None
        live.ended_at = now
        self.session.flush()
        self._log("stopped", SYSTEM_LABEL, live, media, status=LiveState.ENDED.value, reason=reason)

    def recorded(self, code: str, path: Path) -> Media | None:
        """A broadcast's recording was closed by the RTMP server: it becomes a video of the live's
        library (folder included), transcoded by the media worker like an upload. None when it is
        not kept (the live is gone, does not record, or the file is empty); the caller removes the
        file once this is committed either way.

        Raises:
            InvalidInput: the path is not a recording of this live in the recordings folder.
        """
        folder = records_dir(self.settings)
        path = path.resolve()
        if path.parent != folder or not path.name.startswith(f"{code}-") or path.suffix != ".flv":
            raise InvalidInput("Not a recording of this live")
        found = self.repo.by_code(code) if 0 < len(code) <= 64 else None
        if found is None or not path.exists():
            return None
        live, media = found
        if not live.record:
            return None
        if path.stat().st_size < 1024:
            live.record_failure = "The broadcast sent no media"
            self.session.flush()
            return None
        moment = (live.started_at or utcnow()).strftime("%Y-%m-%d %H:%M")
        recording = self.library.adopt_file(
            media.company_id,
            title=f"{media.title} ({moment} UTC)",
            description=f"Recording of the live {media.code}",
            file=path,
            actor_label=SYSTEM_LABEL,
        )
        recording.folder_id = media.folder_id
        live.recording_media_id = recording.id
        live.record_failure = ""
        self.session.flush()
        self._log("recorded", SYSTEM_LABEL, live, media, recording=recording.code)
        return recording

    def recover(self) -> list[Path]:
        """At the start of a new RTMP server: every live still marked on air was on the previous
        one, so its broadcast is over (``live.stopped``); recordings it left are kept as if closed.
        Returns the recording files handled (to be removed once this is committed)."""
        now = utcnow()
        for live, media in self.repo.on_air():
            self._stopped(live, media, now, reason="server restarted")
        handled = []
        folder = records_dir(self.settings)
        for path in sorted(folder.glob("*.flv")) if folder.is_dir() else []:
            code = path.name.split("-", 1)[0]
            self.recorded(code, path)
            handled.append(path)
        return handled

    # --- audit ------------------------------------------------------------------------------------

    def _log(self, action: str, actor_label: str, live: Live, media: Media, **data: object) -> None:
        log_action(
            self.session,
            f"live.{action}",
            actor=actor_label,
            ref=f"media:{media.id}",
            company_id=media.company_id,
            code=media.code,
            title=media.title,
            **data,
        )
