"""Key presses from the phone: RFC 4733 (RFC 2833) ``telephone-event`` received by aiortc.

Janus's SIP plugin relays the SIP side's ``telephone-event`` RTP packets to the WebRTC side, but
Janus 1.1.2 does so only when the WebRTC peer negotiated ``telephone-event``. aiortc neither offers
nor answers it, and it routes and decodes RTP by codec: a packet of a payload type that is none of
its codecs is dropped by its RTP router (``RtpRouter.route_rtp``) and again by the receiver
(``RTCRtpReceiver._handle_rtp_packet``). So this module

- adds ``telephone-event/8000`` to the SDP we send to Janus (``offer_with_telephone_event``,
  ``answer_with_telephone_event``; aiortc's own description is left as it is: aiortc ignores the
  codec in the remote description);
- wraps those two aiortc methods (``install``): a packet of the payload type a receiver listens to
  (``listen``) is routed to that receiver (by its SSRC, which it shares with the call's audio) and
  turned into a digit there instead of entering aiortc's codec path. Every other packet goes
  aiortc's way untouched.

Janus 1.2.1 and later tell the key presses themselves (a ``dtmf`` event of the SIP plugin, whatever
the WebRTC peer negotiated): with such a Janus, drop these wraps and read that event.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from aiortc.rtcdtlstransport import RtpReceiver, RtpRouter
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

log = logging.getLogger(__name__)

DIGITS = "0123456789*#ABCD"  # RFC 4733 events 0-15; 16 (flash) and above are not digits
PREFERRED_PT = 101
DYNAMIC_PTS = range(96, 128)
_RTPMAP = re.compile(r"a=rtpmap:(\d+) ([^/\s]+)/(\d+)", re.IGNORECASE)


# -- SDP ---------------------------------------------------------------------------------------------


def _split(sdp: str) -> tuple[list[str], str]:
    """The lines of ``sdp`` (without a trailing empty one) and its line ending."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    return sdp.removesuffix(newline).split(newline), newline


def _first_audio(lines: list[str]) -> tuple[int, int] | None:
    """Where the first ``m=audio`` section is: its ``m=`` line and the index after its last line."""
    start = next((i for i, line in enumerate(lines) if line.startswith("m=audio ")), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("m=")), len(lines))
    return start, end


def _formats(m_line: str) -> list[str]:
    return m_line.split()[3:]  # m=audio <port> <proto> <fmt>...


def telephone_event_pt(sdp: str) -> int | None:
    """The payload type of ``telephone-event/8000`` in the first audio section of ``sdp`` (listed on
    its ``m=`` line and mapped by an ``a=rtpmap``), or None when it has none."""
    lines, _ = _split(sdp)
    section = _first_audio(lines)
    if section is None:
        return None
    start, end = section
    formats = _formats(lines[start])
    for line in lines[start + 1 : end]:
        match = _RTPMAP.match(line)
        if match and match[2].lower() == "telephone-event" and match[3] == "8000" and match[1] in formats:
            return int(match[1])
    return None


def _taken(lines: list[str], start: int, end: int) -> set[int]:
    taken = {int(fmt) for fmt in _formats(lines[start]) if fmt.isdigit()}
    taken.update(int(match[1]) for line in lines[start + 1 : end] if (match := _RTPMAP.match(line)))
    return taken


def free_payload_type(sdp: str, preferred: int = PREFERRED_PT) -> int:
    """``preferred`` unless the first audio section of ``sdp`` uses it; then the first dynamic payload
    type (96-127) it does not use. ValueError when it has no audio section or no free one."""
    lines, _ = _split(sdp)
    section = _first_audio(lines)
    if section is None:
        raise ValueError("the description has no audio section")
    taken = _taken(lines, *section)
    candidates: list[int] = [preferred, *DYNAMIC_PTS]
    for pt in candidates:
        if pt not in taken:
            return pt
    raise ValueError("no dynamic payload type is free on the audio section")


def with_telephone_event(sdp: str, pt: int) -> str:
    """``sdp`` with ``telephone-event/8000`` on payload type ``pt`` in its first audio section: ``pt``
    appended to the ``m=`` line, ``a=rtpmap:<pt> telephone-event/8000`` and ``a=fmtp:<pt> 0-16``
    after its other ``rtpmap``/``fmtp`` lines. The line endings are kept. Unchanged when it already
    has it on ``pt`` or has no audio section; ValueError when ``pt`` is another codec's there."""
    if telephone_event_pt(sdp) == pt:
        return sdp
    lines, newline = _split(sdp)
    section = _first_audio(lines)
    if section is None:
        return sdp
    start, end = section
    if pt in _taken(lines, start, end):
        raise ValueError(f"payload type {pt} is taken in the audio section")
    after = max(
        (i for i in range(start, end) if lines[i].startswith(("a=rtpmap:", "a=fmtp:"))), default=end - 1
    )
    lines[after + 1 : after + 1] = [f"a=rtpmap:{pt} telephone-event/8000", f"a=fmtp:{pt} 0-16"]
    lines[start] = f"{lines[start]} {pt}"
    return newline.join(lines) + newline


