"""A meeting's recording and transcript files, through their signed, expiring links."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from podium.domain.recordings.service import RecordingService
from podium.kit.errors import DomainError
from podium.kit.uow import Context, run_unit_of_work
from podium.web.errors import PLAYBACK_STATUS_BY_CODE
from podium.web.openapi import files

router = APIRouter(tags=["recordings"])

FILE_ANSWERS = files("application/octet-stream")


@router.get("/recordings/{recording_id}/{file_name}", responses=FILE_ANSWERS)
async def recording_file(request: Request, recording_id: int, file_name: str, token: str = "") -> Response:
    """A recording (MP4 or MP3) or its transcript (WebVTT or text); seekable (byte ranges)."""

    def find(ctx: Context) -> tuple[Path, str]:
        return RecordingService(ctx.session, ctx.settings).file_for_link(recording_id, file_name, token)

    try:
        path, media_type = await run_unit_of_work(request, find)
    except DomainError as error:
        return PlainTextResponse(
            error.message,
            status_code=PLAYBACK_STATUS_BY_CODE[error.code],
            headers={"Cache-Control": "no-store"},
        )
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=300", "Access-Control-Allow-Origin": "*"},
    )
