"""A meeting's recording and transcript files, through their signed, expiring links."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from podium.domain.recordings.service import RecordingService
from podium.kit.uow import Context
from podium.web.openapi import files
from podium.web.signed_files import signed_file

router = APIRouter(tags=["recordings"])

FILE_ANSWERS = files("application/octet-stream")


@router.get("/recordings/{recording_id}/{file_name}", responses=FILE_ANSWERS)
async def recording_file(request: Request, recording_id: int, file_name: str, token: str = "") -> Response:
    """A recording (MP4 or MP3) or its transcript (WebVTT or text); seekable (byte ranges)."""

    def find(ctx: Context) -> tuple[Path, str]:
        return RecordingService(ctx.session, ctx.settings).file_for_link(recording_id, file_name, token)

    return await signed_file(
        request, find, {"Cache-Control": "private, max-age=300", "Access-Control-Allow-Origin": "*"}
    )
