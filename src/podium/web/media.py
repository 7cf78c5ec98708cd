"""Media files over HTTP: the signed upload and progress URLs, pictures, and playback.

Playback paths carry a signed token (``/play/<token>/<code>/…``); every playlist, segment and file
request is checked on its own (signature, expiry, and the viewer's session: password, window,
preview), so a copied segment URL stops working with its session.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from podium.domain.lives import links as live_links
from podium.domain.lives.paths import hls_dir
from podium.domain.media import links
from podium.domain.media.service import MediaService
from podium.domain.viewing.service import ViewingService
from podium.kit.errors import DomainError, ErrorCode, InvalidInput
from podium.kit.openapi import PLAIN, answer, errors, json_body, merge, status_set
from podium.kit.text import ascii_digits
from podium.kit.uow import Context, run_unit_of_work
from podium.models.live import LIVE_MEDIA_TYPE
from podium.models.media import Media, MediaRendition
from podium.web.errors import PLAYBACK_STATUS_BY_CODE
from podium.web.openapi import RANGES, TOO_LARGE, files, playlist

router = APIRouter(tags=["media"])

CORS = {"Access-Control-Allow-Origin": "*"}
PROGRESS_EVERY_BYTES = 1024 * 1024
SEGMENT_RE = re.compile(r"^seg_\d{5}\.ts$")
LIVE_SEGMENT_RE = re.compile(r"^\d{1,20}$")
LIVE_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")
# What a live's master playlist declares (its encoder decides the real rate; players adapt to it).
LIVE_BANDWIDTH = 2_500_000
STATUS_BY_CODE = PLAYBACK_STATUS_BY_CODE

# Upload and progress answers speak Boomstream's envelope, failures included.
_FAILED = json_body(
    {"type": "object", "properties": {"Status": {"type": "string"}, "Message": {"type": "string"}}}
)
UPLOAD_ANSWERS = merge(
    answer(200, json_body({"type": "object"}), "The file is received"),
    errors(status_set(STATUS_BY_CODE) | {400, 413}, _FAILED),
)
PROGRESS_ANSWERS = merge(
    answer(200, json_body({"type": "object"}), "Upload and transcoding progress"),
    errors(status_set(STATUS_BY_CODE), _FAILED, but=[413]),
    TOO_LARGE,
)
IMAGE_ANSWERS = merge(
    answer(200, {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}),
    RANGES,
    answer(404, PLAIN),
    TOO_LARGE,
)


def _failed(error: DomainError | str, status: int | None = None) -> JSONResponse:
    """Upload and progress answers speak Boomstream's envelope: Status and Message."""
    message = error if isinstance(error, str) else error.message
    code = status or (STATUS_BY_CODE[error.code] if isinstance(error, DomainError) else 400)
    return JSONResponse({"Status": "Failed", "Message": message}, status_code=code, headers=CORS)


# --- upload --------------------------------------------------------------------------------


class _FirstFilePart:
    """Feeds a multipart body to python-multipart and writes the first file part to ``sink``."""

    def __init__(self, boundary: bytes, sink: BinaryIO) -> None:
        self.sink = sink
        self.file_name = ""
        self.written = 0
        self._field = b""
        self._value = b""
        self._disposition = b""
        self._in_file = False
        self._done = False
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if not self._done and b"filename" in options:
            self._in_file = True
            self.file_name = options[b"filename"].decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.sink.write(data[start:end])
            self.written += end - start

    def _part_end(self) -> None:
        if self._in_file:
            self._done = True
        self._in_file = False

    @property
    def found(self) -> bool:
        return self._done or self._in_file


@router.options("/media/upload/{code}", include_in_schema=False)
async def upload_preflight(code: str) -> Response:
    return Response(
        status_code=204,
        headers={
            **CORS,
            "Access-Control-Allow-Methods": "POST, PUT, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Content-Disposition, X-File-Name",
            "Access-Control-Max-Age": "86400",
        },
    )


