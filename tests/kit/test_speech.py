"""Speech to text (issue #13, "Transcripts"): real speech made by espeak-ng, encoded to Opus by ffmpeg
and recognised by PocketSphinx; per-speaker merging; WebVTT and plain text."""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from podium.kit.speech import (
    BYTES_PER_SECOND,
    CommandTranscriber,
    Cue,
    Line,
    PocketSphinxTranscriber,
    TranscriptionError,
    make_transcriber,
    merge_speakers,
    spoken_word,
    to_text,
    to_webvtt,
)
from tests.fixtures.media import duration_of

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

# Two sentences of common words that PocketSphinx's US English model recognises from espeak-ng's
# "en-us+f2" voice (it misses most of what the default male voice says).
FIRST = "The weather is nice today. I would like a cup of coffee."
SECOND = "Thank you all for coming. My phone number is five five five one two three four."
SILENCE = 2.0
VOICE = "en-us+f2"
STOP_WORDS = {"a", "all", "for", "i", "is", "my", "of", "the", "you"}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def _speak(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", VOICE, "-s", "150", "-w", str(path), text], check=True, timeout=60)
    return path


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """An Opus file: FIRST, two seconds of silence, SECOND; and the time SECOND starts at."""
    folder = tmp_path_factory.mktemp("speech")
    first = _speak(folder / "first.wav", FIRST)
    second = _speak(folder / "second.wav", SECOND)
    spoken = folder / "speech.opus"
    _ffmpeg(
        "-i", str(first), "-f", "lavfi", "-t", str(SILENCE), "-i", "anullsrc=r=22050:cl=mono",
        "-i", str(second),
        "-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", "-c:a", "libopus", str(spoken),
    )  # fmt: skip
    return spoken, duration_of(first) + SILENCE


@pytest.fixture(scope="module")
def transcriber() -> PocketSphinxTranscriber:
    return PocketSphinxTranscriber()


@pytest.fixture(scope="module")
def cues(speech: tuple[Path, float], transcriber: PocketSphinxTranscriber) -> list[Cue]:
    return transcriber.transcribe(speech[0])


def test_most_spoken_words_are_recognised(cues: list[Cue]) -> None:
    said = _words(f"{FIRST} {SECOND}") - STOP_WORDS
    heard = _words(" ".join(cue.text for cue in cues))
    recall = len(said & heard) / len(said)
    assert recall >= 0.6, f"recognised {sorted(said & heard)}, missed {sorted(said - heard)}: {cues}"


def test_cues_are_in_order_and_hold_words_only(cues: list[Cue]) -> None:
    assert cues
    for cue in cues:
        assert 0 <= cue.start < cue.end
        assert cue.text and cue.text == cue.text.strip()
        assert not re.search(r"[<>\[\]()+]", cue.text), cue.text  # no <s>, <sil>, [NOISE], word(2)
    for before, after in zip(cues, cues[1:], strict=False):
        assert before.end <= after.start


def test_cue_times_follow_the_audio(speech: tuple[Path, float], cues: list[Cue]) -> None:
    _, second_starts = speech
    assert cues[0].start < 1.0
    after_silence = [cue for cue in cues if cue.start > second_starts - 1.0]
    assert after_silence, cues
    assert abs(after_silence[0].start - second_starts) <= 1.0, (second_starts, cues)
    # Nothing is heard in the silence: the cues before it end when the first sentence does.
    assert all(cue.end <= second_starts - SILENCE + 0.5 for cue in cues if cue not in after_silence)
    assert "coming" in " ".join(cue.text for cue in after_silence)
    assert "coffee" not in " ".join(cue.text for cue in after_silence)


def test_long_speech_is_cut_into_bounded_utterances(speech: tuple[Path, float]) -> None:
    """``max_utterance`` bounds what is held at once; the pieces of one stretch of speech follow on."""
    audio, second_starts = speech
    pieces = list(PocketSphinxTranscriber(max_utterance=1.0).utterances(audio))
    frame_bytes = 960  # the endpointer's 30 ms frame
    assert all(len(pcm) <= BYTES_PER_SECOND + frame_bytes for _, pcm in pieces)
    assert len(pieces) >= 8  # two sentences of 4 to 5 seconds each
    starts = [start for start, _ in pieces]
    assert starts == sorted(starts)
    gaps = [
        later - (start + len(pcm) / BYTES_PER_SECOND)
        for (start, pcm), (later, _) in zip(pieces, pieces[1:], strict=False)
    ]
    assert sum(1 for gap in gaps if gap > SILENCE - 0.7) == 1  # the pause, and only there
    assert all(gap >= -1e-6 for gap in gaps)
    resumed = next(start for start, _ in pieces if start > second_starts - 1.0)
    assert abs(resumed - second_starts) <= 1.0


def test_silence_gives_no_cues(tmp_path: Path, transcriber: PocketSphinxTranscriber) -> None:
    silent = tmp_path / "silent.webm"
    _ffmpeg("-f", "lavfi", "-t", "5", "-i", "anullsrc=r=48000:cl=stereo", "-c:a", "libopus", str(silent))
    assert transcriber.transcribe(silent) == []


def test_a_long_file_is_streamed_not_read_whole(tmp_path: Path, transcriber: PocketSphinxTranscriber) -> None:
    """Five minutes of audio are 9.6 MB of PCM; the transcriber holds a small part of it at a time."""
    long = tmp_path / "long.ogg"
    _ffmpeg("-f", "lavfi", "-t", "300", "-i", "anullsrc=r=16000:cl=mono", "-c:a", "libopus", str(long))
    tracemalloc.start()
    try:
        assert transcriber.transcribe(long) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def test_unreadable_audio_is_an_error(tmp_path: Path, transcriber: PocketSphinxTranscriber) -> None:
    broken = tmp_path / "broken.opus"
    broken.write_text("this is not audio")
    with pytest.raises(TranscriptionError, match=r"ffmpeg could not decode broken\.opus"):
        transcriber.transcribe(broken)
    with pytest.raises(TranscriptionError, match="No such file"):
        transcriber.transcribe(tmp_path / "missing.wav")
    video = tmp_path / "video.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=64x64", "-c:v", "libx264", str(video))
    with pytest.raises(TranscriptionError, match="matches no streams"):
        transcriber.transcribe(video)


