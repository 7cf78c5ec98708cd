"""The body size limit every request meets before a route sees it, enforced while the body streams
in (a 200 MB POST never reaches memory; a declared Content-Length over the limit is refused at once).

The API edges read their bodies through ``edges/common.read_limited`` (``PODIUM_MAX_BODY_BYTES``,
answered in each dialect's format) and uploads have their own limits (``PODIUM_MEDIA_MAX_BYTES``,
``PODIUM_DRIVE_MAX_BYTES``); every other route — pages, forms, the player's and the room's JSON
calls, OAuth — takes at most ``WEB_BODY_LIMIT`` bytes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WEB_BODY_LIMIT = 64 * 1024
# Routes that limit their own bodies (in their own answer format, or with a larger budget).
OWN_LIMITS = ("/api/", "/enterprise_api/", "/media/upload/", "/drive/upload/")


class _TooLarge(Exception):
    pass


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    def __init__(self, app: ASGIApp, *, own_limit_prefixes: tuple[str, ...] = OWN_LIMITS) -> None:
        self.app = app
        self.own_limit_prefixes = own_limit_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if scope["type"] == "websocket" or path.startswith(self.own_limit_prefixes):
            await self.app(scope, receive, send)
            return
        limit = WEB_BODY_LIMIT
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, f"Request body is larger than {limit} bytes")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _answer(send, 413, f"Request body is larger than {limit} bytes")
