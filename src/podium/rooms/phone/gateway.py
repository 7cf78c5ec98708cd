"""The phone gateway process: one SIP call through Janus's SIP plugin, bridged into a VideoRoom room
(ADR 0014; what it tells and takes is in ``rooms/phone/__init__``).

- **The call.** A SIP plugin handle registers as a guest (no REGISTER is sent; the trunk, when one
  is configured, is its outbound proxy) and calls the spec's URI with an aiortc offer: Opus, PCMU and
  PCMA, so a PSTN trunk gets the G.711 it expects. The plugin does SIP (transactions, CANCEL,
  digest authentication) and relays RTP to aiortc without transcoding.
- **What the callee hears.** First the invitation, spoken by ``espeak-ng`` on this machine (nothing
  leaves it), then the room: every publisher is received on a subscriber handle of our own (audio
  only), decoded, and mixed on a fixed 20 ms clock, as the live compositor mixes.
- **What the room hears.** The phone's decoded voice is published into the room as a participant
  named after the callee, so every page, the compositor and the recordings have it like anyone's.
- **Dial-in.** A dial-in gateway registers at the SIP front (a Kamailio the server runs, ADR 0014)
  as a contact of the dial-in address; the front hands it the next call, with what was dialled. It
  answers when the server says so (and unregisters: one call per gateway), tells the keys the caller
  presses (RFC 4733 events, through ``rooms/phone/dtmf``, or SIP INFO), says what the server asks,
  and joins the room the server names once the caller is admitted.
- **The end.** Either side hangs up, the callee refuses or does not answer within the ring time, or
  the far end cannot be reached: ``ended`` with the SIP code and reason, exit status 0. A media
  server that fails is ``failed`` (exit status 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from podium.rooms.broadcast.compositor import (
    CHANNELS,
    SAMPLE_RATE,
    TICK_SAMPLES,
    AudioBuffer,
    Failure,
    Lines,
    Status,
    hear,
    serve_process,
)
from podium.rooms.janus_async import JanusError, JanusSession, Subscription, local_jsep, plugin_data
from podium.rooms.phone import PhoneSpec, dtmf

log = logging.getLogger("podium.rooms.phone")

SIP_PLUGIN = "janus.plugin.sip"
TICK = TICK_SAMPLES / SAMPLE_RATE  # 20 ms
LOOK_EVERY = 1.0  # seconds between two looks at who publishes in the room
JANUS_PATIENCE = 10.0
# Seconds a subscription may take to deliver its first sound before it is made again, doubling with
# each time for the same publisher (one muted by a moderator sends nothing, and is not churned).
FEED_PATIENCE = 8.0
HANGUP_WAIT = 5.0  # seconds a hang-up may take before the process ends anyway
ESPEAK = "espeak-ng"
CLOCK_EVERY = 5.0  # seconds between two ``clock`` status lines
ANSWER_WAIT = 10.0  # seconds a dial-in call rings while the server decides (then it is declined)
REGISTER_TTL = 60  # a dial-in registration's lifetime: a restarted front learns the gateway again soon
DTMF_KEYS = "0123456789*#ABCD"
QUEUED_CHUNKS = 10  # 200 ms of audio waiting for a sender at most (older chunks are dropped)


class Voice(MediaStreamTrack):
    """An audio track fed with 20 ms chunks (s16 mono, 48 kHz); aiortc takes them as they come, so
    whoever feeds it sets the pace (the mixer's clock, or the phone's own packets)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=QUEUED_CHUNKS)
        self.sent = 0

    async def recv(self) -> av.AudioFrame:
        chunk = await self.queue.get()
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = self.sent * TICK_SAMPLES, fractions.Fraction(1, SAMPLE_RATE)
        self.sent += 1
        return frame

    def put(self, chunk: np.ndarray) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(chunk)


def mono_chunks(samples: np.ndarray) -> list[np.ndarray]:
    """Whole 20 ms chunks of mono samples (a last partial one padded with silence)."""
    padded = np.concatenate((samples, np.zeros((-len(samples)) % TICK_SAMPLES, dtype=np.int16))).astype(
        np.int16
    )
    return [padded[i : i + TICK_SAMPLES] for i in range(0, len(padded), TICK_SAMPLES)]