@pytest.mark.parametrize(
    ("token", "word"),
    [
        ("hello", "hello"),
        ("the(2)", "the"),
        ("o'clock", "o'clock"),
        ("<s>", None),
        ("</s>", None),
        ("<sil>", None),
        ("[NOISE]", None),
        ("[SPEECH]", None),
        ("++garbage++", None),
        ("", None),
    ],
)
def test_fillers_are_not_words(token: str, word: str | None) -> None:
    assert spoken_word(token) == word


def test_make_transcriber() -> None:
    default = make_transcriber()
    assert isinstance(default, PocketSphinxTranscriber)
    assert default.name == "pocketsphinx"
    assert isinstance(make_transcriber(" PocketSphinx "), PocketSphinxTranscriber)
    assert make_transcriber("off") is None
    for wrong in ("whisper", "", "faster-whisper"):
        with pytest.raises(ValueError, match=r'"pocketsphinx", "off"') as raised:
            make_transcriber(wrong)
        assert repr(wrong) in str(raised.value)


def test_merge_speakers_orders_lines_by_meeting_time() -> None:
    lines = merge_speakers(
        [
            ("Bob", 10.0, [Cue(0.5, 2.0, "hi alice"), Cue(5.0, 6.0, "same time")]),
            ("Alice", 0.0, [Cue(1.0, 3.0, "hello"), Cue(15.0, 16.0, "one"), Cue(15.0, 15.5, "two")]),
            ("Carol", 12.5, []),
            ("Aaron", 14.0, [Cue(1.0, 2.0, "me too")]),
        ]
    )
    assert [(line.start, line.speaker, line.text) for line in lines] == [
        (1.0, "Alice", "hello"),
        (10.5, "Bob", "hi alice"),
        (15.0, "Aaron", "me too"),  # the same time: by speaker
        (15.0, "Alice", "one"),  # the same time and speaker: as given
        (15.0, "Alice", "two"),
        (15.0, "Bob", "same time"),
    ]
    assert lines[1] == Line(10.5, 12.0, "Bob", "hi alice")
    assert merge_speakers([]) == []
    with pytest.raises(ValueError, match="Bob"):
        merge_speakers([("Bob", -1.0, [Cue(0, 1, "x")])])
    with pytest.raises(ValueError):
        merge_speakers([("Bob", float("nan"), [])])


