"""The phone keeper: each server process places the calls it claims and runs their gateways.

A phone leg row (models/phone_leg.py) asks for a call; the keeper of some process with a media
server claims it (once: a conditional update), opens the conference's room on its Janus, starts the
call's gateway (rooms/phone/: a separate process that calls through Janus's SIP plugin and bridges
the call into the room) and writes what the gateway says into the row. It renews the leases of the
calls it runs and hangs up those whose row asks for it (the meeting ended). A call cannot move to
another process: one whose process died ends as failed when its lease lapses (ADR 0014).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.telephony.service import TelephonyService
from podium.kit import uow
from podium.kit.clock import utcnow
from podium.rooms.janus import JanusClient, JanusUnavailable, MediaPool
from podium.rooms.keeper import LOOK_EVERY, Keeper
from podium.rooms.phone import PhoneCall, PhoneSpec
from podium.rooms.service import RoomService

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)
# A call no process could place (every line busy) for this long fails, rather than ring much later.
LINE_WAIT = timedelta(seconds=60)
# The gateway's status lines that change the call's row (``feeds`` and ``clock`` are for logs and benches).
REPORTED = frozenset({"ringing", "answered", "joined", "ended", "failed"})


@dataclass
class _Call:
    call: PhoneCall
    server: JanusClient
    token: str
    reported: int = 0  # status lines already written into the row
    hanging_up: bool = False
    muted: bool = False


class PhoneKeeper(Keeper):
    thread_name = "podium-phones"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        pool: MediaPool | None,
        dispatcher: uow.Dispatcher = uow.NO_DISPATCH,
    ) -> None:
        super().__init__(sessions, settings, pool, dispatcher)
        self.calls: dict[int, _Call] = {}

    def can_run(self) -> bool:
        """Only a process with a media server and a trunk places calls."""
        return self.pool is not None and bool(self.settings.sip_trunk)

    def release(self) -> None:
        """Hang up every call this process runs (they cannot move to another process)."""
        for leg_id in list(self.calls):
            self.calls[leg_id].call.hang_up()
        for leg_id in list(self.calls):
            self._end(leg_id)

    def next_look(self) -> float:
        return LOOK_EVERY if not self.calls else 0.5  # a call's progress is written promptly

    def look(self) -> None:
        with self._lock:
            self._report()
            self._renew()
            self._lapse()
            self._claim()

    # --- steps ----------------------------------------------------------------------------------

    def _report(self) -> None:
        """Write what each gateway said since the last look; forget the calls that are over."""
        for leg_id, running in list(self.calls.items()):
            events = running.call.events[running.reported :]
            running.reported += len(events)
            if not running.call.alive and not any(e.get("event") in ("ended", "failed") for e in events):
                events = [
                    *events,
                    {"event": "failed", "reason": running.call.failure or "the gateway stopped"},
                ]
            events = [e for e in events if e.get("event") in REPORTED]
            if events:
                self._progress(leg_id, events)
            if any(e.get("event") in ("ended", "failed") for e in events):
                self._end(leg_id)

    def _progress(self, leg_id: int, events: list[dict[str, Any]]) -> None:
        def work(ctx: uow.Context) -> None:
            service = TelephonyService(ctx.session, ctx.settings)
            for event in events:
                service.progressed(leg_id, self.owner, event)

        uow.run(self.sessions, self.settings, work, self.dispatcher)

    def _renew(self) -> None:
        if not self.calls:
            return
        held = list(self.calls)
        held_now = uow.run(
            self.sessions,
            self.settings,
            lambda ctx: TelephonyService(ctx.session, ctx.settings).renew(self.owner, held, utcnow() + LEASE),
        )
        for leg_id, running in list(self.calls.items()):
            hang_up, muted = held_now.get(leg_id, (True, running.muted))
            if hang_up and not running.hanging_up:
                running.hanging_up = True
                running.call.hang_up()  # its "ended" line is written at a next look
            if muted != running.muted:
                running.muted = muted
                running.call.mute(muted)

    def _lapse(self) -> None:
        uow.run(
            self.sessions,
            self.settings,
            lambda ctx: TelephonyService(ctx.session, ctx.settings).lapse(utcnow(), LINE_WAIT),
            self.dispatcher,
        )

    def _claim(self) -> None:
        waiting = uow.run(
            self.sessions, self.settings, lambda ctx: TelephonyService(ctx.session, ctx.settings).waiting()
        )
        for leg_id in waiting:
            if self._stop.is_set() or len(self.calls) >= self.settings.sip_max_calls:
                return  # every line of this process is busy: another process, or a later look
            if not uow.run(self.sessions, self.settings, self._claimer(leg_id)):
                continue  # another process places it
            try:
                self._place(leg_id)
            except Exception as exc:  # noqa: BLE001 - a call that cannot start must not stop the keeper
                log.warning("phone leg %s did not start: %s", leg_id, exc)
                self._lost(leg_id, f"The call could not be placed: {exc}")

    def _claimer(self, leg_id: int) -> Callable[[uow.Context], bool]:
        def work(ctx: uow.Context) -> bool:
            return TelephonyService(ctx.session, ctx.settings).claim(leg_id, self.owner, utcnow() + LEASE)

        return work

    def _lost(self, leg_id: int, reason: str) -> None:
        def work(ctx: uow.Context) -> None:
            TelephonyService(ctx.session, ctx.settings).lost(leg_id, self.owner, reason)

        uow.run(self.sessions, self.settings, work, self.dispatcher)

    def _place(self, leg_id: int) -> None:
        def prepare(ctx: uow.Context) -> tuple[JanusClient, int, str, str, str] | None:
            service = TelephonyService(ctx.session, ctx.settings)
            found = service.to_place(leg_id)
            if found is None:
                return None
            leg, conference = found
            server = RoomService(ctx.session, self.settings, self.pool).ensure_room(conference)
            assert conference.media_room is not None
            display = f"\N{TELEPHONE RECEIVER} {leg.name}"
            return server, conference.media_room, leg.phone_number, display, service.speech(leg)

        prepared = uow.run(self.sessions, self.settings, prepare, self.dispatcher)
        if prepared is None:
            return
        server, room, number, display, speech = prepared
        token = secrets.token_hex(16)
        try:
            server.add_token(token, sip=True)
        except JanusUnavailable as exc:
            raise RuntimeError(f"the media server is unavailable: {exc}") from exc
        call = PhoneCall(
            PhoneSpec(
                janus_api_url=server.endpoint.api_url,
                janus_token=token,
                room=room,
                call_uri=self.settings.dial_uri(number),
                display=display,
                invitation=speech,
                auth_user=self.settings.sip_trunk_user or "",
                auth_secret=self.settings.sip_trunk_password or "",
                caller=f"sip:podium@{self.settings.sip_host}",
                ring_seconds=float(self.settings.sip_ring_seconds),
            ),
            on_event=lambda event: self.wake(),
        )
        call.start()
        self.calls[leg_id] = _Call(call, server, token)
        log.info("phone leg %s: calling into room %s", leg_id, room)

    def _end(self, leg_id: int) -> None:
        running = self.calls.pop(leg_id, None)
        if running is None:
            return
        running.call.stop()
        running.server.remove_token(running.token)
        if running.reported < len(running.call.events):  # its last lines (a stop's "ended")
            self._progress(leg_id, running.call.events[running.reported :])
