"""Drive file transfer: the signed upload URL (PUT, streamed to disk) and the signed download link."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.domain.drive.service import Download, DriveService
from podium.kit.errors import DomainError
from podium.kit.openapi import MESSAGE, answer, errors, json_body, merge, status_set
from podium.kit.uow import Context, run_unit_of_work
from podium.web.errors import STATUS_BY_CODE, status_for
from podium.web.openapi import RANGES, TOO_LARGE

router = APIRouter(tags=["drive"])

_ERRORS = errors(status_set(STATUS_BY_CODE), json_body(MESSAGE), but=[413])
UPLOAD_ANSWERS = merge(answer(200, None, "The file is stored"), _ERRORS, TOO_LARGE)
DOWNLOAD_ANSWERS = merge(
    answer(200, {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}),
    RANGES,
    _ERRORS,
    TOO_LARGE,
)


def _error(error: DomainError) -> JSONResponse:
    status = status_for(error)
    return JSONResponse({"message": error.message}, status_code=status)


@router.put("/drive/upload/{file_id}", responses=UPLOAD_ANSWERS)
async def upload(request: Request, file_id: int, token: str = "") -> Response:
    """Receive a drive file's bytes (signed, expiring URL; size-limited; streamed to disk)."""
    settings = request.app.state.settings

    def target(ctx: Context) -> Path:
        return DriveService(ctx.session, ctx.settings).upload_target(file_id, token)

    try:
        path = await run_unit_of_work(request, target)
    except DomainError as error:
        return _error(error)
    limit = settings.drive_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return JSONResponse({"message": f"The file is larger than {limit} bytes"}, status_code=413)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    size = 0
    with partial.open("wb") as handle:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                break
            await run_in_threadpool(handle.write, chunk)
    if size > limit:
        partial.unlink(missing_ok=True)
        return JSONResponse({"message": f"The file is larger than {limit} bytes"}, status_code=413)
    os.replace(partial, path)

    def record(ctx: Context) -> None:
        DriveService(ctx.session, ctx.settings).accept_upload(file_id, token, size)

    try:
        await run_unit_of_work(request, record)
    except DomainError as error:
        return _error(error)
    return Response(status_code=200)


@router.get("/drive/download/{file_id}", responses=DOWNLOAD_ANSWERS)
async def download(request: Request, file_id: int, token: str = "") -> Response:
    """A drive file through its signed, expiring link."""

    def find(ctx: Context) -> Download:
        return DriveService(ctx.session, ctx.settings).download(file_id, token)

    try:
        found = await run_unit_of_work(request, find)
    except DomainError as error:
        return _error(error)
    if not found.path.exists():
        return JSONResponse({"message": "File not found"}, status_code=404)
    return FileResponse(found.path, media_type=found.mimetype, filename=found.filename)
