"""Boomstream media group: upload, info, bulkinfo, update, delete, and folders."""

from __future__ import annotations

from typing import Any

from podium.domain.conferences.service import UNSET
from podium.domain.media.service import MediaService, MediaView
from podium.edges.boomstream.methods import Call, Method, Param
from podium.edges.boomstream.params import TIME_FORMAT, given_text, integer
from podium.edges.common import MethodSpec
from podium.kit.errors import InvalidInput
from podium.models.conference import Folder


def _media(call: Call) -> MediaService:
    return MediaService(call.ctx.session, call.ctx.settings)


def _image(view: MediaView, image: Any) -> dict[str, Any]:
    return {
        "Code": image.code,
        "Width": image.width,
        "Height": image.height,
        "Url": view.image_urls.get(image.code, ""),
    }


def media_fields(view: MediaView, *, full: bool = True) -> dict[str, Any]:
    """The media object of NOTES.md and the PPV samples (``full=False``: the older, shorter one)."""
    media = view.media
    created = media.created_at.strftime(TIME_FORMAT)
    live = view.live  # a live's on-air state, recording and viewers now (routes/live.py)
    fields: dict[str, Any] = {
        "Title": media.title,
        "Code": media.code,
        "PublishKey": "",
        "OnlineStatus": "True" if live and live.on_air else "False",
        "RecordStatus": live.record_status if live else "False",
        "Concurrent": live.viewers if live else 0,
        "CreationDate": created,
        "CreatedAt": created,
        "Type": media.media_type,
        "Width": media.width or 0,
        "Height": media.height or 0,
        "FileSize": media.file_size or 0,
        "FileName": media.file_name,
        "MediaStatus": media.status,
        "Duration": round(media.duration) if media.duration else 0,
        "Description": media.description,
        "FolderCode": view.folder_code,
    }
    if media.failure_reason:
        fields["Reason"] = media.failure_reason
    if not full:
        return fields
    poster = view.poster
    fields.update(
        {
            "PlayerLink": view.player_link,
            "PlayerCode": view.player_code,
            "DownloadLink": view.download_link,
            "Poster": _image(view, poster) if poster else None,
            "Transcodes": [
                {
                    "Code": r.code,
                    "Title": r.title,
                    "Width": r.width,
                    "Height": r.height,
                    "PseudoMP4": view.rendition_links[r.title][0],
                    "AppleHLS": view.rendition_links[r.title][1],
                }
                for r in view.renditions
            ],
            "Adaptive": {"AppleHLS": view.adaptive_hls},
            "Screenshots": [_image(view, s) for s in view.screenshots],
        }
    )
    return fields


def folder_fields(folder: Folder, parent_code: str) -> dict[str, Any]:
    return {
        "Code": folder.code,
        "Name": folder.name,
        "ParentCode": parent_code,
        "CreatedAt": folder.created_at.strftime(TIME_FORMAT),
    }


def info(call: Call) -> dict[str, Any]:
    service = _media(call)
    return media_fields(service.view(service.get(call.actor, call.params.required("code"))))


def bulkinfo(call: Call) -> dict[str, Any]:
    codes = call.params.all("code[]") or call.params.all("code")
    # One parameter may also list codes separated by commas.
    codes = [part for value in codes for part in value.split(",")]
    service = _media(call)
    return {"Medias": [media_fields(view) for view in service.views(service.get_many(call.actor, codes))]}


def _new_media_fields(call: Call) -> dict[str, str]:
    return {
        "title": call.params.text("title"),
        "description": call.params.text("description"),
        "folder_code": call.params.text("folder").strip() or call.params.text("folderCode").strip(),
    }


def create(call: Call) -> dict[str, Any]:
    service = _media(call)
    media = service.create(call.actor, source_url=call.params.required("url"), **_new_media_fields(call))
    return {**media_fields(service.view(media)), "ProgressBarUrl": service.progress_url(media)}


def upload(call: Call) -> dict[str, Any]:
    service = _media(call)
    media = service.create(call.actor, **_new_media_fields(call))
    return {
        "Code": media.code,
        "MediaStatus": media.status,
        "UploadUrl": service.upload_url(media),
        "ProgressBarUrl": service.progress_url(media),
    }