def offer_with_telephone_event(offer: str) -> tuple[str, int]:
    """Our offer with ``telephone-event`` added on a free payload type (101 if it can), and that payload
    type: the one the phone's key presses will come on (the answer uses the offer's numbers)."""
    pt = free_payload_type(offer)
    return with_telephone_event(offer, pt), pt


def answer_with_telephone_event(answer: str, offer: str) -> tuple[str, int | None]:
    """Our answer with ``telephone-event`` added on the payload type the remote ``offer`` gave it, and
    that payload type; the answer unchanged and None when the offer has no ``telephone-event``."""
    pt = telephone_event_pt(offer)
    if pt is None:
        return answer, None
    return with_telephone_event(answer, pt), pt


# -- RTP ---------------------------------------------------------------------------------------------


@dataclass
class _Listener:
    pt: int
    on_digit: Callable[[str], None]
    # An event's end packet is sent three times (RFC 4733 2.5.1.4), all with the event's timestamp.
    seen: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=16))

    def feed(self, packet: RtpPacket) -> None:
        payload = packet.payload
        if len(payload) < 4 or not payload[1] & 0x80:  # event, E|R|volume, duration (16 bits)
            return
        event, key = payload[0], (packet.timestamp, payload[0])
        if key in self.seen:
            return
        self.seen.append(key)
        if event >= len(DIGITS):
            return
        try:
            self.on_digit(DIGITS[event])
        except Exception:  # raised into aiortc, it would end the whole transport
            log.exception("a DTMF listener failed")


_listeners: WeakKeyDictionary[object, _Listener] = WeakKeyDictionary()
_original_route_rtp = RtpRouter.route_rtp
_original_handle_rtp_packet = RTCRtpReceiver._handle_rtp_packet


def _listens(receiver: object, pt: int) -> bool:
    listener = _listeners.get(receiver)
    return listener is not None and listener.pt == pt


def _route_rtp(self: RtpRouter, packet: RtpPacket) -> RtpReceiver | None:
    """``RtpRouter.route_rtp``, also routing a listened-to ``telephone-event`` packet to the receiver of
    its SSRC. aiortc learns a stream's SSRC from its first packet of a codec only one receiver has;
    an event before any audio is taught the same way when only one receiver listens to its payload
    type. Anything else is aiortc's to route (which drops a payload type none of its codecs has)."""
    receiver = self.ssrc_table.get(packet.ssrc)
    if receiver is None:
        listening = [r for r in self.receivers if _listens(r, packet.payload_type)]
        if len(listening) == 1:
            receiver = self.ssrc_table[packet.ssrc] = listening[0]
    if receiver is not None and _listens(receiver, packet.payload_type):
        return receiver
    return _original_route_rtp(self, packet)


async def _handle_rtp_packet(self: RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int) -> None:
    """``RTCRtpReceiver._handle_rtp_packet``, turning a listened-to ``telephone-event`` packet into a
    digit instead (aiortc would drop it: it is none of its codecs)."""
    listener = _listeners.get(self)
    if listener is None or packet.payload_type != listener.pt:
        await _original_handle_rtp_packet(self, packet, arrival_time_ms)
    elif self._enabled:  # aiortc's own test: the transceiver does not receive (sendonly, inactive)
        listener.feed(packet)


def install() -> None:
    """Wrap aiortc's RTP router and receiver, once per process (again is a no-op). Any time before the
    key presses arrive: the wraps are on the classes, every peer connection has them."""
    RtpRouter.route_rtp = _route_rtp  # type: ignore[method-assign]
    RTCRtpReceiver._handle_rtp_packet = _handle_rtp_packet  # type: ignore[method-assign]


def uninstall() -> None:
    """Put aiortc's own methods back (the listeners stay, unheard until ``install``)."""
    RtpRouter.route_rtp = _original_route_rtp  # type: ignore[method-assign]
    RTCRtpReceiver._handle_rtp_packet = _original_handle_rtp_packet  # type: ignore[method-assign]


def listen(receiver: RTCRtpReceiver, pt: int, on_digit: Callable[[str], None]) -> None:
    """Call ``on_digit`` with each key pressed (one of ``0123456789*#ABCD``, once per press) that comes
    to ``receiver`` as ``telephone-event`` packets of payload type ``pt``. It runs on the event loop,
    inside aiortc's packet handling: it must not block (an exception is logged). A receiver has one
    listener: listening again replaces it. Needs ``install``."""
    _listeners[receiver] = _Listener(pt, on_digit)


def forget(receiver: RTCRtpReceiver) -> None:
    """Stop listening to ``receiver`` (its ``telephone-event`` packets are aiortc's again: dropped)."""
    _listeners.pop(receiver, None)