@router.post("/media/upload/{code}", operation_id="media_upload_post", responses=UPLOAD_ANSWERS)
@router.put("/media/upload/{code}", operation_id="media_upload_put", responses=UPLOAD_ANSWERS)
async def upload(request: Request, code: str, token: str = "") -> Response:
    """Receive a media's file (signed, expiring URL): multipart form or raw body, streamed to disk."""
    settings = request.app.state.settings
    limit = settings.media_max_bytes

    def target(ctx: Context) -> tuple[int, Path]:
        service = MediaService(ctx.session, ctx.settings)
        media = service.by_link(code, token, links.UPLOAD_AUDIENCE)
        service.check_uploadable(media)
        return media.id, service.source_path(media)

    try:
        media_id, source = await run_unit_of_work(request, target)
    except DomainError as error:
        return _failed(error)
    declared = request.headers.get("content-length")
    expected = int(declared) if declared and ascii_digits(declared) else None
    if expected is not None and expected > limit:
        return _failed(f"The file is larger than {limit} bytes", 413)

    source.parent.mkdir(parents=True, exist_ok=True)
    partial = source.with_name(f"source.{secrets.token_hex(4)}.part")
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    multipart = content_type == b"multipart/form-data"
    if multipart and not options.get(b"boundary"):
        return _failed("The multipart upload has no boundary", 400)
    received = 0
    reported = 0
    try:
        with partial.open("wb") as handle:
            part = _FirstFilePart(options[b"boundary"], handle) if multipart else None
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit + 64 * 1024 or (part is None and received > limit):
                    break
                if part is not None:
                    await run_in_threadpool(part.parser.write, chunk)
                else:
                    await run_in_threadpool(handle.write, chunk)
                if received - reported >= PROGRESS_EVERY_BYTES:
                    reported = received
                    await _record_progress(request, media_id, received, expected)
            if part is not None:
                part.parser.finalize()
        size = part.written if part is not None else received
        file_name = (part.file_name if part is not None else "") or _raw_file_name(request)
        if received > limit + 64 * 1024 or size > limit:
            partial.unlink(missing_ok=True)
            return _failed(f"The file is larger than {limit} bytes", 413)
        if part is not None and not part.found:
            partial.unlink(missing_ok=True)
            return _failed("The form has no file", 400)
    except ClientDisconnect:
        partial.unlink(missing_ok=True)
        return _failed("The upload was interrupted", 400)
    except Exception:
        partial.unlink(missing_ok=True)
        raise

    def accept(ctx: Context) -> dict[str, Any]:
        service = MediaService(ctx.session, ctx.settings)
        media = service.by_link(code, token, links.UPLOAD_AUDIENCE)
        service.accept_upload(media, size, file_name)
        # Only the upload that won the state change puts its file in place.
        os.replace(partial, source)
        return {"Status": "Success", "Code": media.code, "MediaStatus": media.status, "FileSize": size}

    try:
        answer = await run_unit_of_work(request, accept)
    except DomainError as error:
        partial.unlink(missing_ok=True)
        return _failed(error)
    return JSONResponse(answer, headers=CORS)


def _raw_file_name(request: Request) -> str:
    name = request.headers.get("x-file-name", "")
    if not name:
        _, options = parse_options_header(request.headers.get("content-disposition", ""))
        name = options.get(b"filename", b"").decode("utf-8", "replace")
    return name


async def _record_progress(request: Request, media_id: int, received: int, expected: int | None) -> None:
    def work(ctx: Context) -> None:
        MediaService(ctx.session, ctx.settings).record_upload_progress(media_id, received, expected)

    await run_unit_of_work(request, work)


@router.get("/media/progress/{code}", responses=PROGRESS_ANSWERS)
async def progress(request: Request, code: str, token: str = "") -> Response:
    """Upload and transcoding progress of a media, as JSON (signed, expiring URL)."""

    def work(ctx: Context) -> dict[str, object]:
        service = MediaService(ctx.session, ctx.settings)
        return service.progress(service.by_link(code, token, links.PROGRESS_AUDIENCE))

    try:
        answer = await run_unit_of_work(request, work)
    except DomainError as error:
        return _failed(error)
    return JSONResponse({**answer, "Status": "Success"}, headers={**CORS, "Cache-Control": "no-store"})


@router.get("/media/images/{image_code}.jpg", responses=IMAGE_ANSWERS)
async def image(request: Request, image_code: str) -> Response:
    """A poster or screenshot (public, like the player's poster)."""

    def work(ctx: Context) -> Path | None:
        return MediaService(ctx.session, ctx.settings).public_image(image_code)

    path = await run_unit_of_work(request, work)
    if path is None or not path.exists():
        return PlainTextResponse("Not found", status_code=404, headers=CORS)
    return FileResponse(
        path, media_type="image/jpeg", headers={**CORS, "Cache-Control": "public, max-age=86400"}
    )


# --- playback ------------------------------------------------------------------------------------


def _play_error(error: DomainError) -> Response:
    status = STATUS_BY_CODE[error.code]
    return PlainTextResponse(error.message, status_code=status, headers={**CORS, "Cache-Control": "no-store"})


