"""Iotum enterprise API: drive files: signed uploads and downloads."""

from __future__ import annotations

from podium.domain.drive.service import PAGE_SIZE, DriveService
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.routes.hosts import OWN_HOST_ID
from podium.edges.iotum.routes_base import INTEGER, TEXT, Answer, Call, Endpoint

FILE_ID = Param("id", "Drive file id", required=True, schema=INTEGER)


def _drive(call: Call) -> DriveService:
    return DriveService(call.ctx.session, call.ctx.settings)


def drive_fetch_all(call: Call) -> Answer:
    """A host's drive files, 20 per page."""
    result = _drive(call).files(call.actor, call.host_id(), call.body.int_("page", required=False) or 1)
    return Answer(
        {
            "files": [present.drive_file_brief(f) for f in result.files],
            "total_pages": result.total_pages,
            "current_page": result.page,
            "next_page": result.page + 1 if result.page < result.total_pages else None,
        }
    )


def drive_create(call: Call) -> Answer:
    """A new drive file and its signed upload URL."""
    drive = _drive(call)
    file = drive.start_upload(call.actor, call.host_id(), call.body.str_("filename"))
    return Answer(
        {"id": file.id, "upload_url": drive.upload_url(file), "download_link": drive.download_link(file)}
    )


def drive_file_fetch(call: Call) -> Answer:
    """A drive file."""
    drive = _drive(call)
    file = drive.fetch(call.actor, call.host_id(), call.body.id_("id"))
    return Answer(present.drive_file(file, drive.download_link(file)))


def drive_finish_upload(call: Call) -> Answer:
    """Process an uploaded file."""
    drive = _drive(call)
    file = drive.finish_upload(call.actor, call.host_id(), call.body.id_("id"))
    return Answer(present.drive_file(file, drive.download_link(file)))


def drive_file_delete(call: Call) -> Answer:
    """Delete a drive file (204)."""
    _drive(call).delete(call.actor, call.host_id(), call.body.id_("id"))
    return Answer(None, status=204)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "drive/fetch_all",
        "A host's drive files, 20 per page",
        drive_fetch_all,
        "read",
        params=(OWN_HOST_ID, Param("page", f"Page, from 1 ({PAGE_SIZE} files per page)", schema=INTEGER)),
    ),
    Endpoint(
        "drive/create",
        "A new drive file and its signed upload URL",
        drive_create,
        "write",
        params=(
            OWN_HOST_ID,
            Param("filename", "File name, such as presentation.pdf", required=True, schema=TEXT),
        ),
    ),
    Endpoint("drive/file/fetch", "A drive file", drive_file_fetch, "read", params=(OWN_HOST_ID, FILE_ID)),
    Endpoint(
        "drive/file/finish_upload",
        "Process an uploaded file",
        drive_finish_upload,
        "write",
        params=(OWN_HOST_ID, FILE_ID),
    ),
    Endpoint(
        "drive/file/delete",
        "Delete a drive file (204)",
        drive_file_delete,
        "write",
        params=(OWN_HOST_ID, FILE_ID),
        ok=204,
    ),
)
