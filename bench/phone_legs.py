"""Benchmark: concurrent phone legs per core before the phones' audio falls behind (issue #16).

One Janus of our own (VideoRoom and SIP plugins, as `podium serve` starts it with a trunk), one room
in which a participant plays a steady tone (the playout process, as a ``broadcast_stream_url`` does),
and a baresip on loopback as the trunk's far end, answering every call (tests/fixtures/phone.py).
For each count of legs, that many gateway processes (rooms/phone/, what the phone keeper runs per
call) call the phone, hear the invitation, join the room and carry audio both ways for --seconds.

Each gateway reports its 20 ms clock (ticks more than 20 ms late) and the frames it sent its phone;
CPU comes from /proc (user + system over the measured span): the gateways, Janus, the machine. The
first row (1 leg) is the baseline of the same run: a leg whose frame rate or late ticks are much
worse than that row's is a leg the machine could not carry. "Keeps up" means every phone got at least
48 of its 50 frames a second and under 1 % of the clock's ticks were late.

    .venv/bin/python bench/phone_legs.py [--legs 1,2,4,6,8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from room_load import cpu_seconds, machine_busy_seconds  # noqa: E402
from tests.fixtures.phone import phone  # noqa: E402

from podium.rooms.broadcast.playout import Playout, PlayoutSpec  # noqa: E402
from podium.rooms.janus import JanusClient, LocalJanus  # noqa: E402
from podium.rooms.phone import PhoneCall, PhoneSpec  # noqa: E402

NUMBER = "15557654321"
ROOM = 7001


def _tone(folder: Path) -> Path:
    wav = folder / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=600"]
        + ["-af", "volume=0.5", "-ar", "48000", "-ac", "1", str(wav)],
        check=True,
    )
    return wav


def _clock(call: PhoneCall) -> dict[str, Any] | None:
    clocks = [e for e in call.events if e.get("event") == "clock"]
    return clocks[-1] if clocks else None


def run_legs(janus: JanusClient, api_url: str, trunk: str, legs: int, seconds: float) -> dict[str, Any]:
    calls = []
    for _ in range(legs):
        token = secrets.token_hex(16)
        janus.add_token(token, sip=True)
        call = PhoneCall(
            PhoneSpec(
                janus_api_url=api_url,
                janus_token=token,
                room=ROOM,
                call_uri=f"sip:+{NUMBER}@{trunk}",
                display="bench phone",
                invitation="Welcome.",
                ring_seconds=20,
            )
        )
        call.start()
        calls.append(call)
    for call in calls:
        if call.wait_event(lambda e: e.get("event") in ("joined", "ended", "failed"), 60) is None:
            raise SystemExit(f"a leg did not join: {call.events} {call.failure}")
        if any(e.get("event") in ("ended", "failed") for e in call.events):
            raise SystemExit(f"a leg ended before joining: {call.events}")
    time.sleep(6)  # the invitation, and every clock report at least once
    first = [_clock(call) for call in calls]
    cpu0 = sum(cpu_seconds(call.pid or 0) for call in calls)
    janus0, busy0, t0 = cpu_seconds(janus_pid_of(api_url)), machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    last = [_clock(call) for call in calls]
    cpu1 = sum(cpu_seconds(call.pid or 0) for call in calls)
    janus1, busy1, t1 = cpu_seconds(janus_pid_of(api_url)), machine_busy_seconds(), time.monotonic()
    span = t1 - t0
    rates, lates = [], []
    for before, after in zip(first, last, strict=True):
        if before is None or after is None or after["ticks"] == before["ticks"]:
            rates.append(0.0)
            lates.append(100.0)
            continue
        elapsed = (after["ticks"] - before["ticks"]) * 0.02
        rates.append((after["sent"] - before["sent"]) / elapsed)
        lates.append(100 * (after["late"] - before["late"]) / (after["ticks"] - before["ticks"]))
    for call in calls:
        call.stop()
    return {
        "legs": legs,
        "gateway_cores": (cpu1 - cpu0) / span,
        "janus_cores": (janus1 - janus0) / span,
        "machine_cores": (busy1 - busy0) / span,
        "min_fps": min(rates),
        "max_late": max(lates),
    }


_JANUS: dict[str, int] = {}


def janus_pid_of(api_url: str) -> int:
    return _JANUS[api_url]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", default="1,2,4,6,8")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.legs.split(",")]
    with tempfile.TemporaryDirectory(prefix="podium-phone-bench-") as folder:
        base = Path(folder)
        local = LocalJanus(base / "data", sip=True)
        endpoint = local.start()
        assert local.process is not None
        _JANUS[endpoint.api_url] = local.process.pid
        janus = JanusClient(endpoint)
        try:
            janus.create_room(ROOM, secret=secrets.token_hex(8), publishers=50, description="bench")
            tone_token = secrets.token_hex(16)
            janus.add_token(tone_token)
            tone = Playout(PlayoutSpec(endpoint.api_url, tone_token, ROOM, str(_tone(base)), display="Room"))
            tone.start()
            if tone.wait_event(lambda e: e.get("event") == "publishing", 30) is None:
                raise SystemExit(f"the room's tone did not publish: {tone.events} {tone.failure}")
            tone._send('{"play": true}')
            with phone(base, speech="Hello from the bench phone.", user=f"+{NUMBER}") as device:
                device.command("answermode", "auto")
                rows = [run_legs(janus, endpoint.api_url, device.host_port, n, args.seconds) for n in counts]
            tone.stop()
        finally:
            local.stop()
    cores = os.cpu_count() or 1
    day, machine = time.strftime("%Y-%m-%d"), platform.machine()
    print(f"\nPhone legs — {day}, {machine}, {cores} cores, {args.seconds:.0f} s each")
    print(
        "| legs | gateways (cores) | per leg (% of a core) | Janus (cores) | machine (cores) "
        "| frames/s to the slowest phone | late ticks (worst leg) | keeps up |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        keeps = row["min_fps"] >= 48 and row["max_late"] < 1
        per_leg = 100 * row["gateway_cores"] / row["legs"]
        print(
            f"| {row['legs']} | {row['gateway_cores']:.2f} | {per_leg:.0f} % "
            f"| {row['janus_cores']:.2f} | {row['machine_cores']:.2f} | {row['min_fps']:.1f} "
            f"| {row['max_late']:.1f} % | {'yes' if keeps else 'no'} |"
        )
    carried = [row for row in rows if row["min_fps"] >= 48 and row["max_late"] < 1]
    if carried:
        best = max(carried, key=lambda r: r["legs"])
        print(f"\nMost legs kept up: {best['legs']} on {cores} cores ({best['legs'] / cores:.1f} per core).")


if __name__ == "__main__":
    main()
