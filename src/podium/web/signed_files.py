"""A file behind a signed, expiring link (recordings, transcripts, stream previews): the service
finds it once the link checks out; a refusal is plain text that no cache keeps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from podium.kit.errors import DomainError
from podium.kit.uow import Context, run_unit_of_work
from podium.web.errors import PLAYBACK_STATUS_BY_CODE


async def signed_file(
    request: Request, find: Callable[[Context], tuple[Path, str]], headers: dict[str, str]
) -> Response:
    """The file ``find`` names (its path and media type), seekable, with ``headers``."""
    try:
        path, media_type = await run_unit_of_work(request, find)
    except DomainError as error:
        return PlainTextResponse(
            error.message,
            status_code=PLAYBACK_STATUS_BY_CODE[error.code],
            headers={"Cache-Control": "no-store"},
        )
    return FileResponse(path, media_type=media_type, headers=headers)