def spoken(text: str) -> list[np.ndarray]:
    """``text`` spoken by espeak-ng, as 20 ms chunks (none when it cannot speak)."""
    if not text.strip():
        return []
    with tempfile.TemporaryDirectory(prefix="podium-phone-") as folder:
        wav = os.path.join(folder, "speech.wav")
        try:
            subprocess.run([ESPEAK, "-w", wav, "--", text], capture_output=True, timeout=30, check=True)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            parts = []
            with av.open(wav) as container:
                for frame in container.decode(audio=0):
                    parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
        except (OSError, subprocess.SubprocessError, av.FFmpegError) as exc:
            log.warning("the invitation could not be spoken: %s", exc)
            return []
    return mono_chunks(np.concatenate(parts)) if parts else []


class Room:
    """The room as the phone hears it: every other publisher received and buffered."""

    def __init__(self, session: JanusSession, room: int) -> None:
        self.session, self.room = session, room
        self.watcher: int | None = None
        self.own: int | None = None
        self.feeds: dict[int, tuple[Subscription, AudioBuffer, list[asyncio.Task[None]]]] = {}
        self.subscribed_at: dict[int, float] = {}  # publisher -> when its audio track was offered
        self.redone: dict[int, int] = {}  # publisher -> subscriptions made again for want of sound

    async def look(self) -> None:
        if self.watcher is None:
            self.watcher = await self.session.attach(_ignore)
        answer = await self.session.message(self.watcher, {"request": "listparticipants", "room": self.room})
        data = plugin_data(answer)
        if data.get("error_code") == 426:
            raise Failure("the room is gone")
        if data.get("error"):
            raise JanusError(str(data["error"]))
        publishing = {
            int(p["id"]) for p in data.get("participants", []) if p.get("publisher") and p["id"] != self.own
        }
        for publisher, (_, buffer, _) in list(self.feeds.items()):
            # A subscription whose sound never came (its connection stuck under load) would leave
            # the phone deaf to that person for good: it is made again. (Only one with an audio
            # track is waited for: a screen share has none.)
            due = self.subscribed_at.get(publisher)
            waited = time.monotonic() - due if due is not None else 0.0
            if buffer.heard:
                self.redone.pop(publisher, None)
            elif waited > FEED_PATIENCE * 2 ** min(self.redone.get(publisher, 0), 4):
                log.warning(
                    "no sound from %s after %.0f s (connection %s): subscribing again",
                    publisher,
                    waited,
                    self.waiting(),
                )
                self.redone[publisher] = self.redone.get(publisher, 0) + 1
                await self.drop(publisher)
        for publisher in publishing - set(self.feeds):
            await self._subscribe(publisher)
        for publisher in set(self.feeds) - publishing:
            self.redone.pop(publisher, None)
            await self.drop(publisher)

    async def _subscribe(self, publisher: int) -> None:
        buffer = AudioBuffer()
        tasks: list[asyncio.Task[None]] = []

        async def failed(reason: str) -> None:  # unpublished meanwhile: the next look decides
            await self.drop(publisher)

        def prepare(pc: RTCPeerConnection) -> None:
            for receiver in pc.getReceivers():
                if receiver.track is not None and receiver.track.kind == "audio":
                    tasks.append(asyncio.create_task(hear(receiver.track, buffer)))
                    self.subscribed_at[publisher] = time.monotonic()  # sound is due from now
            videos = [t.mid for t in pc.getTransceivers() if t.kind == "video" and t.mid is not None]
            if videos:  # a phone has no use for pictures: Janus need not send them
                tasks.append(asyncio.create_task(self._no_video(subscription, videos)))

        subscription = Subscription(self.session, self.room, publisher, prepare=prepare, on_failed=failed)
        self.feeds[publisher] = (subscription, buffer, tasks)
        try:
            await subscription.start()
        except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
            log.info("could not subscribe to %s: %s", publisher, exc)
            await self.drop(publisher)

    async def _no_video(self, subscription: Subscription, mids: list[str]) -> None:
        assert subscription.handle is not None
        with contextlib.suppress(JanusError, httpx.HTTPError):
            await self.session.message(
                subscription.handle,
                {"request": "configure", "streams": [{"mid": mid, "send": False} for mid in mids]},
            )

    async def drop(self, publisher: int) -> None:
        self.subscribed_at.pop(publisher, None)
        found = self.feeds.pop(publisher, None)
        if found is None:
            return
        subscription, _, tasks = found
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await subscription.close()

    def waiting(self) -> list[str]:
        """The connections of the subscriptions whose sound has not come yet (``state/ice``): where
        a phone that hears nothing of the room is stuck."""
        found = []
        for subscription, buffer, _ in self.feeds.values():
            pc = subscription.pc
            if not buffer.heard:
                found.append(f"{pc.connectionState}/{pc.iceConnectionState}" if pc else "no offer yet")
        return found

    def mix(self) -> np.ndarray:
        """The next 20 ms of everyone in the room, mono."""
        mixed = np.zeros(TICK_SAMPLES * CHANNELS, dtype=np.int32)
        for _, buffer, _ in list(self.feeds.values()):
            chunk = buffer.take(TICK_SAMPLES)
            if chunk is not None:
                mixed += chunk
        stereo = mixed.reshape(-1, CHANNELS)
        return np.clip(stereo.sum(axis=1) // CHANNELS, -32768, 32767).astype(np.int16)


async def _ignore(event: dict[str, Any]) -> None:
    return None


class Gateway:
    def __init__(self, spec: PhoneSpec, status: Status, commands: Lines) -> None:
        self.spec, self.status, self.commands = spec, status, commands
        self.errors: list[str] = []
        self.stopping = asyncio.Event()
        self.sip_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.room_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.to_phone, self.to_room = Voice(), Voice()
        self.prompt: list[np.ndarray] = []
        self.muted = False
        self.answered = False
        self.joined = False
        self.ended: dict[str, Any] | None = None
        self.hung_up_by_us = False
        self.commands_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.join_spec: dict[str, Any] | None = None
        self.farewell = False  # hang up once the prompt has been said
        self.declined = False  # the callee of a dial-out pressed two

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        threading.Thread(target=self._read_commands, args=(loop,), name="phone-commands", daemon=True).start()
        self.http = httpx.AsyncClient(timeout=30)
        self.session = JanusSession(self.http, self.spec.janus_api_url, self.spec.janus_token, self.errors)
        self.room_session = self.session
        self.room = Room(self.session, self.spec.room)
        self.prompt = await asyncio.to_thread(spoken, self.spec.invitation)
        reason: str | None = None
        mixer: asyncio.Task[None] | None = None
        self.decision: asyncio.Future[dict[str, Any]] = loop.create_future()  # answer, or decline
        obeying = asyncio.create_task(self._obey())
        exit_status = 1
        try:
            if self.spec.direction == "in":
                await self._receive()
            else:
                await self._call()
            mixer = asyncio.create_task(self._mix())
            if self.ended is None and self.spec.direction == "in":
                await self._lobby()
            if self.ended is None and not self.stopping.is_set():
                await self._bridge()
        except Failure as exc:
            reason = str(exc)
        except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
            reason = f"the media server failed: {exc}"
        finally:
            obeying.cancel()
            if mixer is not None:
                mixer.cancel()
            over_before = self.ended is not None  # the other side ended it, before any failure
            await self._hang_up(
                {"code": 200, "reason": "Declined: the callee pressed two"} if self.declined else None
            )
            # Said before leaving the room: the call's row says it is over as soon as it is.
            exit_status = self._say_end(None if over_before else reason)
            await self._leave()
        return exit_status

    def _say_end(self, failure: str | None) -> int:
        """The last status line: ``failed`` with the reason (exit status 1), else ``ended``."""
        if failure is not None:
            self.status("failed", reason=failure)
            return 1
        ended = self.ended or {"code": 200, "reason": "Hung up"}
        self.status(
            "ended",
            code=int(ended.get("code") or 0),
            reason=str(ended.get("reason") or ""),
            answered=self.answered,
            by="podium" if self.hung_up_by_us and not self.declined else "phone",
        )
        return 0

    def _read_commands(self, loop: asyncio.AbstractEventLoop) -> None:
        """Commands from the parent; the end of its pipe means the parent has gone: hang up."""
        for line in self.commands:
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                command = json.loads(line)
                if command.get("hangup"):
                    loop.call_soon_threadsafe(self.stopping.set)
                if "mute" in command:
                    loop.call_soon_threadsafe(setattr, self, "muted", bool(command["mute"]))
                if any(key in command for key in ("answer", "decline", "say", "join")):
                    loop.call_soon_threadsafe(self.commands_in.put_nowait, command)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.stopping.set)

    # --- the call ---------------------------------------------------------------------------------
    async def _on_sip(self, event: dict[str, Any]) -> None:
        await self.sip_events.put(event)

    async def _sip_event(self, timeout: float) -> dict[str, Any] | None:
        """The next event of the SIP handle (its ``result``, with the event's jsep), None on timeout
        or a stop."""
        deadline = time.monotonic() + timeout
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                event = await asyncio.wait_for(self.sip_events.get(), min(left, 0.5))
            except TimeoutError:
                if self.session.lost:
                    raise Failure(f"the media server ended the session: {self.session.lost}") from None
                continue
            data = plugin_data(event)
            if data.get("error"):
                raise Failure(f"the SIP gateway refused: {data['error']}")
            result = dict(data.get("result") or {})
            if event.get("jsep"):
                result["jsep"] = event["jsep"]
            if result.get("event") in ("info", "dtmf"):
                self._info_key(result)
                continue
            if result.get("event"):
                return result
        return None

    async def _sip_outcome(self, success: str, failure: str) -> dict[str, Any] | None:
        """The handle's next ``success`` or ``failure`` event (other events pass), None when none
        came in time or the gateway is stopping."""
        while (result := await self._sip_event(JANUS_PATIENCE)) is not None:
            if result["event"] in (success, failure):
                return result
        return None

    def _info_key(self, result: dict[str, Any]) -> None:
        """A key sent by SIP INFO (``application/dtmf-relay``: ``Signal=5``), or a newer Janus's own
        ``dtmf`` event."""
        if result.get("event") == "dtmf":
            self._key(str(result.get("signal") or ""))
            return
        if "dtmf" not in str(result.get("type") or ""):
            return
        for line in str(result.get("content") or "").splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                self._key(value.strip())

    def _key(self, key: str) -> None:
        """The caller pressed ``key``: said to the server; it cuts a prompt short (but not a farewell)."""
        key = {"10": "*", "11": "#"}.get(key, key).upper()
        if len(key) != 1 or key not in DTMF_KEYS:
            return
        if self.spec.direction == "out" and not self.joined and key in "12":
            # The invitation's instructions (the reference's): one joins now, two declines.
            if key == "2":
                self.declined = True
                self.stopping.set()
            self.prompt = []
        elif not self.farewell:
            self.prompt = []
        self.status("dtmf", digit=key)

    async def _call(self) -> None:
        spec = self.spec
        await self.session.create()
        self.sip = await self.session.attach(self._on_sip, plugin=SIP_PLUGIN)
        register: dict[str, Any] = {"request": "register", "type": "guest", "username": spec.caller}
        if spec.proxy:
            register["proxy"] = spec.proxy
        await self.session.message(self.sip, register)
        result = await self._sip_outcome("registered", "registration_failed")
        if result is None:
            raise Failure("the SIP gateway did not get ready")
        if result["event"] == "registration_failed":
            self.ended = {"code": result.get("code") or 503, "reason": result.get("reason") or ""}
            return
        dtmf.install()
        self.pc = self._peer_connection()
        audio = self.pc.addTransceiver(self.to_phone, direction="sendrecv")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = local_jsep(self.pc.localDescription)
        offer["sdp"], events_pt = dtmf.offer_with_telephone_event(offer["sdp"])
        dtmf.listen(audio.receiver, events_pt, self._key)  # the callee's one or two
        call: dict[str, Any] = {"request": "call", "uri": spec.call_uri, "autoaccept_reinvites": True}
        if spec.auth_user:
            call |= {"authuser": spec.auth_user, "secret": spec.auth_secret}
        await self.session.message(self.sip, call, offer)
        ringing = False
        deadline = time.monotonic() + spec.ring_seconds
        while True:
            result = await self._sip_event(max(0.1, deadline - time.monotonic()))
            if result is None:  # a stop, or the ring time is over: CANCEL
                if self.stopping.is_set():
                    await self._hang_up({"code": 487, "reason": "Cancelled before an answer"})
                else:
                    await self._hang_up(
                        {"code": 480, "reason": f"No answer within {spec.ring_seconds:.0f} s"}
                    )
                return
            kind = result["event"]
            if kind in ("ringing", "proceeding") and not ringing and result.get("code", 180) in (180, 183):
                ringing = True
                self.status("ringing")
            elif kind == "accepted":
                jsep = result.get("jsep")
                if not jsep:
                    raise Failure("the callee answered without media")
                await self.pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], "answer"))
                self.answered = True
                self.status("answered")
                return
            elif kind == "hangup":
                self.ended = {"code": result.get("code") or 0, "reason": result.get("reason") or ""}
                return

    def _peer_connection(self) -> RTCPeerConnection:
        """The media path to Janus's SIP handle, which says ``connected`` once it carries sound: the
        phone's SIP answer comes earlier, and whatever it sends before (keys too) Janus drops."""
        pc = RTCPeerConnection()
        told = False

        @pc.on("connectionstatechange")
        def _state() -> None:
            nonlocal told
            if pc.connectionState == "connected" and not told:
                told = True
                self.status("connected")

        return pc

    # --- dial-in ----------------------------------------------------------------------------------
    async def _receive(self) -> None:
        """Register at the front, wait for a call, answer it when the server says so."""
        spec = self.spec
        await self.session.create()
        self.sip = await self.session.attach(self._on_sip, plugin=SIP_PLUGIN)
        register = {
            "request": "register",
            "username": spec.register_uri,
            "secret": secrets.token_hex(8),  # the front does not challenge its own gateways
            "proxy": spec.proxy,
            "register_ttl": REGISTER_TTL,
            "incoming_header_prefixes": ["X-Podium"],
        }
        await self.session.message(self.sip, register)
        result = await self._sip_outcome("registered", "registration_failed")
        if result is None:
            if self.stopping.is_set():
                return await self._stopped_unused()
            raise Failure("the SIP front did not answer the registration")
        if result["event"] == "registration_failed":
            raise Failure(f"the SIP front refused: {result.get('code')} {result.get('reason') or ''}".strip())
        self.status("armed")
        while True:
            result = await self._sip_event(3600.0)
            if result is None:
                if self.stopping.is_set():
                    return await self._stopped_unused()
                continue
            if result["event"] == "incomingcall" and result.get("jsep"):
                break
            if result["event"] == "registration_failed":
                raise Failure(f"the SIP front dropped the registration: {result.get('code')}")
        headers = result.get("headers") or {}
        self.status(
            "incoming",
            dialled=str(headers.get("X-Podium-Dialed") or result.get("callee") or ""),
            caller=str(result.get("username") or ""),
            display=str(result.get("displayname") or "").strip('"'),
        )
        try:
            command = await asyncio.wait_for(asyncio.shield(self.decision), ANSWER_WAIT)
        except TimeoutError:
            command = {"decline": True}
        if not command.get("answer"):
            with contextlib.suppress(Exception):
                await self.session.message(self.sip, {"request": "decline", "code": 480})
            self.ended = {"code": 480, "reason": "Declined"}
            return
        await self._accept(result["jsep"])

    async def _stopped_unused(self) -> None:
        """Stopped while waiting for a call: unregister, so the front stops handing calls here."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.session.message(self.sip, {"request": "unregister"}), JANUS_PATIENCE)
        self.ended = {"code": 0, "reason": "No call came"}

    async def _accept(self, offer: dict[str, Any]) -> None:
        """Answer with our voice track (and the telephone-event codec the offer has, for DTMF), then
        unregister: this gateway carries this one call."""
        dtmf.install()
        self.pc = self._peer_connection()
        self.pc.addTrack(self.to_phone)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "audio":
                transceiver.direction = "sendrecv"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = local_jsep(self.pc.localDescription)
        events_pt = dtmf.telephone_event_pt(offer["sdp"])
        if events_pt is not None:
            answer["sdp"] = dtmf.with_telephone_event(answer["sdp"], events_pt)
            for receiver in self.pc.getReceivers():
                if receiver.track is not None and receiver.track.kind == "audio":
                    dtmf.listen(receiver, events_pt, self._key)
        await self.session.message(self.sip, {"request": "accept", "autoaccept_reinvites": True}, answer)
        result = await self._sip_outcome("accepted", "hangup")
        if result is None:
            if self.stopping.is_set():
                return
            raise Failure("the SIP gateway did not confirm the answer")
        if result["event"] == "hangup":
            self.ended = {"code": result.get("code") or 0, "reason": result.get("reason") or ""}
            return
        self.answered = True
        self.status("answered")
        with contextlib.suppress(JanusError, httpx.HTTPError):
            await self.session.message(self.sip, {"request": "unregister"})

    async def _lobby(self) -> None:
        """Before the caller is admitted: say what the server asks, pass on the keys it presses,
        until the server names the room (or says goodbye)."""
        while self.join_spec is None and self.ended is None and not self.stopping.is_set():
            await self._watch_call(0.2)
            if self.farewell and not self.prompt:
                await asyncio.sleep(0.3)  # the last words reach the phone before the BYE
                self.stopping.set()
        if self.join_spec is not None and self.ended is None and not self.stopping.is_set():
            await self._enter(self.join_spec)

    async def _enter(self, join: dict[str, Any]) -> None:
        """The room the server admitted the caller to (on another Janus than the SIP handle's, maybe)."""
        api_url, token = str(join["janus_api_url"]), str(join["janus_token"])
        if api_url != self.spec.janus_api_url or token != self.spec.janus_token:
            self.room_session = JanusSession(self.http, api_url, token, self.errors)
            await self.room_session.create()
        self.room = Room(self.room_session, int(join["room"]))
        self.display = str(join.get("display") or "Phone")[:100]

    async def _obey(self) -> None:
        """The server's commands for a dial-in call: speak, join; answering is awaited by ``_receive``."""
        while True:
            command = await self.commands_in.get()
            if ("answer" in command or "decline" in command) and not self.decision.done():
                self.decision.set_result(command)
            if "say" in command:
                chunks = await asyncio.to_thread(spoken, str(command.get("say") or ""))
                self.prompt = chunks
                self.farewell = command.get("then") == "hangup"
            if isinstance(command.get("join"), dict):
                self.join_spec = command["join"]

    async def _hang_up(self, ended: dict[str, Any] | None = None) -> None:
        """End the SIP call unless the other side has (a CANCEL before an answer, a BYE after);
        ``ended`` is what the call's end is then reported as."""
        if (self.ended is not None and ended is None) or not hasattr(self, "sip"):
            return
        self.hung_up_by_us = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.session.message(self.sip, {"request": "hangup"}), JANUS_PATIENCE)
        self.stopping.clear()  # wait for the plugin's hangup event, however we got here
        result = None
        with contextlib.suppress(Failure):
            deadline = time.monotonic() + HANGUP_WAIT
            while (result := await self._sip_event(max(0.1, deadline - time.monotonic()))) is not None:
                if result["event"] == "hangup":
                    break
        self.ended = ended or {"code": 200, "reason": "Hung up by Podium"}

    # --- the bridge -------------------------------------------------------------------------------
    async def _bridge(self) -> None:
        """Speak the invitation, join the room, and carry both ways until either side hangs up."""
        receivers = [r for r in self.pc.getReceivers() if r.track is not None and r.track.kind == "audio"]
        if not receivers:
            raise Failure("the call has no audio")
        phone_voice = asyncio.create_task(self._from_phone(receivers[0].track))
        try:
            while self.prompt and not self.stopping.is_set():
                await self._watch_call(0.2)
            if self.stopping.is_set() or self.ended is not None:
                return
            await self._publish()
            answered = time.monotonic()
            while not self.stopping.is_set() and self.ended is None:
                await self._watch_call(LOOK_EVERY)
                if self.ended is not None or self.stopping.is_set():
                    return
                try:
                    await self.room.look()
                    answered = time.monotonic()
                    self._tell_feeds()
                except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
                    if time.monotonic() - answered > JANUS_PATIENCE:
                        raise Failure(f"the media server does not answer: {exc}") from exc
        finally:
            phone_voice.cancel()

    def _tell_feeds(self) -> None:
        """Who the phone hears (said when it changes): the room's publishers, those heard, and the
        connections of those not heard yet."""
        heard = sum(buffer.heard for _, buffer, _ in self.room.feeds.values())
        feeds = (len(self.room.feeds), heard, self.room.waiting())
        if feeds != getattr(self, "told_feeds", None):
            self.told_feeds = feeds
            self.status("feeds", publishers=feeds[0], heard=feeds[1], waiting=feeds[2])

    async def _watch_call(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the SIP handle to say the phone hung up."""
        result = await self._sip_event(timeout)
        if result is not None and result["event"] == "hangup":
            self.ended = {"code": result.get("code") or 200, "reason": result.get("reason") or "Hung up"}
        if self.session.lost:
            raise Failure(f"the media server ended the session: {self.session.lost}")

    async def _from_phone(self, track: MediaStreamTrack) -> None:
        """The phone's voice, decoded, into the room (silence while muted)."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        pending = np.zeros(0, dtype=np.int16)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                for each in resampler.resample(frame):  # type: ignore[arg-type]
                    pending = np.concatenate((pending, each.to_ndarray().reshape(-1).astype(np.int16)))
                while len(pending) >= TICK_SAMPLES:
                    chunk, pending = pending[:TICK_SAMPLES], pending[TICK_SAMPLES:]
                    if self.joined:
                        self.to_room.put(np.zeros_like(chunk) if self.muted else chunk)

    async def _mix(self) -> None:
        """Every 20 ms: the invitation while it lasts, then the room, to the phone. Every few seconds
        it says how the clock kept up (``clock``: ticks, late ticks, frames the phone was sent)."""
        start, tick = time.monotonic(), 0
        ticks = late = 0
        told = time.monotonic()
        saying = False
        while True:
            tick += 1
            ticks += 1
            delay = start + tick * TICK - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -TICK:
                late += 1  # a tick more than 20 ms late: the phone hears a gap unless its buffer hides it
            if delay < -0.5:  # far behind (a stalled machine): start the clock again
                start, tick = time.monotonic(), 0
            if time.monotonic() - told >= CLOCK_EVERY:
                told = time.monotonic()
                self.status("clock", ticks=ticks, late=late, sent=self.to_phone.sent)
            if self.prompt:
                self.to_phone.put(self.prompt.pop(0))
                saying = True
            elif saying:  # the prompt is over (or a key cut it short): a wait for keys starts now
                saying = False
                self.status("said")
                self.to_phone.put(np.zeros(TICK_SAMPLES, dtype=np.int16))
            elif self.joined:
                self.to_phone.put(self.room.mix())
            else:
                self.to_phone.put(np.zeros(TICK_SAMPLES, dtype=np.int16))

    async def _publish(self) -> None:
        """Join the room as a publisher named after the callee, carrying the phone's voice."""
        self.publisher_handle = await self.room_session.attach(self._on_room)
        await self.room_session.message(
            self.publisher_handle,
            {
                "request": "join",
                "ptype": "publisher",
                "room": self.room.room,
                "display": getattr(self, "display", self.spec.display),
            },
        )
        joined = await self._room_event(lambda e: plugin_data(e).get("videoroom") == "joined")
        self.room.own = int(plugin_data(joined)["id"])
        self.publisher_pc = RTCPeerConnection()
        self.publisher_pc.addTransceiver(self.to_room, direction="sendonly")
        await self.publisher_pc.setLocalDescription(await self.publisher_pc.createOffer())
        await self.room_session.message(
            self.publisher_handle,
            {"request": "configure", "audio": True, "video": False},
            local_jsep(self.publisher_pc.localDescription),
        )
        answer = await self._room_event(lambda e: (e.get("jsep") or {}).get("type") == "answer")
        await self.publisher_pc.setRemoteDescription(RTCSessionDescription(answer["jsep"]["sdp"], "answer"))
        self.joined = True
        await self.room.look()
        self.status("joined", publisher=self.room.own)

    async def _on_room(self, event: dict[str, Any]) -> None:
        await self.room_events.put(event)

    async def _room_event(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + JANUS_PATIENCE
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("the media server did not let the phone into the room")
            event = await asyncio.wait_for(self.room_events.get(), left)
            data = plugin_data(event)
            if data.get("error"):
                raise Failure(f"the media server refused the phone in the room: {data['error']}")
            if wanted(event):
                return event

    async def _leave(self) -> None:
        for publisher in list(self.room.feeds):
            with contextlib.suppress(Exception):
                await self.room.drop(publisher)
        for pc in (getattr(self, "publisher_pc", None), getattr(self, "pc", None)):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()
        for session in {id(s): s for s in (self.room_session, self.session)}.values():
            with contextlib.suppress(Exception):
                await session.destroy()
        await self.http.aclose()


def main() -> None:
    serve_process(PhoneSpec.from_json, lambda spec, status, commands: Gateway(spec, status, commands).run())