async def _authorized(
    request: Request, token: str, code: str, then: Callable[[Context, Media, links.PlayGrant], Any]
) -> Any:
    """Check the token and its session, then run ``then`` with the media and what the token grants."""

    def work(ctx: Context) -> Any:
        grant = links.verify_play(ctx.settings, token, code)
        media = ViewingService(ctx.session, ctx.settings).authorize(grant)
        return then(ctx, media, grant)

    return await run_unit_of_work(request, work)


async def _serve(
    request: Request,
    token: str,
    code: str,
    find: Callable[[Context, Media, links.PlayGrant], Path],
    media_type: str,
) -> Response:
    """A media file after its request is authorized (ranges supported, for seeking in MP4s)."""
    try:
        path = await _authorized(request, token, code, find)
    except DomainError as error:
        return _play_error(error)
    if not path.exists():
        return PlainTextResponse("Not found", status_code=404, headers=CORS)
    return FileResponse(path, media_type=media_type, headers={**CORS, "Cache-Control": "private, max-age=60"})


def _rendition(ctx: Context, media: Media, title: str) -> MediaRendition:
    return MediaService(ctx.session, ctx.settings).rendition(media, title)


@router.get("/play/{token}/{code}/master.m3u8", responses=playlist())
async def master_playlist(request: Request, token: str, code: str) -> Response:
    """The adaptive playlist: every rendition, for the player to choose from."""

    def build(ctx: Context, media: Media, _grant: links.PlayGrant) -> str:
        lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
        if media.media_type == LIVE_MEDIA_TYPE:
            # A live's one rendition is what its encoder sends (passed through, not transcoded).
            return "\n".join([*lines, f"#EXT-X-STREAM-INF:BANDWIDTH={LIVE_BANDWIDTH}", "live.m3u8"]) + "\n"
        for r in MediaService(ctx.session, ctx.settings).renditions(media):
            attributes = f"BANDWIDTH={r.bandwidth}"
            if r.width and r.height:
                attributes += f",RESOLUTION={r.width}x{r.height}"
            attributes += f',CODECS="{r.codecs}"'
            lines += [f"#EXT-X-STREAM-INF:{attributes}", f"{r.title}/index.m3u8"]
        return "\n".join(lines) + "\n"

    try:
        text = await _authorized(request, token, code, build)
    except DomainError as error:
        return _play_error(error)
    return _playlist(text)


@router.get("/play/{token}/{code}/live.m3u8", responses=playlist())
async def live_playlist(request: Request, token: str, code: str) -> Response:
    """A live's playlist, checked like a video's (the viewer's session: paywall, password, window, and
    the live on air); its segments carry a token shared by every viewer for half a minute, so a CDN
    or reverse proxy can answer them from its cache."""

    settings = request.app.state.settings

    def current() -> str:
        return _live_playlist_text(settings, str(hls_dir(settings, code) / "index.m3u8"), code)

    def build(_ctx: Context, media: Media, _grant: links.PlayGrant) -> str:
        if media.media_type != LIVE_MEDIA_TYPE:
            raise InvalidInput("This video is not a live")
        return current()

    try:
        grant = _verified_play(settings, token, code)
        # A session its heartbeats keep admitted is checked in memory, as its beats are (ADR 0009):
        # thousands of players reload this every second.
        if grant.session_id is not None and request.app.state.heartbeats.playing(
            grant.session_id, grant.session_key or "", code
        ):
            text = current()
        else:
            text = await _authorized(request, token, code, build)
    except DomainError as error:
        return _play_error(error)
    return Response(
        text,
        media_type="application/vnd.apple.mpegurl",
        # Checked per viewer at every reload: only the viewer's browser may keep it, for a second.
        headers={**CORS, "Cache-Control": "private, max-age=1"},
    )


@router.get("/live/{window}/{code}/index.m3u8", responses=playlist())
async def live_shared_playlist(request: Request, window: str, code: str) -> Response:
    """A live's playlist at the address every viewer of the window shares (the watch page's, renewed
    by each heartbeat of a session allowed to watch): no session or database here, so a CDN or
    reverse proxy may keep it for a second and answer everyone."""
    if not LIVE_CODE_RE.match(code):
        return PlainTextResponse("Not found", status_code=404, headers=CORS)
    settings = request.app.state.settings
    try:
        live_links.check_segment_token(settings, window, code)
        text = _live_playlist_text(settings, str(hls_dir(settings, code) / "index.m3u8"), code)
    except DomainError as error:
        return _play_error(error)
    shared = {**CORS, "Cache-Control": "public, max-age=1"}
    return Response(text, media_type="application/vnd.apple.mpegurl", headers=shared)


