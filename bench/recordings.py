"""Benchmark: composing a recording, in seconds of work per recorded minute, on this machine.

Makes the tracks a meeting of N participants leaves once janus-pp-rec has converted them (a VP8
WebM camera at 640×480, 20 fps, and an Opus microphone per person; people arrive a few seconds
apart, so the grid changes layout as they come), then runs the same composition the media worker
runs (domain/recordings/composer.py): the MP4 grid with the mixed audio, and the MP3.

    .venv/bin/python bench/recordings.py [--minutes 1] [--people 2 6]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from podium.domain.recordings.composer import Track, compose


def _tracks(folder: Path, people: int, seconds: float) -> list[Track]:
    tracks = []
    for person in range(people):
        start = 2.0 * person
        length = seconds - start
        video, audio = folder / f"{person}-video.webm", folder / f"{person}-audio.opus"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size=640x480:rate=20:duration={length}",
            ]
            + ["-c:v", "libvpx", "-b:v", "500k", "-deadline", "realtime", "-cpu-used", "8", str(video)],
            check=True,
        )
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={300 + 50 * person}:duration={length}",
            ]
            + ["-c:a", "libopus", "-b:a", "32k", str(audio)],
            check=True,
        )
        tracks.append(Track(str(person), "video", video, start, length))
        tracks.append(Track(str(person), "audio", audio, start, length))
    return tracks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--people", type=int, nargs="+", default=[2, 6])
    args = parser.parse_args()
    seconds = 60 * args.minutes
    print("| participants | recorded | MP4 (grid + mix) | MP3 (mix) | work per recorded minute |")
    print("|---|---|---|---|---|")
    for people in args.people:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            tracks = _tracks(folder, people, seconds)
            began = time.perf_counter()
            compose(tracks, "video", folder / "recording.mp4", ffmpeg="ffmpeg", timeout=3600)
            video_seconds = time.perf_counter() - began
            began = time.perf_counter()
            compose(tracks, "audio", folder / "recording.mp3", ffmpeg="ffmpeg", timeout=3600)
            audio_seconds = time.perf_counter() - began
        per_minute = (video_seconds + audio_seconds) / args.minutes
        cells = [f"{people}", f"{seconds:.0f} s", f"{video_seconds:.1f} s", f"{audio_seconds:.1f} s"]
        print("| " + " | ".join([*cells, f"{per_minute:.1f} s"]) + " |")


if __name__ == "__main__":
    main()
