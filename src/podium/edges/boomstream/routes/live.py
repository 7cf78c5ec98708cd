"""Boomstream lives (our extension, shaped like the media group): create, info, list, update,
delete and reset_key.

A live answers the media object (``Type`` live, ``OnlineStatus``, ``RecordStatus``, ``Concurrent``)
plus what an encoder needs: ``IngestUrl`` (the rtmp:// server) and ``StreamKey`` — shown on create
and reset_key only (Podium keeps its hash), with ``PublishKey`` the same value (Boomstream's name).
"""

from __future__ import annotations

from typing import Any

from podium.domain.conferences.service import UNSET
from podium.domain.lives.service import LiveService, LiveView
from podium.edges.boomstream.methods import Call, Method, Param
from podium.edges.boomstream.params import given_text, integer
from podium.edges.boomstream.routes.media import media_fields
from podium.edges.common import MethodSpec


def _lives(call: Call) -> LiveService:
    return LiveService(call.ctx.session, call.ctx.settings)


def _moment(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def live_fields(view: LiveView) -> dict[str, Any]:
    """The media object of a live, with its ingest address, key (when shown) and broadcast state."""
    fields = media_fields(view.media)
    status = view.status
    fields.update(
        {
            "PublishKey": view.stream_key,
            "IngestUrl": view.ingest_url,
            "StreamKey": view.stream_key,
            "LiveStatus": status.state,
            "RecordCode": status.record_code,
            "StartedAt": _moment(view.live.started_at),
            "EndedAt": _moment(view.live.ended_at) if not status.on_air else "",
        }
    )
    return fields


def _folder(call: Call) -> str:
    return call.params.text("folder").strip() or call.params.text("folderCode").strip()


def create(call: Call) -> dict[str, Any]:
    service = _lives(call)
    live, media, key = service.create(
        call.actor,
        title=call.params.text("title"),
        description=call.params.text("description"),
        folder_code=_folder(call),
    )
    return live_fields(service.view(live, media, stream_key=key))


def info(call: Call) -> dict[str, Any]:
    service = _lives(call)
    live, media = service.get(call.actor, call.params.required("code"))
    return live_fields(service.view(live, media))


def list_lives(call: Call) -> dict[str, Any]:
    service = _lives(call)
    rows, total = service.page(
        call.actor, limit=integer(call.params, "limit"), offset=integer(call.params, "offset")
    )
    return {"countTotal": total, "Lives": [live_fields(service.view(live, media)) for live, media in rows]}


def update(call: Call) -> dict[str, Any]:
    service = _lives(call)
    folder = given_text(call.params, "folder")
    if isinstance(folder, str):
        folder = folder.strip()
    elif "folderCode" in call.params:
        folder = call.params.text("folderCode").strip()
    live, media = service.update(
        call.actor,
        call.params.required("code"),
        title=given_text(call.params, "title"),
        description=given_text(call.params, "description"),
        folder_code=folder if isinstance(folder, str) else UNSET,
    )
    return live_fields(service.view(live, media))


def delete(call: Call) -> dict[str, Any]:
    _lives(call).delete(call.actor, call.params.required("code"))
    return {"Message": "Live is deleted"}


def reset_key(call: Call) -> dict[str, Any]:
    service = _lives(call)
    live, media, key = service.reset_key(call.actor, call.params.required("code"))
    return live_fields(service.view(live, media, stream_key=key))


CODE = Param("code", "Live code", required=True)

METHODS: tuple[MethodSpec, ...] = (
    Method(
        "live/create",
        "A new live: its rtmp:// ingest address and stream key (shown this once)",
        create,
        (
            Param("title", "Title", required=True),
            Param("description", "Description"),
            Param("folder", "Folder code"),
        ),
    ),
    Method("live/info", "A live: on-air state, viewers now, recording (no stream key)", info, (CODE,)),
    Method(
        "live/list",
        "The project's lives, newest first, paged",
        list_lives,
        (
            Param("limit", "Items per page (1-1000, default 100)"),
            Param("offset", "Items to skip"),
        ),
    ),
    Method(
        "live/update",
        "Update title, description, folder",
        update,
        (
            CODE,
            Param("title", "Title (not empty)"),
            Param("description", "Description"),
            Param("folder", "Folder code; empty moves the live to the top"),
        ),
    ),
    Method(
        "live/delete",
        "Delete a live (an encoder on air is dropped within seconds; nothing more is recorded)",
        delete,
        (CODE,),
    ),
    Method(
        "live/reset_key",
        "A new stream key (shown this once); an encoder on air with the old one is dropped",
        reset_key,
        (CODE,),
    ),
)