@router.get("/live/{window}/{code}/{name}.ts", responses=files("video/mp2t"))
async def live_segment(request: Request, window: str, code: str, name: str) -> Response:
    """A live's segment: its window token is checked (no session, no database), so one cached copy
    answers every viewer until the token's window closes."""
    if not LIVE_SEGMENT_RE.match(name) or not LIVE_CODE_RE.match(code):
        return PlainTextResponse("Not found", status_code=404, headers=CORS)
    try:
        left = live_links.check_segment_token(request.app.state.settings, window, code)
    except DomainError as error:
        return _play_error(error)
    content = _live_segments.get(hls_dir(request.app.state.settings, code) / f"{name}.ts")
    if content is None:
        return PlainTextResponse("Not found", status_code=404, headers={**CORS, "Cache-Control": "no-store"})
    return Response(
        content,
        media_type="video/mp2t",
        # Public: the same URL (and bytes) for every viewer of the window, never after it.
        headers={**CORS, "Cache-Control": f"public, max-age={max(1, min(left, 60))}"},
    )


_verified: OrderedDict[tuple[str, str], tuple[links.PlayGrant, int]] = OrderedDict()
VERIFIED_MAX = 20_000


def _verified_play(settings: Any, token: str, code: str) -> links.PlayGrant:
    """``links.verify_play``, remembered until the token's expiry: a player reloads a live's playlist
    every second with the same token (renewed every heartbeat), and checking an HS256 signature cost
    more than the rest of the request."""
    key = (token, code)
    known = _verified.get(key)
    if known is not None and known[1] > live_links.now_epoch():
        return known[0]
    grant = links.verify_play(settings, token, code)
    # Its claims are ours (just verified): only the expiry is read again.
    expiry = jwt.decode(token, options={"verify_signature": False}).get("exp")
    _verified[key] = (grant, int(expiry) if isinstance(expiry, int) else 0)
    while len(_verified) > VERIFIED_MAX:
        _verified.popitem(last=False)
    return grant


class _SegmentCache:
    """The newest live segments in memory (a segment's name is its creation time in milliseconds and
    its file is never rewritten, so a copy stays right): every viewer fetches the same few files."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.size = 0
        self.entries: OrderedDict[Path, bytes] = OrderedDict()

    def get(self, path: Path) -> bytes | None:
        found = self.entries.get(path)
        if found is not None:
            self.entries.move_to_end(path)
            return found
        try:
            # Written by the RTMP server a moment ago: in the page cache, read in microseconds.
            content = path.read_bytes()
        except OSError:
            return None
        self.entries[path] = content
        self.size += len(content)
        while self.size > self.budget and len(self.entries) > 1:
            _, dropped = self.entries.popitem(last=False)
            self.size -= len(dropped)
        return content


_live_segments = _SegmentCache(64 * 1024 * 1024)


@router.get("/play/{token}/{code}/{title}/index.m3u8", responses=playlist())
async def rendition_playlist(request: Request, token: str, code: str, title: str) -> Response:
    """One rendition's segments; a preview ends after its seconds."""

    def build(ctx: Context, media: Media, grant: links.PlayGrant) -> str:
        _rendition(ctx, media, title)
        path = MediaService(ctx.session, ctx.settings).output_dir(media) / "hls" / title / "index.m3u8"
        return _playlist_text(path, grant.preview_seconds)

    try:
        text = await _authorized(request, token, code, build)
    except DomainError as error:
        return _play_error(error)
    return _playlist(text)


@router.get("/play/{token}/{code}/{title}/{segment}", responses=files("video/mp2t"))
async def segment(request: Request, token: str, code: str, title: str, segment: str) -> Response:
    """One HLS segment, checked like its playlist (a preview cannot fetch past its end)."""
    if not SEGMENT_RE.match(segment):
        return PlainTextResponse("Not found", status_code=404, headers=CORS)

    def find(ctx: Context, media: Media, grant: links.PlayGrant) -> Path:
        _rendition(ctx, media, title)
        directory = MediaService(ctx.session, ctx.settings).output_dir(media) / "hls" / title
        if grant.preview_seconds is not None:
            starts = _segment_starts(directory / "index.m3u8")
            if starts.get(segment, float("inf")) >= grant.preview_seconds:
                raise PreviewOver("The preview of this video has ended")
        return directory / segment

    return await _serve(request, token, code, find, "video/mp2t")


