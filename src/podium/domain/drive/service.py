"""Drive: a host's files. Uploads go to a signed, expiring URL of this server and stream to disk;
finishing an upload inspects the file (PDF page count with pypdf, images as one page)."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.drive.repository import DriveRepository
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.links import Links
from podium.models.activity import DriveFile
from podium.models.tenancy import Host

PAGE_SIZE = 20
UPLOAD_AUDIENCE = "podium:drive-upload"
DOWNLOAD_AUDIENCE = "podium:drive-download"
LINK_LIFETIME = timedelta(hours=1)
_SAFE_NAME = re.compile(r"[^\w.\- ()]+")
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class DrivePage:
    """One page of a host's finished files, newest first."""

    files: Sequence[DriveFile]
    page: int
    total_pages: int


@dataclass(frozen=True)
class Download:
    """What the signed download link serves."""

    path: Path
    filename: str
    mimetype: str


class DriveService:
    """A host's drive files.

    The API methods (``files``, ``start_upload``, ``fetch``, ``finish_upload``, ``delete``) take the
    actor and the host's id and check the host through the access policy. The signed links
    (``upload_target``, ``accept_upload``, ``download``) are authorised by their token. ``create``
    is trusted (set-up; the host is already checked); ``upload_url`` and ``download_link`` build
    links for a file the caller holds.
    """

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = DriveRepository(session)

    @property
    def root(self) -> Path:
        return self.settings.data_dir / "drive"

    def path(self, file: DriveFile) -> Path:
        return self.root / file.storage_key

    def _host(self, actor: Actor, host_id: int) -> Host:
        return AccessPolicy(self.session, actor).host(host_id)

    # --- the API: the actor's scope is checked here ------------------------------------------

    def files(self, actor: Actor, host_id: int, page: int = 1) -> DrivePage:
        """One page (20 files) of a host's finished files, newest first.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host does not exist.
            InvalidInput: a page below 1.
        """
        host = self._host(actor, host_id)
        if page < 1:
            raise InvalidInput("page must be 1 or more", field="page")
        files, total = self.repo.finished_page(host.id, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        return DrivePage(files, page, max(1, math.ceil(total / PAGE_SIZE)))

    def start_upload(self, actor: Actor, host_id: int, filename: str) -> DriveFile:
        """A new, empty file of the host; its ``upload_url`` takes the bytes.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host does not exist.
            InvalidInput: no usable file name.
        """
        return self.create(self._host(actor, host_id), filename)

    def fetch(self, actor: Actor, host_id: int, file_id: int) -> DriveFile:
        """A live file of the host.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host, or the file in its drive, does not exist.
        """
        return self._get(self._host(actor, host_id), file_id)

    def finish_upload(self, actor: Actor, host_id: int, file_id: int) -> DriveFile:
        """Inspect the uploaded file (type, PDF page count); a second call is a conflict.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host, or the file in its drive, does not exist.
            Conflict: the file has already been processed.
            InvalidInput: nothing has been uploaded yet.
        """
        host = self._host(actor, host_id)
        file = self._get(host, file_id)
        if file.finished_at is not None:
            raise Conflict("The file has already been processed")
        path = self.path(file)
        if file.uploaded_at is None or not path.exists():
            raise InvalidInput("Nothing has been uploaded to this file yet", field="id")
        with path.open("rb") as handle:
            head = handle.read(16)
        file.mimetype = next(
            (mime for magic, mime in SIGNATURES if head.startswith(magic)), "application/octet-stream"
        )
        if file.mimetype == "application/pdf":
            file.page_count, file.presentation_status = _pdf_pages(path)
        elif file.mimetype.startswith("image/"):
            file.page_count, file.presentation_status = 1, "ready"
        else:
            file.page_count, file.presentation_status = None, "unsupported"
        file.size = path.stat().st_size
        file.finished_at = utcnow()
        self.session.flush()
        self._log("file_uploaded", host, file, size=file.size)
        return file

    def delete(self, actor: Actor, host_id: int, file_id: int) -> None:
        """Delete a file of the host, bytes included.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host, or the file in its drive, does not exist.
        """
        host = self._host(actor, host_id)
        file = self._get(host, file_id)
        file.deleted_at = utcnow()
        self.path(file).unlink(missing_ok=True)
        self.session.flush()
        self._log("file_deleted", host, file)

    # --- signed links: the token is the authority ---------------------------------------------

    def upload_target(self, file_id: int, token: str) -> Path:
        """Where the bytes sent to a signed upload URL go.

        Raises:
            InvalidInput: the token is invalid or expired (kit.tokens' errors).
            NotFound: the file is gone or the token is for another file.
            Conflict: the file has already been processed.
        """
        file = self._by_signed_link(file_id, token, UPLOAD_AUDIENCE)
        if file.finished_at is not None:
            raise Conflict("The file has already been processed")
        return self.path(file)

    def accept_upload(self, file_id: int, token: str, size: int) -> None:
        """Record that ``size`` bytes arrived through the signed upload URL.

        Raises:
            NotFound: the file is gone or the token is for another file.
            Conflict: the file has already been processed.
        """
        file = self._by_signed_link(file_id, token, UPLOAD_AUDIENCE)
        if file.finished_at is not None:
            raise Conflict("The file has already been processed")
        file.size = size
        file.uploaded_at = utcnow()
        self.session.flush()

    def download(self, file_id: int, token: str) -> Download:
        """The file a signed download link names.

        Raises:
            NotFound: the file is gone or the token is for another file.
        """
        file = self._by_signed_link(file_id, token, DOWNLOAD_AUDIENCE)
        return Download(self.path(file), file.filename, file.mimetype or "application/octet-stream")

    def _by_signed_link(self, file_id: int, token: str, audience: str) -> DriveFile:
        claims = tokens.verify(token, self.settings.signing_key(), audience=audience)
        file = self.repo.by_id(file_id)
        if (
            file is None
            or file.deleted_at is not None
            or claims.get("sub") != str(file_id)
            or claims.get("key") != file.storage_key
        ):
            raise NotFound("File not found")
        return file

    # --- trusted and links ---------------------------------------------------------------------

    def create(self, host: Host, filename: str) -> DriveFile:
        """A new, empty file of a host the caller has checked.

        Raises:
            InvalidInput: no usable file name.
        """
        name = _SAFE_NAME.sub("_", filename.strip().replace("/", "_").replace("\\", "_"))[:255]
        if not name or name in (".", ".."):
            raise InvalidInput("filename is required", field="filename")
        file = DriveFile(
            company_id=host.company_id, host_id=host.id, filename=name, storage_key=secrets.token_hex(16)
        )
        self.repo.add(file)
        self._log("file_created", host, file)
        return file

    def _get(self, host: Host, file_id: int) -> DriveFile:
        file = self.repo.by_id(file_id)
        if file is None or file.host_id != host.id or file.deleted_at is not None:
            raise NotFound("File not found")
        return file

    def _signed(self, file: DriveFile, audience: str, path: str) -> str:
        """A link to this file for one purpose, valid for an hour (checked by _by_signed_link)."""
        token = tokens.sign(
            {"aud": audience, "sub": str(file.id), "key": file.storage_key},
            self.settings.signing_key(),
            expires_at=utcnow() + LINK_LIFETIME,
        )
        return Links(self.settings).drive(path, file.id, token)

    def _log(self, action: str, host: Host, file: DriveFile, **data: object) -> None:
        log_action(
            self.session,
            f"drive.{action}",
            actor=f"host:{host.id}",
            ref=f"drive_file:{file.id}",
            company_id=host.company_id,
            **data,
        )

    def upload_url(self, file: DriveFile) -> str:
        """The signed, hour-long URL that takes the file's bytes (PUT)."""
        return self._signed(file, UPLOAD_AUDIENCE, "upload")

    def download_link(self, file: DriveFile) -> str:
        """The signed, hour-long link that serves the file."""
        return self._signed(file, DOWNLOAD_AUDIENCE, "download")


def _pdf_pages(path: Path) -> tuple[int | None, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return len(PdfReader(str(path)).pages), "ready"
    except (PdfReadError, ValueError, OSError, KeyError):
        return None, "failed"
