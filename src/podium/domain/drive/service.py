"""Drive: a host's files. Uploads go to a signed, expiring URL of this server and stream to disk;
finishing an upload inspects the file (PDF page count with pypdf, images as one page)."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.audit.service import log_action
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


class DriveService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    @property
    def root(self) -> Path:
        return self.settings.data_dir / "drive"

    def path(self, file: DriveFile) -> Path:
        return self.root / file.storage_key

    def create(self, host: Host, filename: str) -> DriveFile:
        name = _SAFE_NAME.sub("_", filename.strip().replace("/", "_").replace("\\", "_"))[:255]
        if not name or name in (".", ".."):
            raise InvalidInput("filename is required", field="filename")
        file = DriveFile(
            company_id=host.company_id, host_id=host.id, filename=name, storage_key=secrets.token_hex(16)
        )
        self.session.add(file)
        self.session.flush()
        self._log("file_created", host, file)
        return file

    def get(self, host: Host, file_id: int) -> DriveFile:
        file = self.session.get(DriveFile, file_id)
        if file is None or file.host_id != host.id or file.deleted_at is not None:
            raise NotFound("File not found")
        return file

    def page(self, host: Host, page: int) -> tuple[Sequence[DriveFile], int]:
        """One page of the host's finished files, newest first, and the page count."""
        if page < 1:
            raise InvalidInput("page must be 1 or more", field="page")
        where = (
            DriveFile.host_id == host.id,
            DriveFile.deleted_at.is_(None),
            DriveFile.finished_at.is_not(None),
        )
        total = int(self.session.scalar(select(func.count(DriveFile.id)).where(*where)) or 0)
        stmt = select(DriveFile).where(*where).order_by(DriveFile.id.desc()).offset((page - 1) * PAGE_SIZE)
        return self.session.scalars(stmt.limit(PAGE_SIZE)).all(), max(1, math.ceil(total / PAGE_SIZE))

    def _signed(self, file: DriveFile, audience: str, path: str) -> str:
        """A link to this file for one purpose, valid for an hour (checked by by_signed_link)."""
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
        return self._signed(file, UPLOAD_AUDIENCE, "upload")

    def download_link(self, file: DriveFile) -> str:
        return self._signed(file, DOWNLOAD_AUDIENCE, "download")

    def by_signed_link(self, file_id: int, token: str, audience: str) -> DriveFile:
        claims = tokens.verify(token, self.settings.signing_key(), audience=audience)
        file = self.session.get(DriveFile, file_id)
        if (
            file is None
            or file.deleted_at is not None
            or claims.get("sub") != str(file_id)
            or claims.get("key") != file.storage_key
        ):
            raise NotFound("File not found")
        return file

    def accept_upload(self, file: DriveFile, size: int) -> None:
        if file.finished_at is not None:
            raise Conflict("The file has already been processed")
        file.size = size
        file.uploaded_at = utcnow()
        self.session.flush()

    def finish(self, host: Host, file_id: int) -> DriveFile:
        """Inspect the uploaded file; a second call is a conflict."""
        file = self.get(host, file_id)
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

    def delete(self, host: Host, file_id: int) -> None:
        file = self.get(host, file_id)
        file.deleted_at = utcnow()
        self.path(file).unlink(missing_ok=True)
        self.session.flush()
        self._log("file_deleted", host, file)


def _pdf_pages(path: Path) -> tuple[int | None, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return len(PdfReader(str(path)).pages), "ready"
    except (PdfReadError, ValueError, OSError, KeyError):
        return None, "failed"
