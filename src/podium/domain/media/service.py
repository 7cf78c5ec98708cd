"""The media library: upload through a signed URL, background transcoding, folders, owner links."""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences.service import UNSET, Unset
from podium.domain.lives.repository import LiveRepository
from podium.domain.lives.state import LiveStatus, status_of
from podium.domain.media import importer, links
from podium.domain.media.repository import SORT_COLUMNS, MediaRepository
from podium.domain.outbox.service import enqueue
from podium.domain.paywall.repository import PaywallRepository
from podium.kit import ids, outbound
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.links import Links
from podium.kit.uow import wake_media
from podium.kit.validation import check_length
from podium.models.conference import Folder
from podium.models.live import LIVE_MEDIA_TYPE
from podium.models.media import Media, MediaImage, MediaRendition, MediaStatus

FOLDER_PAGE_MAX = 1000
_SAFE_NAME = re.compile(r"[^\w.\- ()]+")


@dataclass
class MediaView:
    """A media with what its answers show: renditions, pictures and the owner's signed links."""

    media: Media
    folder_code: str
    renditions: Sequence[MediaRendition] = ()
    images: Sequence[MediaImage] = ()
    player_link: str = ""
    player_code: str = ""
    download_link: str = ""
    adaptive_hls: str = ""
    rendition_links: dict[str, tuple[str, str]] = field(default_factory=dict)  # title → (mp4, hls)
    image_urls: dict[str, str] = field(default_factory=dict)  # code → url
    live: LiveStatus | None = None  # a live's state, viewers and recording (domain/lives)

    @property
    def poster(self) -> MediaImage | None:
        return next((i for i in self.images if i.kind == "poster"), None)

    @property
    def screenshots(self) -> list[MediaImage]:
        return [i for i in self.images if i.kind == "screenshot"]


@dataclass(frozen=True)
class FolderPage:
    folders: Sequence[Folder]
    medias: Sequence[MediaView]
    total: int
    parent_codes: dict[int, str]


