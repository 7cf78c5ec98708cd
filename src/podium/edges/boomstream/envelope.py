"""The one Boomstream envelope: Status, Message, Version, Versions, RequestURI, as JSON or XML."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.responses import Response

VERSIONS: list[dict[str, str]] = [
    {"version": "1.0", "description": "Boomstream API v.1.0 loads by default"},
    {
        "version": "1.1",
        "description": "Boomstream API v.1.1. \nAdd &ver=1.1 to the HTTP request to use it. \n"
        "Change log: it is changed the response format for the method ppv/listBuyers",
    },
    {
        "version": "1.2",
        "description": "Boomstream API v.1.2. \nAdd &ver=1.2 to the HTTP request to use it. \n"
        "Change log: it is changed the response format for methods ppv/listMedia and ppv/addMedia",
    },
]
SUPPORTED_VERSIONS = {v["version"] for v in VERSIONS}
DEFAULT_VERSION = "1.0"
_APIKEY_IN_QUERY = re.compile(r"(^|&)(apikey=)[^&]*", re.IGNORECASE)


def masked_request_uri(path: str, query: str) -> str:
    """The request path and query with the API key replaced by ``xxx...xxx``."""
    if not query:
        return path
    masked = _APIKEY_IN_QUERY.sub(r"\1\2xxx...xxx", query)
    return f"{path}?{masked}"


def envelope(
    payload: dict[str, Any], *, ok: bool, message: str | None, version: str, request_uri: str
) -> dict[str, Any]:
    body = dict(payload)
    body["Status"] = "Success" if ok else "Failed"
    if message is not None:
        body["Message"] = message
    body["Version"] = version
    body["Versions"] = VERSIONS
    body["RequestURI"] = request_uri
    return body


def render(body: dict[str, Any], fmt: str, status_code: int = 200) -> Response:
    if fmt == "json":
        return Response(
            json.dumps(body, ensure_ascii=False), status_code=status_code, media_type="application/json"
        )
    return Response(to_xml(body), status_code=status_code, media_type="application/xml")


def to_xml(body: dict[str, Any]) -> str:
    root = ET.Element("Response")
    for key, value in body.items():
        _append(root, key, value)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    if tag == "Item" and isinstance(value, list):
        # A list under "Item" repeats <Item> in place (ppv/sessions' sample has no wrapper element).
        for item in value:
            _append(parent, "Item", item)
        return
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _append(element, "Item", item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
