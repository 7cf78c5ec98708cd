"""Iotum enterprise API: drive files: signed uploads and downloads."""

from __future__ import annotations

from podium.domain.drive.service import DriveService
from podium.edges.iotum import present
from podium.edges.iotum.routes_base import Answer, Call, Endpoint
from podium.models.tenancy import Host


def _drive(call: Call) -> tuple[DriveService, Host]:
    return DriveService(call.ctx.session, call.ctx.settings), call.policy.host(call.host_id())


def drive_fetch_all(call: Call) -> Answer:
    drive, host = _drive(call)
    page = call.body.int_("page", required=False) or 1
    files, total_pages = drive.page(host, page)
    return Answer(
        {
            "files": [present.drive_file_brief(f) for f in files],
            "total_pages": total_pages,
            "current_page": page,
            "next_page": page + 1 if page < total_pages else None,
        }
    )


def drive_create(call: Call) -> Answer:
    drive, host = _drive(call)
    file = drive.create(host, call.body.str_("filename", required=True))
    return Answer(
        {"id": file.id, "upload_url": drive.upload_url(file), "download_link": drive.download_link(file)}
    )


def drive_file_fetch(call: Call) -> Answer:
    drive, host = _drive(call)
    file = drive.get(host, call.body.id_("id"))
    return Answer(present.drive_file(file, drive.download_link(file)))


def drive_finish_upload(call: Call) -> Answer:
    drive, host = _drive(call)
    file = drive.finish(host, call.body.id_("id"))
    return Answer(present.drive_file(file, drive.download_link(file)))


def drive_file_delete(call: Call) -> Answer:
    drive, host = _drive(call)
    drive.delete(host, call.body.id_("id"))
    return Answer(None, status=204)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("drive/fetch_all", "A host's drive files, 20 per page", drive_fetch_all, "read"),
    Endpoint("drive/create", "A new drive file and its signed upload URL", drive_create, "write"),
    Endpoint("drive/file/fetch", "A drive file", drive_file_fetch, "read"),
    Endpoint("drive/file/finish_upload", "Process an uploaded file", drive_finish_upload, "write"),
    Endpoint("drive/file/delete", "Delete a drive file (204)", drive_file_delete, "write"),
)