@router.get("/play/{token}/{code}/{title}.mp4", responses=files("video/mp4"))
async def progressive(request: Request, token: str, code: str, title: str) -> Response:
    """A rendition as one MP4 file (Boomstream ``PseudoMP4``); not for previews."""

    def find(ctx: Context, media: Media, grant: links.PlayGrant) -> Path:
        if grant.preview_seconds is not None:
            raise PreviewOver("The preview plays as HLS only")
        _rendition(ctx, media, title)
        return MediaService(ctx.session, ctx.settings).output_dir(media) / "mp4" / f"{title}.mp4"

    return await _serve(request, token, code, find, "video/mp4")


@router.get("/play/{token}/{code}/original", responses=files("application/octet-stream"))
async def original(request: Request, token: str, code: str) -> Response:
    """The uploaded file: the owner's download link, or a buyer's when the paywall allows it."""
    # A buyer may download once watched to the end: count this process's last beats first.
    await run_in_threadpool(request.app.state.heartbeats.flush)

    def find(ctx: Context, media: Media, grant: links.PlayGrant) -> tuple[Path, str]:
        if grant.session_id is not None and not ViewingService(ctx.session, ctx.settings).download_allowed(
            grant.session_id, media
        ):
            raise PreviewOver("Downloading this video is not allowed")
        return MediaService(ctx.session, ctx.settings).source_path(media), media.file_name or media.code

    try:
        path, name = await _authorized(request, token, code, find)
    except DomainError as error:
        return _play_error(error)
    if not path.exists():
        return PlainTextResponse("Not found", status_code=404, headers=CORS)
    return FileResponse(path, filename=name, headers={**CORS, "Cache-Control": "private, no-store"})


class PreviewOver(DomainError):
    code = ErrorCode.ACCESS_DENIED


def _playlist(text: str) -> Response:
    return Response(
        text,
        media_type="application/vnd.apple.mpegurl",
        headers={**CORS, "Cache-Control": "no-store"},
    )


def _playlist_text(path: Path, preview: int | None) -> str:
    text = _read_playlist(str(path), path.stat().st_mtime if path.exists() else 0.0)
    if preview is None:
        return text
    kept: list[str] = []
    elapsed = 0.0
    duration = 0.0
    for line in text.splitlines():
        if line.startswith("#EXT-X-ENDLIST"):
            continue
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0] or 0)
            if elapsed >= preview:
                break
            kept.append(line)
            continue
        if line and not line.startswith("#"):
            kept.append(line)
            elapsed += duration
            continue
        kept.append(line)
    return "\n".join(kept + ["#EXT-X-ENDLIST"]) + "\n"


_rewritten_playlists: OrderedDict[tuple[str, float, str], str] = OrderedDict()


def _live_playlist_text(settings: Any, path: str, code: str) -> str:
    """The RTMP server's playlist with each segment at its signed, shared address: a token made from
    the segment's own time (its name, epoch milliseconds), so one segment keeps one address across
    reloads and windows (links.segment_token_at). One rewrite per playlist version, whatever the
    number of viewers."""
    try:
        mtime = Path(path).stat().st_mtime
        key = (path, mtime, code)
        known = _rewritten_playlists.get(key)
        if known is not None:
            return known
        text = Path(path).read_text()
    except OSError:
        raise NotOnAir("This live is not on air") from None

    def address(line: str) -> str:
        name = line.removesuffix(".ts")
        made_at = int(name) // 1000 if LIVE_SEGMENT_RE.match(name) else live_links.now_epoch()
        return f"/live/{live_links.segment_token_at(settings, code, made_at)}/{code}/{line}"

    lines = [address(line) if line and not line.startswith("#") else line for line in text.splitlines()]
    rewritten = "\n".join(lines) + "\n"
    _rewritten_playlists[key] = rewritten
    while len(_rewritten_playlists) > 1024:
        _rewritten_playlists.popitem(last=False)
    return rewritten


class NotOnAir(DomainError):
    code = ErrorCode.NOT_FOUND


@lru_cache(maxsize=512)
def _read_playlist(path: str, _mtime: float) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        raise InvalidInput("This video is not available") from None


def _segment_starts(path: Path) -> dict[str, float]:
    starts: dict[str, float] = {}
    elapsed = 0.0
    duration = 0.0
    for line in _read_playlist(str(path), path.stat().st_mtime if path.exists() else 0.0).splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0] or 0)
        elif line and not line.startswith("#"):
            starts[line] = elapsed
            elapsed += duration
    return starts
