"""The phone keeper: each server process places the calls it claims and runs their gateways.

A phone leg row (models/phone_leg.py) asks for a call; the keeper of some process with a media
server claims it (once: a conditional update), opens the conference's room on its Janus, starts the
call's gateway (rooms/phone/: a separate process that calls through Janus's SIP plugin and bridges
the call into the room) and writes what the gateway says into the row. It renews the leases of the
calls it runs and hangs up those whose row asks for it (the meeting ended). A call cannot move to
another process: one whose process died ends as failed when its lease lapses (ADR 0014).

Dial-in: with ``PODIUM_SIP_LISTEN`` the keeper makes sure a SIP front (rooms/phone/front.py, a
Kamailio) answers there (its own, unless another process's already does) and keeps one dial-in
gateway armed (registered at the front). When a call comes in, that gateway becomes the call and
another is armed; the keeper walks the caller through ``domain/telephony/dial_in`` (access code,
security PIN, moderator PIN) and, once admitted, runs the call like a dialled-out one.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.guard.service import GuardService
from podium.domain.guard.targets import Target
from podium.domain.telephony.dial_in import DialInService, Lobby, Step
from podium.domain.telephony.service import TelephonyService
from podium.kit import uow
from podium.kit.clock import utcnow
from podium.models.conference import Conference
from podium.rooms.janus import JanusClient, JanusUnavailable, MediaPool
from podium.rooms.keeper import LOOK_EVERY, Keeper
from podium.rooms.phone import PhoneCall, PhoneSpec
from podium.rooms.phone.front import FrontUnavailable, SipFront, ping, split_listen
from podium.rooms.service import RoomService

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)
# A call no process could place (every line busy) for this long fails, rather than ring much later.
LINE_WAIT = timedelta(seconds=60)
# The gateway's status lines that change the call's row (``feeds`` and ``clock`` are for logs and benches).
REPORTED = frozenset({"ringing", "answered", "joined", "ended", "failed"})
RETRY_SECONDS = 10.0  # after a front or an armed gateway that failed, before trying again
DIAL_IN_AOR = "dialin"  # the address of record dial-in gateways register as at the front
MAX_KEYS = 20  # keys a caller types before the pound key (more are ignored)


@dataclass
class _Call:
    call: PhoneCall
    server: JanusClient
    token: str
    reported: int = 0  # status lines already written into the row
    hanging_up: bool = False
    muted: bool = False
    room_token: tuple[JanusClient, str] | None = None  # a dial-in call's room on another Janus


@dataclass
class _Caller:
    """A dial-in gateway: armed (waiting for a call), or a caller not admitted yet."""

    call: PhoneCall
    server: JanusClient
    token: str
    reported: int = 0
    lobby: Lobby | None = None
    keys: str = ""
    asked_at: float | None = None  # when the last prompt was over: the wait for keys runs from there
    wait: float = 0.0
    closing: bool = False  # saying goodbye


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
        self.front: SipFront | None = None
        self.front_retry_at = 0.0
        self.armed: _Caller | None = None
        self.arm_retry_at = 0.0
        self.callers: list[_Caller] = []

    def can_run(self) -> bool:
        """Only a process with a media server and a trunk (dial-out) or a SIP listener (dial-in)."""
        return self.pool is not None and bool(self.settings.sip_trunk or self.settings.sip_listen)

    def release(self) -> None:
        """Hang up every call this process runs (they cannot move to another process)."""
        for leg_id in list(self.calls):
            self.calls[leg_id].call.hang_up()
        for caller in [*self.callers, *([self.armed] if self.armed else [])]:
            caller.call.hang_up()
        for leg_id in list(self.calls):
            self._end(leg_id)
        for caller in [*self.callers, *([self.armed] if self.armed else [])]:
            self._drop(caller)
        self.callers, self.armed = [], None
        if self.front is not None:
            self.front.stop()
            self.front = None

    def next_look(self) -> float:
        # A call's progress is written promptly, and a caller's wait for keys is timed.
        return LOOK_EVERY if not self.calls and not self.callers else 0.5

    def look(self) -> None:
        with self._lock:
            self._report()
            self._renew()
            self._lapse()
            if self.settings.sip_trunk:
                self._claim()
            if self.settings.sip_listen:
                self._keep_front()
                self._answer()
                self._arm()

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
                leg = service.progressed(leg_id, self.owner, event)
                if event.get("event") != "joined" or leg is None:
                    continue
                # A phone in the room is an arrival like a visitor's: the meeting may record or
                # stream by itself from now (a caller may well be the first one in).
                conference = ctx.session.get(Conference, leg.conference_id)  # loaded by the join
                if conference is not None:
                    RoomService(ctx.session, self.settings, self.pool).start_on_arrival(conference, leg.role)

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
        if running.room_token is not None:
            running.room_token[0].remove_token(running.room_token[1])
        if running.reported < len(running.call.events):  # its last lines (a stop's "ended")
            self._progress(leg_id, running.call.events[running.reported :])

    # --- dial-in --------------------------------------------------------------------------------

    def _keep_front(self) -> None:
        """A SIP front answers on the listen address: this process's, or another's that already does."""
        assert self.settings.sip_listen is not None
        if self.front is not None and self.front.alive():
            return
        if time.monotonic() < self.front_retry_at:
            return
        if self.front is not None:
            log.warning("the SIP front stopped: %s", self.front.log_tail(5))
            self.front = None
        if ping(self.settings.sip_listen, 0.5):
            self.front_retry_at = time.monotonic() + RETRY_SECONDS  # another process's front
            return
        front = SipFront(
            listen=self.settings.sip_listen,
            domain=self.settings.sip_host,
            folder=self.settings.data_dir.resolve() / "sip-front" / str(os.getpid()),
            registrar_from=self.settings.sip_local_ip,
            aor=DIAL_IN_AOR,
        )
        try:
            front.start()
        except (FrontUnavailable, OSError) as exc:
            log.warning("the SIP front did not start on %s: %s", self.settings.sip_listen, exc)
            self.front_retry_at = time.monotonic() + RETRY_SECONDS
            return
        self.front = front
        if self.armed is not None:  # registered at a front that is gone: arm again at the new one
            self.armed.call.hang_up()
            self._drop(self.armed)
            self.armed = None

    def _proxy(self) -> str:
        """The front as the gateways reach it."""
        assert self.settings.sip_listen is not None
        host, port = split_listen(self.settings.sip_listen)
        return f"sip:{host}:{port}"

    def _arm(self) -> None:
        """One gateway of this process waits for the next call (unless every line is busy)."""
        assert self.pool is not None
        if self.armed is not None:
            if self.armed.call.alive:
                return
            log.warning("the dial-in gateway stopped: %s", self.armed.call.failure)
            self._drop(self.armed)
            self.armed = None
            self.arm_retry_at = time.monotonic() + RETRY_SECONDS
        if self._stop.is_set() or time.monotonic() < self.arm_retry_at:
            return
        if len(self.calls) + len(self.callers) >= self.settings.sip_max_calls:
            return
        try:
            server = self.pool.least_loaded()
            token = secrets.token_hex(16)
            server.add_token(token, sip=True)
        except JanusUnavailable as exc:
            log.warning("no media server for dial-in: %s", exc)
            self.arm_retry_at = time.monotonic() + RETRY_SECONDS
            return
        call = PhoneCall(
            PhoneSpec(
                janus_api_url=server.endpoint.api_url,
                janus_token=token,
                room=0,
                call_uri="",
                display="",
                direction="in",
                register_uri=f"sip:{DIAL_IN_AOR}@{self.settings.sip_host}",
                proxy=self._proxy(),
            ),
            on_event=lambda event: self.wake(),
        )
        call.start()
        self.armed = _Caller(call, server, token)

    def _answer(self) -> None:
        """What the armed gateway and the callers said: a new call, keys, a prompt over, a hang-up."""
        if self.armed is not None:
            for event in self._news(self.armed):
                if event.get("event") == "incoming":
                    caller, self.armed = self.armed, None
                    self.callers.append(caller)
                    caller.call.command(answer=True)
                    self._arrived(caller, event)
                    break
        for caller in list(self.callers):
            for event in self._news(caller):
                kind = event.get("event")
                if kind == "said" and caller.lobby is not None:
                    caller.asked_at = time.monotonic()
                elif kind == "dtmf" and caller.lobby is not None and not caller.closing:
                    self._key(caller, str(event.get("digit") or ""))
                if caller not in self.callers:
                    break  # admitted: a call of this process now
            if caller not in self.callers:
                continue
            if not caller.call.alive or any(
                e.get("event") in ("ended", "failed") for e in caller.call.events
            ):
                self.callers.remove(caller)  # hung up before it was admitted: no row, nothing to write
                self._drop(caller)
            else:
                self._time(caller)

    def _time(self, caller: _Caller) -> None:
        """A caller who typed nothing for the wait after its prompt: the service says what follows."""
        lobby = caller.lobby
        if lobby is None or caller.asked_at is None or caller.closing:
            return
        if time.monotonic() - caller.asked_at > caller.wait:
            self._follow(caller, self._dial_in(lambda s: s.timed_out(lobby, self.owner, utcnow() + LEASE)))

    def _news(self, caller: _Caller) -> list[dict[str, Any]]:
        events = caller.call.events[caller.reported :]
        caller.reported += len(events)
        return events

    def _dial_in(self, step: Callable[[DialInService], Step]) -> Step:
        def work(ctx: uow.Context) -> Step:
            return step(DialInService(ctx.session, ctx.settings))

        return uow.run(self.sessions, self.settings, work, self.dispatcher)

    def _arrived(self, caller: _Caller, event: dict[str, Any]) -> None:
        dialled, who, display = (str(event.get(k) or "") for k in ("dialled", "caller", "display"))
        log.info("dial-in call for %s from %s", dialled, who)
        try:
            step = self._dial_in(lambda s: s.arrive(dialled, who, display))
        except Exception:  # noqa: BLE001 - the caller hears an apology, the keeper goes on
            log.exception("dial-in call for %s could not be routed", dialled)
            step = Step("Sorry, this call cannot be connected now. Goodbye.", hang_up=True)
        self._follow(caller, step)

    def _key(self, caller: _Caller, key: str) -> None:
        """A key: the pound key ends an entry, the star key starts it again."""
        if key == "*":
            caller.keys = ""
        elif key != "#":
            caller.keys = (caller.keys + key)[:MAX_KEYS]
        else:
            lobby, keys, caller.keys = caller.lobby, caller.keys, ""
            assert lobby is not None
            self._follow(
                caller, self._dial_in(lambda s: s.entered(lobby, keys, self.owner, utcnow() + LEASE))
            )

    def _follow(self, caller: _Caller, step: Step) -> None:
        """Carry out a step: say it, then wait for keys, say goodbye, or join the room."""
        if step.failed is not None:
            self._count_failure(caller.lobby, step.failed)
        if step.leg is not None:
            self._admit(caller, step)
        elif step.hang_up:
            caller.closing, caller.lobby = True, None
            caller.call.command(say=step.say, then="hangup")
        else:
            caller.lobby, caller.wait, caller.asked_at = step.lobby, step.wait_seconds, None
            caller.call.command(say=step.say)

    def _count_failure(self, lobby: Lobby | None, targets: tuple[Target, ...]) -> None:
        if lobby is None or not self.settings.guard_enabled:
            return

        def work(ctx: uow.Context) -> None:
            GuardService(ctx.session, ctx.settings).record_failure(lobby.guard_client, targets)

        try:
            uow.run(self.sessions, self.settings, work, self.dispatcher)
        except Exception:  # noqa: BLE001 - the caller is answered anyway
            log.exception("could not count a wrong entry from %s", lobby.caller)

    def _admit(self, caller: _Caller, step: Step) -> None:
        """The caller is admitted: its room opens, the gateway joins it, and it is a call of ours."""
        assert step.leg is not None
        leg_id = step.leg.id

        def open_room(ctx: uow.Context) -> tuple[JanusClient, int, str] | None:
            conference = ctx.session.get(Conference, step.leg.conference_id) if step.leg else None
            if conference is None:
                return None
            server = RoomService(ctx.session, self.settings, self.pool).ensure_room(conference)
            assert conference.media_room is not None
            name = step.leg.name if step.leg else "Phone"
            return server, conference.media_room, f"\N{TELEPHONE RECEIVER} {name}"

        self.callers.remove(caller)
        running = _Call(caller.call, caller.server, caller.token, reported=caller.reported)
        self.calls[leg_id] = running
        try:
            opened = uow.run(self.sessions, self.settings, open_room, self.dispatcher)
            if opened is None:
                raise RuntimeError("the meeting is gone")
            server, room, display = opened
            api_url, token = caller.server.endpoint.api_url, caller.token
            if server is not caller.server:  # the room lives on another Janus than the SIP handle
                token = secrets.token_hex(16)
                server.add_token(token)
                running.room_token = (server, token)
                api_url = server.endpoint.api_url
        except Exception as exc:  # noqa: BLE001 - the call ends, the keeper goes on
            log.warning("dial-in call %s could not join its room: %s", leg_id, exc)
            caller.call.command(say="Sorry, the meeting cannot be joined now. Goodbye.", then="hangup")
            self._lost(leg_id, f"The room could not be opened: {exc}")
            return
        caller.call.command(
            say=step.say,
            join={"janus_api_url": api_url, "janus_token": token, "room": room, "display": display},
        )

    def _drop(self, caller: _Caller) -> None:
        caller.call.stop()
        caller.server.remove_token(caller.token)
