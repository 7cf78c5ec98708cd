"""Janus from an asyncio program, as janus.js does it from the room page: one session over the HTTP
API (requests carry a token; events come by long poll) and VideoRoom subscriptions answered with
aiortc. The live compositor (rooms/broadcast) joins rooms with it, and so does the room load tool
(bench/room_load.py).

aiortc cannot trickle ICE: offers and answers carry every candidate (``"trickle": false``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

VIDEOROOM = "janus.plugin.videoroom"
EventHandler = Callable[[dict[str, Any]], Awaitable[None]]


class JanusError(Exception):
    pass


class JanusSession:
    """One Janus session (one per page): requests carry the visitor's token; events come by long poll.

    ``lost`` says why the session ended when Janus no longer knows it (timed out, or the server
    restarted); it then stops polling.
    """

    def __init__(self, http: httpx.AsyncClient, url: str, token: str, errors: list[str]) -> None:
        self.http, self.url, self.token, self.errors = http, url, token, errors
        self.id: int | None = None
        self.queues: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        self.lost: str | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6), "token": self.token}
        answer: dict[str, Any] = (await self.http.post(self.url + path, json=body, timeout=30)).json()
        if answer.get("janus") == "error":
            raise JanusError(str(answer.get("error")))
        return answer

    async def create(self) -> None:
        self.id = int((await self._post("", {"janus": "create"}))["data"]["id"])
        self.tasks.append(asyncio.create_task(self._poll()))
        self.tasks.append(asyncio.create_task(self._keepalive()))

    async def attach(self, on_event: EventHandler, plugin: str = VIDEOROOM) -> int:
        answer = await self._post(
            f"/{self.id}",
            {"janus": "attach", "plugin": plugin, "opaque_id": f"podium-{secrets.token_hex(4)}"},
        )
        handle = int(answer["data"]["id"])
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues[handle] = queue
        self.tasks.append(asyncio.create_task(self._deliver(queue, on_event)))
        return handle

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return await self._post(f"/{self.id}/{handle}", request)

    async def detach(self, handle: int) -> None:
        self.queues.pop(handle, None)
        with contextlib.suppress(Exception):
            await self._post(f"/{self.id}/{handle}", {"janus": "detach"})

    async def _deliver(self, queue: asyncio.Queue[dict[str, Any]], on_event: EventHandler) -> None:
        while True:
            event = await queue.get()
            try:
                await on_event(event)
            except Exception as exc:  # noqa: BLE001 - noted; the page would carry on too
                self.errors.append(f"janus event {event.get('janus')}: {exc!r}")

    async def _poll(self) -> None:
        while not self.closed:
            try:
                answer = await self.http.get(
                    f"{self.url}/{self.id}",
                    params={"rid": str(int(time.time() * 1000)), "maxev": "10", "token": self.token},
                    timeout=70,
                )
                events = answer.json()
            except (httpx.HTTPError, ValueError):
                if self.closed:
                    return
                await asyncio.sleep(0.5)
                continue
            if isinstance(events, dict) and events.get("janus") == "error":
                self.lost = str(events.get("error"))  # e.g. "No such session": it timed out
                return
            for event in events if isinstance(events, list) else [events]:
                queue = self.queues.get(int(event.get("sender") or 0))
                if queue is not None:
                    queue.put_nowait(event)

    async def _keepalive(self) -> None:
        while not self.closed:
            await asyncio.sleep(25)
            with contextlib.suppress(Exception):
                await self._post(f"/{self.id}", {"janus": "keepalive"})

    async def destroy(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            await self._post(f"/{self.id}", {"janus": "destroy"})
        for task in self.tasks:
            task.cancel()


def plugin_data(event: dict[str, Any]) -> dict[str, Any]:
    """The VideoRoom's own part of an event or answer."""
    data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
    return data


def local_jsep(description: Any) -> dict[str, Any]:
    # aiortc gathers every candidate before its description is set: no trickle.
    return {"type": description.type, "sdp": description.sdp, "trickle": False}


class Subscription:
    """One publisher's streams received on a subscriber handle of our own: Janus offers, aiortc
    answers (a later offer, when the publisher's streams change, renegotiates the same connection).
    ``prepare`` sees the peer connection once the first offer is set, before the answer (to reach its
    receivers); ``on_failed`` hears when Janus refuses (e.g. the publisher is not publishing yet,
    or left)."""

    def __init__(
        self,
        session: JanusSession,
        room: int,
        publisher: int,
        *,
        prepare: Callable[[RTCPeerConnection], None] | None = None,
        on_failed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.session, self.room, self.publisher = session, room, publisher
        self.prepare, self.on_failed = prepare, on_failed
        self.handle: int | None = None
        self.pc: RTCPeerConnection | None = None

    async def start(self) -> None:
        """Attach and ask for the publisher's streams (the offer arrives as an event)."""
        self.handle = await self.session.attach(self._on_event)
        await self.session.message(
            self.handle,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": self.publisher}],
            },
        )

    async def _on_event(self, event: dict[str, Any]) -> None:
        data = plugin_data(event)
        if data.get("error"):
            if self.on_failed is not None:
                await self.on_failed(str(data["error"]))
            return
        jsep = event.get("jsep")
        if jsep and jsep.get("type") == "offer":
            await self._answer(jsep)

    async def _answer(self, offer: dict[str, Any]) -> None:
        first = self.pc is None
        if self.pc is None:
            self.pc = RTCPeerConnection()
        pc = self.pc
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        if first and self.prepare is not None:
            self.prepare(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        assert self.handle is not None
        await self.session.message(
            self.handle, {"request": "start", "room": self.room}, local_jsep(pc.localDescription)
        )

    async def close(self) -> None:
        if self.handle is not None:
            await self.session.detach(self.handle)
        if self.pc is not None:
            await self.pc.close()
