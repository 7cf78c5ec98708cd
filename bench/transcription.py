"""Benchmark: transcription real-time factor (processing seconds / audio seconds) on this machine.

Makes a 60-second Opus file of speech with espeak-ng (common sentences with short pauses, the way a
participant's recorded track sounds, padded with silence to the length), transcribes it with the
configured engine (PocketSphinx by default) and prints the time to load the model, the time to
transcribe, the real-time factor, the peak memory of this process, and the recall of the spoken
content words (espeak-ng's synthetic voice is not a person: recall on real speech differs).

    .venv/bin/python bench/transcription.py [--seconds 60] [--pause 0.6] [--option maxhmmpf=3000]
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from podium.kit.speech import PocketSphinxTranscriber

SENTENCES = [
    "The weather is nice today.",
    "We will meet at the office tomorrow morning.",
    "Thank you all for coming.",
    "Let us start with the first question.",
    "Good morning everyone.",
    "Please open the door and close the window.",
    "The children are playing in the park.",
    "I would like a cup of coffee.",
    "We need more time to finish the work.",
    "The meeting will start at ten o'clock.",
    "My phone number is five five five one two three four.",
    "The price of the house is very high.",
    "Can you hear me now.",
    "Please send me the report before the end of the week.",
    "I think we should talk about the new project next Monday.",
    "The train was late again this morning.",
    "Could you share your screen with the team.",
    "We have three new customers this month.",
]
STOP_WORDS = {
    *("a", "all", "an", "and", "are", "at", "be", "for", "i", "in", "is", "me", "my"),
    *("of", "on", "the", "this", "to", "us", "was", "we", "will", "with", "you", "your"),
}
VOICE = "en-us+f2"


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def make_speech(folder: Path, seconds: float, pause: float) -> tuple[Path, list[str]]:
    """An Opus file of ``seconds`` of sentences (as many as fit) separated by ``pause`` of silence."""
    pcm = bytearray()
    rate = 0
    spoken: list[str] = []
    for index in range(1000):
        sentence = SENTENCES[index % len(SENTENCES)]
        path = folder / "sentence.wav"
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", "150", "-w", str(path), sentence], check=True)
        with wave.open(str(path)) as sound:
            rate = sound.getframerate()
            said = sound.readframes(sound.getnframes())
        gap = bytes(2 * int(pause * rate))
        if len(pcm) + len(said) > 2 * seconds * rate:
            break
        pcm += said + gap
        spoken.append(sentence)
    pcm = pcm[: 2 * int(seconds * rate)]
    pcm += bytes(2 * int(seconds * rate) - len(pcm))
    raw = folder / "speech.wav"
    with wave.open(str(raw), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(pcm))
    audio = folder / "speech.opus"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(raw), "-c:a", "libopus", str(audio)],
        check=True,
    )
    return audio, spoken


def option(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, {"yes": True, "no": False}.get(value, value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the audio file")
    parser.add_argument("--pause", type=float, default=0.6, help="silence between sentences, in seconds")
    parser.add_argument(
        "--option", action="append", default=[], type=option, help="a PocketSphinx decoder option, name=value"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        audio, spoken = make_speech(Path(folder), args.seconds, args.pause)
        transcriber = PocketSphinxTranscriber(decoder_options=dict(args.option))

        silence = Path(folder) / "silence.wav"
        with wave.open(str(silence), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(bytes(32000))
        started = time.perf_counter()
        transcriber.transcribe(silence)  # loads the model
        loaded = time.perf_counter() - started

        started = time.perf_counter()
        cpu_started = time.process_time()
        cues = transcriber.transcribe(audio)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started

    said = words(" ".join(spoken)) - STOP_WORDS
    heard = words(" ".join(cue.text for cue in cues))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"engine {transcriber.name} {dict(args.option) or '(default options)'}, voice espeak-ng {VOICE}")
    print(f"audio: {args.seconds:.0f} s Opus, {len(spoken)} sentences, pauses of {args.pause:.1f} s")
    print(f"model load (once per transcriber): {loaded:.2f} s")
    print(f"transcription: {elapsed:.2f} s wall, {cpu:.2f} s CPU (this process; ffmpeg decodes alongside)")
    print(f"real-time factor: {elapsed / args.seconds:.3f} (processing seconds / audio seconds)")
    print(f"CPU real-time factor: {cpu / args.seconds:.3f} (on CPU time: steadier on a busy machine)")
    print(f"cues: {len(cues)}, content-word recall {len(said & heard) / len(said):.2f} ({len(said)} words)")
    print(f"peak memory (ru_maxrss): {peak_mib:.1f} MiB")


if __name__ == "__main__":
    main()