TIMING = re.compile(r"^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _parse_webvtt(vtt: str) -> list[tuple[float, float, str]]:
    """A minimal WebVTT reader: the header, then blocks of a timing line and one payload line."""
    header, *blocks = vtt.split("\n\n")
    assert header == "WEBVTT"
    assert vtt.endswith("\n")
    cues = []
    for block in blocks:
        if not block.strip():
            continue
        timing, payload = block.strip("\n").split("\n")
        match = TIMING.match(timing)
        assert match, timing
        cues.append((_seconds(*match.groups()[:4]), _seconds(*match.groups()[4:]), payload))
    return cues


def test_webvtt() -> None:
    lines = merge_speakers(
        [
            ("Alice", 0.0, [Cue(0.25, 2.0, "hello everyone"), Cue(3723.5, 3725.125, "an hour later")]),
            ("Bob", 1.0, [Cue(0.0, 1.5, "hi"), Cue(9.0, 9.0, "instant")]),
        ]
    )
    vtt = to_webvtt(lines)
    cues = _parse_webvtt(vtt)
    assert cues == [
        (0.25, 2.0, "<v Alice>hello everyone"),
        (1.0, 2.5, "<v Bob>hi"),
        (10.0, 10.001, "<v Bob>instant"),  # a cue ends after it starts
        (3723.5, 3725.125, "<v Alice>an hour later"),
    ]
    assert "01:02:03.500 --> 01:02:05.125" in vtt
    starts = [start for start, _, _ in cues]
    assert starts == sorted(starts)
    assert all(end > start for start, end, _ in cues)
    assert to_webvtt([]) == "WEBVTT\n"


def test_webvtt_escapes_text_and_speaker() -> None:
    vtt = to_webvtt([Line(1.0, 2.0, "Ann <admin> & co", "if a < b && c > d --> e\n\nnext")])
    (_, _, payload), *_ = _parse_webvtt(vtt)
    assert payload == "<v Ann &lt;admin&gt; &amp; co>if a &lt; b &amp;&amp; c &gt; d --&gt; e next"
    assert vtt.count("-->") == 1
    assert to_webvtt([Line(0.0, 1.0, "", "nobody")]).endswith("\nnobody\n")
    assert to_webvtt([Line(0.0, 1.0, "Bob", " \n ")]) == "WEBVTT\n"


def test_plain_text() -> None:
    lines = [Line(3.9, 5.0, "Alice", "hello  there"), Line(3725.0, 3726.0, "Bob", "bye\nnow")]
    assert to_text(lines) == "[00:00:03] Alice: hello there\n[01:02:05] Bob: bye now\n"
    assert to_text([]) == ""
    assert to_text([Line(1.0, 2.0, "Bob", " ")]) == ""


# An engine of the operator's: a program given a 16 kHz mono WAV, printing JSON cues.
ENGINE = """#!{python}
import json, sys, wave

with wave.open(sys.argv[1]) as audio:
    assert (audio.getnchannels(), audio.getframerate(), audio.getsampwidth()) == (1, 16000, 2)
    seconds = audio.getnframes() / audio.getframerate()
mode = "{mode}"
if mode == "fail":
    sys.exit("model directory not found")
if mode == "garbage":
    print("not json")
else:
    print(json.dumps([{{"start": 1.5, "end": seconds, "text": " later words "}},
                      {{"start": 0.0, "end": 1.0, "text": "first words"}},
                      {{"start": 2.0, "end": 2.5, "text": ""}}]))
"""


def _engine(folder: Path, mode: str) -> Path:
    program = folder / f"engine-{mode}"
    program.write_text(ENGINE.format(python=sys.executable, mode=mode))
    program.chmod(0o755)
    return program


def test_an_operators_engine_runs_as_a_program(speech: tuple[Path, float], tmp_path: Path) -> None:
    engine = make_transcriber(f"command:{_engine(tmp_path, 'ok')}")
    assert isinstance(engine, CommandTranscriber) and engine.name == "command:engine-ok"
    cues = engine.transcribe(speech[0])
    assert [c.text for c in cues] == ["first words", "later words"]  # in time order, empty ones dropped
    assert cues[1].end == pytest.approx(duration_of(speech[0]), abs=0.1)  # the whole file reached it
    for mode, message in (("fail", "model directory not found"), ("garbage", "no JSON array")):
        with pytest.raises(TranscriptionError, match=message):
            make_transcriber(f"command:{_engine(tmp_path, mode)}").transcribe(speech[0])  # type: ignore[union-attr]
    for wrong in ("command:relative/engine", f"command:{tmp_path / 'missing'}", f"command:{tmp_path}"):
        with pytest.raises(ValueError, match="absolute path to an executable"):
            make_transcriber(wrong)
