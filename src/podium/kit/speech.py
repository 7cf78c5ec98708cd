"""Speech to text for recordings' transcripts (issue #13, "Transcripts").

A ``Transcriber`` turns one audio file (anything ffmpeg reads: opus, ogg, webm, wav, mp3…) into timed
``Cue``s. Recordings keep each participant's own audio track; each track is transcribed on its own and
``merge_speakers`` puts the tracks' cues in meeting time order, so every ``Line`` says who spoke.
``to_webvtt`` and ``to_text`` write the two transcript formats.

The engine is behind the ``Transcriber`` protocol and chosen by one setting (``make_transcriber``,
``PODIUM_TRANSCRIBER``). The built-in engine is PocketSphinx with the English model that ships inside
its wheel, so nothing is downloaded at run time; it runs on the CPU. A better engine (e.g. faster-whisper
with a model directory the operator provides) is one more class with ``name`` and ``transcribe`` and
one more accepted value in ``make_transcriber``.

Memory stays bounded whatever the file's length: ffmpeg decodes to 16 kHz mono 16-bit PCM on a pipe
that is read one 30 ms frame at a time; a voice activity detector (PocketSphinx's ``Endpointer``)
drops the silence and cuts the speech into utterances, and only the current utterance is held (at most
``max_utterance`` seconds, 960 kB for 30 s) while it is decoded. A participant's track is mostly
silence, which costs almost nothing to skip.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
import wave
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pocketsphinx import Decoder, Endpointer

from podium.config import COMMAND_PREFIX, DEFAULT_TRANSCRIBER, check_transcriber_setting

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # mono, 16-bit


class TranscriptionError(Exception):
    """The audio could not be transcribed (ffmpeg could not read it); the message says why."""


@dataclass(frozen=True)
class Cue:
    """Words spoken from ``start`` to ``end``, in seconds from the start of the audio file."""

    start: float
    end: float
    text: str


class Transcriber(Protocol):
    """An offline speech recogniser. ``name`` is what a transcript records as its engine.

    This is where another engine plugs in (e.g. a faster-whisper class reading the operator's model
    directory): it only has to turn a file into cues; merging and formats are shared.
    """

    name: str

    def transcribe(self, audio: Path) -> list[Cue]:
        """The cues of ``audio``, in time order; no cues for a file without speech."""
        ...


def make_transcriber(setting: str = DEFAULT_TRANSCRIBER) -> Transcriber | None:
    """The transcriber a ``PODIUM_TRANSCRIBER`` setting names, or None when transcription is off."""
    chosen = check_transcriber_setting(setting)
    if chosen == "pocketsphinx":
        return PocketSphinxTranscriber()
    if chosen == "off":
        return None
    return CommandTranscriber(Path(chosen[len(COMMAND_PREFIX) :]))


# ---------------------------------------------------------------------------------------------------
# Decoding audio with ffmpeg


def pcm_frames(audio: Path, frame_bytes: int, ffmpeg: str = "ffmpeg") -> Generator[bytes, None, None]:
    """``audio``'s first audio stream as 16 kHz mono s16le PCM, ``frame_bytes`` at a time (the last
    piece may be shorter), streamed from ffmpeg. TranscriptionError when ffmpeg cannot decode it.

    Closing the generator early stops ffmpeg.
    """
    source = f"file:{audio}"  # a path, never read as a protocol ("http:…", "concat:…") or an option
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", source,
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    # ffmpeg's messages go to a file, not a pipe: a pipe nobody reads would stall ffmpeg once full.
    with tempfile.TemporaryFile() as log:
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        except OSError as exc:
            raise TranscriptionError(f"ffmpeg could not be started: {exc}") from exc
        assert process.stdout is not None
        finished = False
        try:
            while chunk := process.stdout.read(frame_bytes):
                yield chunk
            finished = True
        finally:
            if not finished:
                process.kill()
            process.stdout.close()
            returncode = process.wait()
        if returncode != 0:
            log.seek(0)
            lines = log.read().decode("utf-8", "replace").strip().splitlines()
            # The first message says what went wrong; later ones are hints ("add a trailing '?'…").
            reason = (lines[0] if lines else f"exit status {returncode}").replace(source, "file")
            raise TranscriptionError(f"ffmpeg could not decode {audio.name}: {reason}")


# ---------------------------------------------------------------------------------------------------
# Another engine, as a program of the operator's


class CommandTranscriber:
    """An engine the operator provides as a program (``PODIUM_TRANSCRIBER=command:/path``), e.g. a
    few lines around faster-whisper or whisper.cpp with a model directory of their choosing.

    The program is run as ``program <audio.wav>`` (16 kHz mono WAV, decoded here) and prints a JSON
    array of ``{"start": seconds, "end": seconds, "text": "…"}`` on standard output; anything else,
    a non-zero exit or more than ``timeout`` seconds is a TranscriptionError.
    """

    def __init__(self, program: Path, *, ffmpeg: str = "ffmpeg", timeout: float = 6 * 3600) -> None:
        self.program = program
        self.ffmpeg = ffmpeg
        self.timeout = timeout
        self.name = f"command:{program.name}"[:32]

    def transcribe(self, audio: Path) -> list[Cue]:
        with tempfile.TemporaryDirectory() as scratch:
            wav = Path(scratch) / "audio.wav"
            with wave.open(str(wav), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                for chunk in pcm_frames(audio, 64 * 1024, self.ffmpeg):
                    out.writeframes(chunk)
            try:
                result = subprocess.run(
                    [str(self.program), str(wav)], capture_output=True, text=True, timeout=self.timeout
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise TranscriptionError(f"the transcriber {self.program.name} did not run: {exc}") from exc
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise TranscriptionError(f"the transcriber {self.program.name} failed: {reason[:300]}")
        try:
            cues = [
                Cue(float(item["start"]), float(item["end"]), str(item["text"]).strip())
                for item in json.loads(result.stdout)
            ]
        except (ValueError, TypeError, KeyError) as exc:
            raise TranscriptionError(
                f"the transcriber {self.program.name} printed no JSON array of start, end and text"
            ) from exc
        return sorted((c for c in cues if c.text and c.end >= c.start >= 0), key=lambda c: c.start)


# ---------------------------------------------------------------------------------------------------
# PocketSphinx

_ALTERNATE = re.compile(r"\(\d+\)$")


def spoken_word(token: str) -> str | None:
    """The word a PocketSphinx token stands for; None for fillers (``<s>``, ``</s>``, ``<sil>``,
    ``[NOISE]``, ``++garbage++``). Alternate pronunciations ``word(2)`` are the word."""
    if not token or token[0] in "<[+":
        return None
    return _ALTERNATE.sub("", token) or None


class PocketSphinxTranscriber:
    """PocketSphinx with its packaged US English model (``pocketsphinx.get_model_path()``).

    One file at a time per instance (the decoder is loaded once, on first use, and reused); make one
    instance per thread to transcribe in parallel. ``max_utterance`` bounds the speech held and decoded
    at once: longer stretches without a pause are cut there. ``max_cue`` bounds a cue's length.
    ``decoder_options`` go to PocketSphinx's ``Decoder`` as they are: the defaults are its most
    accurate search; e.g. ``{"maxhmmpf": 3000}`` prunes harder: faster, and fewer words recognised.
    """

    name: str = "pocketsphinx"

    def __init__(
        self,
        *,
        ffmpeg: str = "ffmpeg",
        max_utterance: float = 30.0,
        max_cue: float = 7.0,
        decoder_options: Mapping[str, Any] | None = None,
    ) -> None:
        if max_utterance <= 0 or max_cue <= 0:
            raise ValueError("max_utterance and max_cue must be positive")
        self.ffmpeg = ffmpeg
        self.decoder_options = dict(decoder_options or {})
        self.max_utterance = max_utterance
        self.max_cue = max_cue
        self._decoder: Any = None
        self._lock = threading.Lock()

    def transcribe(self, audio: Path) -> list[Cue]:
        with self._lock:
            if self._decoder is None:
                self._decoder = Decoder(
                    **{"loglevel": "FATAL", **self.decoder_options, "samprate": SAMPLE_RATE}
                )
            cues: list[Cue] = []
            for start, pcm in self.utterances(audio):
                cues.extend(self._decode(pcm, start))
            return cues

    def utterances(self, audio: Path) -> Iterator[tuple[float, bytes]]:
        """(start in seconds, 16 kHz mono s16le PCM) of each stretch of speech in ``audio``, silence
        left out, each at most ``max_utterance`` seconds long (give or take a frame)."""
        endpointer = Endpointer(sample_rate=SAMPLE_RATE)
        limit = int(self.max_utterance * BYTES_PER_SECOND)
        held: list[bytes] = []
        size = 0
        start = 0.0
        cut = False  # the last utterance was cut at max_utterance: the next one carries on from it
        frames = pcm_frames(audio, endpointer.frame_bytes, self.ffmpeg)
        try:
            following = next(frames, None)
            while following is not None:
                frame, following = following, next(frames, None)
                if following is None:  # the end: the endpointer gives back the speech it still holds
                    speech = endpointer.end_stream(frame) if endpointer.in_speech else None
                else:
                    speech = endpointer.process(frame)
                if speech is None:
                    continue
                if not held and not cut:
                    start = endpointer.speech_start
                held.append(speech)
                size += len(speech)
                cut = endpointer.in_speech and size >= limit
                if cut or not endpointer.in_speech:
                    yield start, b"".join(held)
                    start += size / BYTES_PER_SECOND
                    held.clear()
                    size = 0
            if held:
                yield start, b"".join(held)
        finally:
            frames.close()

    def _decode(self, pcm: bytes, offset: float) -> list[Cue]:
        decoder = self._decoder
        decoder.start_utt()
        try:
            # full_utt: the cepstral mean comes from this utterance, not from the one before it (or from
            # the model's initial guess, which made the first utterance of a file the worst recognised).
            decoder.process_raw(pcm, no_search=False, full_utt=True)
        finally:
            decoder.end_utt()
        if decoder.hyp() is None:
            return []
        frame_rate = float(decoder.config["frate"])
        words = [
            (offset + segment.start_frame / frame_rate, offset + (segment.end_frame + 1) / frame_rate, word)
            for segment in decoder.seg()
            if (word := spoken_word(segment.word))
        ]
        return self._cues(words)

    def _cues(self, words: list[tuple[float, float, str]]) -> list[Cue]:
        """Words grouped into cues of at most ``max_cue`` seconds (a longer single word stays whole)."""
        cues: list[Cue] = []
        group: list[tuple[float, float, str]] = []
        for word in words:
            if group and word[1] - group[0][0] > self.max_cue:
                cues.append(_cue(group))
                group = []
            group.append(word)
        if group:
            cues.append(_cue(group))
        return cues


def _cue(words: list[tuple[float, float, str]]) -> Cue:
    return Cue(round(words[0][0], 3), round(words[-1][1], 3), " ".join(word for _, _, word in words))


# ---------------------------------------------------------------------------------------------------
# Speakers and formats


@dataclass(frozen=True)
class Line:
    """What ``speaker`` said from ``start`` to ``end``, in seconds from the start of the meeting."""

    start: float
    end: float
    speaker: str
    text: str


def merge_speakers(tracks: Iterable[tuple[str, float, list[Cue]]]) -> list[Line]:
    """One transcript from per-speaker tracks: (speaker, where the track starts in the meeting in
    seconds, its cues). Lines are in meeting time order; at the same time, by speaker; otherwise as
    given."""
    lines: list[Line] = []
    for speaker, offset, cues in tracks:
        if not offset >= 0:  # also refuses NaN
            raise ValueError(f"The track of {speaker!r} starts at {offset}: offsets are seconds >= 0")
        lines.extend(
            Line(round(offset + c.start, 3), round(offset + c.end, 3), speaker, c.text) for c in cues
        )
    lines.sort(key=lambda line: (line.start, line.speaker))
    return lines


_SPACES = re.compile(r"\s+")


def _escape(text: str) -> str:
    """Cue text safe in WebVTT: one line (a blank line would end the cue), with ``&``, ``<`` and ``>``
    as character references (so ``-->`` cannot appear either)."""
    flat = _SPACES.sub(" ", text).strip()
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timestamp(seconds: float, *, fraction: bool = True) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    stamp = f"{hours:02d}:{minutes:02d}:{whole:02d}"
    return f"{stamp}.{millis:03d}" if fraction else stamp


def to_webvtt(lines: Iterable[Line]) -> str:
    """A WebVTT file: one cue per line (blank ones left out), the speaker as a voice span
    (``<v Alice>hello``), in start time order."""
    blocks = ["WEBVTT\n"]
    for line in sorted(lines, key=lambda line: line.start):
        # A cue must end after it starts.
        end = max(line.end, line.start + 0.001)
        speaker = _escape(line.speaker)
        text = _escape(line.text)
        if not text:
            continue
        payload = f"<v {speaker}>{text}" if speaker else text
        blocks.append(f"{_timestamp(line.start)} --> {_timestamp(end)}\n{payload}\n")
    return "\n".join(blocks)


def to_text(lines: Iterable[Line]) -> str:
    """Plain text: ``[HH:MM:SS] Speaker: text``, one line each (blank ones left out), in time order."""
    return "".join(
        f"[{_timestamp(line.start, fraction=False)}] {_SPACES.sub(' ', line.speaker).strip()}: {text}\n"
        for line in sorted(lines, key=lambda line: line.start)
        if (text := _SPACES.sub(" ", line.text).strip())
    )
