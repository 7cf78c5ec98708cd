"""The playout of a conference's ``broadcast_stream_url``: a fetched MP4 published into the room as a
participant named "Broadcast", so that everyone in the room sees and hears it and the compositor
puts it into the stream like anyone else (domain/streams/broadcasts.py).

A process of its own (``python -m podium.rooms.broadcast.playout_process``), supervised like the
compositor (``Broadcast``): its spec as one JSON line on its standard input, JSON status lines on its
standard output, SIGTERM a clean stop, the end of its standard input (the server has gone) a stop.

Status lines:

- ``{"event": "publishing", "publisher": id}``: it publishes in the room (black and silent so far).
- ``{"event": "playing"}``: the file plays (after the ``{"play": true}`` command).
- ``{"event": "ended"}``: the file played to its end; it left the room and exits with status 0.
- ``{"event": "failed", "reason": "…"}`` (exit status 1) and ``{"event": "stopped"}`` as for the
  compositor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from podium.rooms.broadcast import Broadcast


@dataclass(frozen=True)
class PlayoutSpec:
    """Which room of which Janus (and the token it joins with), the file, the name everyone sees, the
    picture size it is published at (0 x 0: the file has no picture) and whether it has sound."""

    janus_api_url: str
    janus_token: str
    room: int
    path: str
    display: str = "Broadcast"
    width: int = 0
    height: int = 0
    audio: bool = True

    @property
    def video(self) -> bool:
        return self.width > 0 and self.height > 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PlayoutSpec:
        """Read a spec, refusing what would not play (ValueError)."""
        try:
            raw = json.loads(text)
            spec = cls(
                janus_api_url=str(raw["janus_api_url"]),
                janus_token=str(raw["janus_token"]),
                room=int(raw["room"]),
                path=str(raw["path"]),
                display=str(raw.get("display") or "Broadcast")[:100],
                width=int(raw.get("width", 0)),
                height=int(raw.get("height", 0)),
                audio=bool(raw.get("audio", True)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a playout spec: {exc!r}") from exc
        if spec.video and (not (16 <= spec.width <= 3840 and 16 <= spec.height <= 2160) or spec.width % 2):
            raise ValueError("width and height must be even, from 16x16 to 3840x2160")
        if not spec.video and not spec.audio:
            raise ValueError("nothing to play: no picture and no sound")
        return spec


class Playout(Broadcast):
    """One playout process, seen from the server: ``play()`` starts the file (it publishes black
    and silence until then); ``ended`` says the file played to its end."""

    module = "podium.rooms.broadcast.playout_process"
    what = "the playout"

    def __init__(self, spec: PlayoutSpec) -> None:
        super().__init__(spec)
        self.playout_spec = spec

    def play(self) -> None:
        self._send(json.dumps({"play": True}))

    @property
    def ended(self) -> bool:
        return any(event.get("event") == "ended" for event in list(self.events))