def update(call: Call) -> dict[str, Any]:
    service = _media(call)
    media = service.get(call.actor, call.params.required("code"))
    title = given_text(call.params, "title")
    folder = given_text(call.params, "folder")
    if isinstance(folder, str):
        folder = folder.strip()
    elif "folderCode" in call.params:
        folder = call.params.text("folderCode").strip()
    service.update(
        call.actor,
        media,
        # An empty title would blank the media's name: treat it as "not given".
        title=title if title else UNSET,
        description=given_text(call.params, "description"),
        folder_code=folder,
    )
    return media_fields(service.view(media))


def delete(call: Call) -> dict[str, Any]:
    service = _media(call)
    service.delete(call.actor, service.get(call.actor, call.params.required("code")))
    return {"Message": "Media is deleted"}


def folder(call: Call) -> dict[str, Any]:
    page = _media(call).folder_page(
        call.actor,
        code=call.params.text("code").strip(),
        limit=integer(call.params, "limit"),
        offset=integer(call.params, "offset"),
        sort=call.params.text("sortfield").strip(),
        direction=call.params.text("sortdirection").strip(),
    )
    return {
        "countTotal": page.total,
        "Folders": [folder_fields(f, page.parent_codes.get(f.id, "")) for f in page.folders],
        "Medias": [media_fields(v) for v in page.medias],
    }


def _folder_name(call: Call) -> str:
    name = call.params.text("name") or call.params.text("title")
    if not name.strip():
        raise InvalidInput("Parameter 'name' is required", field="name")
    return name


def folder_create(call: Call) -> dict[str, Any]:
    service = _media(call)
    created = service.create_folder(call.actor, _folder_name(call), call.params.text("parent").strip())
    return folder_fields(created, service.folder_code(created.parent_id))


def folder_update(call: Call) -> dict[str, Any]:
    service = _media(call)
    target = service.folder(call.actor, call.params.required("code"))
    name = given_text(call.params, "name")
    if isinstance(name, str) and not name and "title" in call.params:
        name = call.params.text("title")
    parent = given_text(call.params, "parent")
    service.update_folder(
        call.actor,
        target,
        name=name if name else UNSET,
        parent_code=parent.strip() if isinstance(parent, str) else UNSET,
    )
    return folder_fields(target, service.folder_code(target.parent_id))


def folder_delete(call: Call) -> dict[str, Any]:
    service = _media(call)
    service.delete_folder(call.actor, service.folder(call.actor, call.params.required("code")))
    return {"Message": "Folder is deleted"}


CODE = Param("code", "Media code", required=True)
FOLDER_CODE = Param("code", "Folder code", required=True)

METHODS: tuple[MethodSpec, ...] = (
    Method("media/info", "A media with its renditions, poster and links", info, (CODE,), cached=True),
    Method(
        "media/bulkinfo",
        "Several media at once",
        bulkinfo,
        (Param("code[]", "Media codes (repeat the parameter, or a JSON array, or commas)"),),
    ),
    Method(
        "media/create",
        "A new media fetched from a URL, then transcoded",
        create,
        (
            Param("url", "http(s) URL of the video or audio file", required=True),
            Param("title", "Title (the file name in the URL when empty)"),
            Param("description", "Description"),
            Param("folder", "Folder code"),
        ),
    ),
    Method(
        "media/upload",
        "A new media: a signed upload URL and a progress URL",
        upload,
        (
            Param("title", "Title (the file name when empty)"),
            Param("description", "Description"),
            Param("folder", "Folder code"),
        ),
    ),
    Method(
        "media/update",
        "Update title, description, folder",
        update,
        (
            CODE,
            Param("title", "Title"),
            Param("description", "Description"),
            Param("folder", "Folder code; empty moves the media to the top"),
        ),
    ),
    Method("media/delete", "Delete a media (and take it out of every subscription)", delete, (CODE,)),
    Method(
        "media/folder",
        "A folder's sub-folders and media, paged",
        folder,
        (
            Param("code", "Folder code (the top level when absent)"),
            Param("limit", "Items per page (1-1000, default 100)"),
            Param("offset", "Items to skip"),
            Param("sortfield", "name or added (default)"),
            Param("sortdirection", "asc (default) or desc"),
        ),
    ),
    Method(
        "media/folder/create",
        "Create a folder",
        folder_create,
        (Param("name", "Folder name (or title)"), Param("parent", "Parent folder code")),
    ),
    Method(
        "media/folder/update",
        "Rename or move a folder",
        folder_update,
        (FOLDER_CODE, Param("name", "Folder name"), Param("parent", "Parent folder code; empty: top")),
    ),
    Method("media/folder/delete", "Delete an empty folder", folder_delete, (FOLDER_CODE,)),
)
