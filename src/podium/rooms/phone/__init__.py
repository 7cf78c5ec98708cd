"""A phone leg: one call through Janus's SIP plugin bridged into a room (ADR 0014).

A process of its own per leg (``python -m podium.rooms.phone``), supervised like the compositor
(``rooms/broadcast.Broadcast``): its spec as one JSON line on its standard input, JSON status lines on
its standard output, commands as JSON lines on its standard input, SIGTERM a clean stop (it hangs up),
the end of its standard input (the server has gone) a stop.

Status lines:

- ``{"event": "ringing"}``: the far end rings (180/183).
- ``{"event": "answered"}``: the callee answered; the invitation is spoken, then it joins the room.
- ``{"event": "connected"}``: the media path to the SIP side is up (after ``answered``, either way):
  from now on the phone hears us and its keys reach us; before, Janus drops what it sends.
- ``{"event": "joined", "publisher": id}``: the phone's voice is published in the room and the
  phone hears the room.
- ``{"event": "feeds", "publishers": n, "heard": m, "waiting": ["connecting/checking", …]}``: whom
  the phone hears (when it changes), and the state of each connection whose sound has not come yet
  (``connectionState/iceConnectionState``, or ``no offer yet``).
- ``{"event": "clock", "ticks": n, "late": m, "sent": k}``: every 5 s, how the 20 ms clock kept
  up since the start (ticks more than 20 ms late) and the frames the phone was sent.
- ``{"event": "ended", "code": 200, "reason": "…", "answered": bool, "by": "phone"|"podium"}``: the
  call is over (hung up by either side, refused, unanswered within the ring time, or unreachable);
  the exit status is 0.
- ``{"event": "failed", "reason": "…"}`` (exit status 1): the media server or the room failed.

Commands: ``{"hangup": true}``; ``{"mute": true|false}`` (the phone's voice stops or goes on
reaching the room; the phone still hears it).

A dial-in gateway (``direction`` "in") has no callee: it registers at the SIP front as a contact of
``register_uri`` and waits for a call. Its status lines, besides ``joined``, ``feeds``, ``clock``,
``ended`` and ``failed``:

- ``{"event": "armed"}``: registered; the front hands it the next call.
- ``{"event": "incoming", "dialled": uri, "caller": uri, "display": name}``: a call came in (it
  rings); it waits for ``answer`` (or ``decline``).
- ``{"event": "answered"}``: it answered (and no longer takes calls).
- ``{"event": "dtmf", "digit": "5"}``: the caller pressed a key (RFC 4733 or SIP INFO).
- ``{"event": "said"}``: what it was asked to say is over (or a key cut it short).

Its commands: ``{"answer": true}``, ``{"decline": true}``, ``{"say": text}`` (spoken at once,
instead of anything still being said), ``{"say": text, "then": "hangup"}`` (a farewell),
``{"join": {"janus_api_url", "janus_token", "room", "display"}}`` (once the caller is admitted;
anything being said is finished first).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from podium.rooms.broadcast import Broadcast


@dataclass(frozen=True)
class PhoneSpec:
    """One call: the room it joins (which Janus, its token, the room), who it calls (a SIP URI
    through an optional outbound proxy, with digest credentials when the trunk asks for them), the
    name the room sees, what the callee hears first, and how long it may ring."""

    janus_api_url: str
    janus_token: str
    room: int
    call_uri: str
    display: str
    invitation: str = ""
    proxy: str = ""
    auth_user: str = ""
    auth_secret: str = ""
    caller: str = "sip:podium@localhost"
    ring_seconds: float = 45.0
    direction: str = "out"  # out: call ``call_uri``; in: register ``register_uri`` at ``proxy``, answer
    register_uri: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PhoneSpec:
        """Read a spec, refusing what would not make a call (ValueError)."""
        try:
            raw = json.loads(text)
            spec = cls(
                janus_api_url=str(raw["janus_api_url"]),
                janus_token=str(raw["janus_token"]),
                room=int(raw["room"]),
                call_uri=str(raw["call_uri"]),
                display=str(raw.get("display") or "Phone")[:100],
                invitation=str(raw.get("invitation") or "")[:2000],
                proxy=str(raw.get("proxy") or ""),
                auth_user=str(raw.get("auth_user") or ""),
                auth_secret=str(raw.get("auth_secret") or ""),
                caller=str(raw.get("caller") or "sip:podium@localhost"),
                ring_seconds=float(raw.get("ring_seconds", 45.0)),
                direction=str(raw.get("direction") or "out"),
                register_uri=str(raw.get("register_uri") or ""),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a phone spec: {exc!r}") from exc
        if spec.direction == "in":
            if not spec.register_uri.startswith("sip:") or not spec.proxy.startswith("sip:"):
                raise ValueError("a dial-in gateway needs register_uri and proxy as sip: URIs")
        elif spec.direction != "out":
            raise ValueError("direction must be out or in")
        elif not spec.call_uri.startswith("sip:") or not spec.caller.startswith("sip:"):
            raise ValueError("call_uri and caller must be sip: URIs")
        if not 1 <= spec.ring_seconds <= 300:
            raise ValueError("ring_seconds must be from 1 to 300")
        return spec


class PhoneCall(Broadcast):
    """One phone leg's process, seen from the server."""

    module = "podium.rooms.phone"
    what = "the phone gateway"

    def __init__(self, spec: PhoneSpec, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self.phone_spec = spec

    def hang_up(self) -> None:
        self._send(json.dumps({"hangup": True}))

    def mute(self, muted: bool) -> None:
        self._send(json.dumps({"mute": muted}))

    def command(self, **command: Any) -> None:
        """A dial-in call's next step (``answer``, ``decline``, ``say``, ``join``)."""
        self._send(json.dumps(command))