class MediaService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = MediaRepository(session)

    # --- storage -----------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.settings.data_dir / "media"

    def storage_dir(self, media: Media) -> Path:
        return self.root / media.storage_key

    def source_path(self, media: Media) -> Path:
        return self.storage_dir(media) / "source"

    def output_dir(self, media: Media) -> Path:
        """Where the finished renditions and pictures of a media live."""
        return self.storage_dir(media) / "out"

    # --- library ------------------------------------------------------------------------

    def _code(self, model: type) -> str:
        return ids.unused(ids.client_code, lambda code: self.repo.code_taken(model, code))

    def create(
        self,
        actor: Actor,
        *,
        title: str,
        description: str = "",
        folder_code: str = "",
        source_url: str | None = None,
    ) -> Media:
        """A media waiting for its file (status Uploading), or, given ``source_url``, queued for the
        worker to fetch it from there (media/create); ``media.created`` is announced."""
        if source_url is not None:
            source_url = outbound.check_url(
                source_url, allow_private=self.settings.media_import_private_networks
            )
            if not title.strip():
                title = importer.name_in_url(source_url).rsplit(".", 1)[0][:255]
        check_length("title", title, 255)
        check_length("description", description, 65535)
        folder = self.folder(actor, folder_code) if folder_code else None
        media = Media(
            company_id=actor.company_id,
            code=self._code(Media),
            title=title.strip(),
            description=description,
            folder_id=folder.id if folder else None,
            status=MediaStatus.UPLOADING.value if source_url is None else MediaStatus.PROCESSING.value,
            source_url=source_url,
            storage_key=secrets.token_hex(16),
        )
        self.repo.add(media)
        if source_url is not None:
            wake_media(self.session)
        self._log("created", actor.label, media)
        return media

    def adopt_file(
        self, company_id: int, *, title: str, description: str, file: Path, actor_label: str
    ) -> Media:
        """A media of the company's library made from a file Podium already holds (a meeting's
        recording): linked (or copied) in as its source and queued for transcoding at once;
        ``media.created`` is announced, ``media.completed`` follows from the worker."""
        media = Media(
            company_id=company_id,
            code=self._code(Media),
            title=title.strip()[:255],
            description=description,
            status=MediaStatus.PROCESSING.value,
            storage_key=secrets.token_hex(16),
        )
        self.repo.add(media)
        source = self.source_path(media)
        source.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(file, source)
        except OSError:
            shutil.copyfile(file, source)
        self._file_arrived(media, source.stat().st_size, file.name)
        self.session.flush()
        wake_media(self.session)
        self._log("created", actor_label, media)
        return media

    def get(self, actor: Actor, code: str) -> Media:
        media = self.repo.live_by_code(actor.company_id, code.strip())
        if media is None:
            raise NotFound(f"Media {code} not found")
        return media

    def get_many(self, actor: Actor, codes: Sequence[str]) -> list[Media]:
        """Media in the order asked; an unknown code is an error that names it."""
        wanted = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
        if not wanted:
            raise InvalidInput("Parameter 'code' is required", field="code")
        if len(wanted) > FOLDER_PAGE_MAX:
            raise InvalidInput(f"At most {FOLDER_PAGE_MAX} codes at once", field="code")
        found = {m.code: m for m in self.repo.live_by_codes(actor.company_id, wanted)}
        missing = [c for c in wanted if c not in found]
        if missing:
            raise NotFound(f"Media {', '.join(missing)} not found")
        return [found[c] for c in wanted]

    def update(
        self,
        actor: Actor,
        media: Media,
        *,
        title: str | Unset = UNSET,
        description: str | Unset = UNSET,
        folder_code: str | Unset = UNSET,
    ) -> Media:
        """Change the given fields; an empty ``folder_code`` moves the media to the top."""
        if not isinstance(title, Unset):
            check_length("title", title, 255)
            media.title = title.strip()
        if not isinstance(description, Unset):
            check_length("description", description, 65535)
            media.description = description
        if not isinstance(folder_code, Unset):
            folder = self.folder(actor, folder_code) if folder_code else None
            media.folder_id = folder.id if folder else None
        self.session.flush()
        self._log("updated", actor.label, media)
        return media

    def delete(self, actor: Actor, media: Media) -> None:
        """Soft-delete; the files go once the deletion is committed (a job of the outbox)."""
        if media.media_type == LIVE_MEDIA_TYPE:
            raise InvalidInput(f"Media {media.code} is a live: delete it with live/delete", field="code")
        self.remove(actor, media)

    def remove(self, actor: Actor, media: Media) -> None:
        """Soft-delete any media, a live included (LiveService.delete ends its broadcast first)."""
        media.deleted_at = utcnow()
        PaywallRepository(self.session).detach_media(media.id)
        enqueue(self.session, "job", {"job": "media.purge", "storage_key": media.storage_key})
        self.session.flush()
        self._log("deleted", actor.label, media)

    def purge_files(self, storage_key: str) -> None:
        if re.fullmatch(r"[0-9a-f]{32}", storage_key):
            shutil.rmtree(self.root / storage_key, ignore_errors=True)

    def views(self, medias: Sequence[Media]) -> list[MediaView]:
        """``view`` of each media, their outputs read in two queries (not two per media)."""
        renditions, images = self.repo.outputs_for(
            [m.id for m in medias if m.status == MediaStatus.DONE.value and m.media_type != LIVE_MEDIA_TYPE]
        )
        return [self.view(m, outputs=(renditions.get(m.id, []), images.get(m.id, []))) for m in medias]

    def view(
        self,
        media: Media,
        *,
        outputs: tuple[Sequence[MediaRendition], Sequence[MediaImage]] | None = None,
    ) -> MediaView:
        """The media with its outputs and fresh owner links (playback, download); ``outputs``
        when the caller read them already (``views``)."""
        urls = Links(self.settings)
        view = MediaView(
            media=media,
            folder_code=self.folder_code(media.folder_id),
            player_link=urls.watch(media.code),
        )
        view.player_code = html.escape(
            f'<iframe src="{urls.watch(media.code, embed=True)}" width="{media.width or 640}" '
            f'height="{media.height or 360}" frameborder="0" allowfullscreen '
            f'allow="autoplay; fullscreen"></iframe>'
        )
        if media.status != MediaStatus.DONE.value:
            return view
        play = links.play_base(self.settings, links.sign_play(self.settings, media.code), media.code)
        if media.media_type == LIVE_MEDIA_TYPE:
            # A live has no file nor renditions: its adaptive playlist names the live one.
            live = LiveRepository(self.session).for_media(media.id)
            view.live = status_of(self.session, self.settings, live) if live else None
            view.adaptive_hls = f"{play}/master.m3u8"
            return view
        if outputs is None:
            outputs = (self.repo.renditions(media.id), self.repo.images(media.id))
        view.renditions, view.images = list(outputs[0]), list(outputs[1])
        view.download_link = f"{play}/original"
        view.adaptive_hls = f"{play}/master.m3u8"
        view.rendition_links = {
            r.title: (f"{play}/{r.title}.mp4", f"{play}/{r.title}/index.m3u8") for r in view.renditions
        }
        view.image_urls = {i.code: urls.media_image(i.code) for i in view.images}
        return view

    # --- upload ----------------------------------------------------------------------------

    # --- public files (posters, screenshots) and renditions, for the file routes -------------

    def poster_of(self, media: Media) -> MediaImage | None:
        return next((i for i in self.repo.images(media.id) if i.kind == "poster"), None)

    def public_image(self, image_code: str) -> Path | None:
        """The file of a poster or screenshot of a live media (images are public, like posters)."""
        picture = self.repo.image_by_code(image_code)
        media = self.repo.by_id(picture.media_id) if picture else None
        if picture is None or media is None or media.deleted_at is not None:
            return None
        return self.output_dir(media) / "images" / f"{picture.code}.jpg"

    def renditions(self, media: Media) -> Sequence[MediaRendition]:
        return self.repo.renditions(media.id)

    def rendition(self, media: Media, title: str) -> MediaRendition:
        found = self.repo.rendition(media.id, title)
        if found is None:
            raise InvalidInput("No such rendition")
        return found

    def upload_url(self, media: Media) -> str:
        token = links.sign_media_link(self.settings, media, links.UPLOAD_AUDIENCE)
        return Links(self.settings).media_upload(media.code, token)

    def progress_url(self, media: Media) -> str:
        token = links.sign_media_link(self.settings, media, links.PROGRESS_AUDIENCE)
        return Links(self.settings).media_progress(media.code, token)

    def by_link(self, code: str, token: str, audience: str) -> Media:
        media = self.repo.live_by_public_code(code)
        links.verify_media_link(self.settings, token, audience, media)
        assert media is not None
        return media

    def check_uploadable(self, media: Media) -> None:
        if media.status != MediaStatus.UPLOADING.value:
            raise Conflict("The file of this media has already been uploaded")

    def record_upload_progress(self, media_id: int, received: int, expected: int | None) -> None:
        self.repo.set_upload_progress(media_id, received, expected)

    def accept_upload(self, media: Media, size: int, file_name: str) -> Media:
        """The file has arrived: queue it for transcoding."""
        self.check_uploadable(media)
        if size <= 0:
            raise InvalidInput("The uploaded file is empty")
        self._file_arrived(media, size, file_name)
        media.status = MediaStatus.PROCESSING.value
        media.lease_until = None
        media.attempts = 0
        self.session.flush()
        wake_media(self.session)
        self._log("uploaded", f"upload:{media.code}", media, size=size)
        return media

    def accept_fetched(self, media: Media, size: int, file_name: str) -> None:
        """An imported file has been fetched; transcoding follows in the same job."""
        self._file_arrived(media, size, file_name)
        self.session.flush()
        self._log("fetched", "system:importer", media, size=size)

    def _file_arrived(self, media: Media, size: int, file_name: str) -> None:
        name = _SAFE_NAME.sub("_", file_name.replace("/", "_").replace("\\", "_")).strip()[:255]
        media.file_name = name or "upload"
        if not media.title:
            media.title = media.file_name.rsplit(".", 1)[0][:255] or media.file_name
        media.file_size = size
        media.upload_received = size

    def progress(self, media: Media) -> dict[str, object]:
        total = media.upload_expected or media.file_size
        uploaded = media.upload_received
        # An import still being fetched is uploading in all but name.
        fetching = media.source_url is not None and media.file_size is None
        if media.status == MediaStatus.UPLOADING.value or (
            fetching and media.status == MediaStatus.PROCESSING.value
        ):
            upload_percent = int(uploaded * 100 / total) if total else 0
        else:
            upload_percent = 100
        transcode = {"Uploading": 0, "Processing": media.progress, "Done": 100, "Failed": media.progress}
        return {
            "Code": media.code,
            "MediaStatus": media.status,
            "UploadedBytes": uploaded,
            "TotalBytes": total,
            "UploadPercent": min(100, upload_percent),
            "TranscodePercent": transcode.get(media.status, 0),
            "Message": media.failure_reason,
        }

    # --- folders --------------------------------------------------------------------------------

    def folder(self, actor: Actor, code: str) -> Folder:
        folder = self.repo.folder(actor.company_id, code.strip())
        if folder is None:
            raise NotFound(f"Folder {code} not found")
        return folder

    def folder_code(self, folder_id: int | None) -> str:
        if folder_id is None:
            return ""
        folder = self.repo.folder_by_id(folder_id)
        return folder.code if folder else ""

    def folder_page(
        self,
        actor: Actor,
        *,
        code: str = "",
        limit: int | None = None,
        offset: int | None = None,
        sort: str = "",
        direction: str = "",
    ) -> FolderPage:
        """A folder's sub-folders and media (the top level without ``code``), paged together."""
        folder = self.folder(actor, code) if code else None
        limit = 100 if limit is None else limit
        offset = 0 if offset is None else offset
        if not 1 <= limit <= FOLDER_PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {FOLDER_PAGE_MAX}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        sort = (sort or "added").lower()
        if sort not in SORT_COLUMNS:
            raise InvalidInput("sortfield must be name or added", field="sortfield")
        direction = (direction or "asc").lower()
        if direction not in ("asc", "desc"):
            raise InvalidInput("sortdirection must be asc or desc", field="sortdirection")
        folders, medias, total = self.repo.folder_page(
            actor.company_id,
            folder.id if folder else None,
            sort=sort,
            descending=direction == "desc",
            limit=limit,
            offset=offset,
        )
        parents = {f.id: self.folder_code(f.parent_id) for f in folders}
        return FolderPage(folders, self.views(medias), total, parents)

    # --- the operator console (admins of the company) -----------------------------------------

    def console_library(
        self, actor: Actor, *, folder_code: str = "", limit: int = 50, offset: int = 0
    ) -> FolderPage:
        """A page of the company's library, newest first, for the console.

        Raises:
            Forbidden: a plain host.
            NotFound: no such folder.
        """
        AccessPolicy(self.session, actor).require_admin()
        return self.folder_page(
            actor, code=folder_code, limit=limit, offset=offset, sort="added", direction="desc"
        )

    def console_upload(self, actor: Actor, *, title: str, folder_code: str = "") -> tuple[Media, str, str]:
        """A new media waiting for its file, with its signed upload and progress URLs.

        Raises:
            Forbidden: a plain host.
            InvalidInput: a title too long.
            NotFound: no such folder.
        """
        AccessPolicy(self.session, actor).require_admin()
        media = self.create(actor, title=title, folder_code=folder_code)
        return media, self.upload_url(media), self.progress_url(media)

    def create_folder(self, actor: Actor, name: str, parent_code: str = "") -> Folder:
        name = name.strip()
        if not name:
            raise InvalidInput("Parameter 'name' is required", field="name")
        check_length("name", name, 255)
        parent = self.folder(actor, parent_code) if parent_code else None
        folder = Folder(
            company_id=actor.company_id,
            code=self._code(Folder),
            name=name,
            parent_id=parent.id if parent else None,
        )
        self.repo.add(folder)
        self._log_folder("created", actor, folder)
        return folder

    def update_folder(
        self, actor: Actor, folder: Folder, *, name: str | Unset = UNSET, parent_code: str | Unset = UNSET
    ) -> Folder:
        if not isinstance(name, Unset):
            name = name.strip()
            if not name:
                raise InvalidInput("The folder name cannot be empty", field="name")
            check_length("name", name, 255)
            folder.name = name
        if not isinstance(parent_code, Unset):
            parent = self.folder(actor, parent_code) if parent_code else None
            # Walk up from the new parent: meeting the folder itself would make a cycle.
            walker = parent
            while walker is not None:
                if walker.id == folder.id:
                    raise InvalidInput("A folder cannot be moved into itself", field="parent")
                walker = self.repo.folder_by_id(walker.parent_id) if walker.parent_id else None
            folder.parent_id = parent.id if parent else None
        self.session.flush()
        self._log_folder("updated", actor, folder)
        return folder

    def delete_folder(self, actor: Actor, folder: Folder) -> None:
        """Only an empty folder goes: media, sub-folders or conferences in it are never orphaned."""
        if self.repo.folder_in_use(folder.id):
            raise Conflict("The folder is not empty: move or delete what is in it first")
        self._log_folder("deleted", actor, folder)
        self.repo.delete_folder(folder)

    # --- audit ---------------------------------------------------------------------------------------

    def _log(self, action: str, actor_label: str, media: Media, **data: object) -> None:
        log_action(
            self.session,
            f"media.{action}",
            actor=actor_label,
            ref=f"media:{media.id}",
            company_id=media.company_id,
            code=media.code,
            title=media.title,
            status=media.status,
            **data,
        )

    def _log_folder(self, action: str, actor: Actor, folder: Folder) -> None:
        log_action(
            self.session,
            f"folder.{action}",
            actor=actor.label,
            ref=f"folder:{folder.id}",
            company_id=folder.company_id,
            code=folder.code,
        )
