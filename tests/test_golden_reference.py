"""Golden files against the vendor references' own samples (issue #10).

Each golden file (tests/golden/) pins our exact output; where the reference (shared/spec/) prints a
sample answer for the same method, every field name that sample shows must appear in the golden
file too, and a JSON golden must have the sample's top-level shape (object, array or string).

The samples are vendor text, not data: trailing commas, unquoted values (`"source": url`), keys
missing a quote (`"time_zone: "US/Eastern"`), pseudo-code (`{ id, created_at }`), Boomstream JSON
printed without its outer braces, XML with mismatched tags (`<Item>…</item>`). Golden files are
not strict either (placeholders such as `<conference-id>` or `<datetime>` stand in for values).
So nothing is parsed strictly: field names are collected with a tolerant scan (JSON keys at every
level, XML element names) and compared as sets. Values are not compared.

Where the golden file cannot or does not show a sample's field, the pair lists it in WAIVERS with
its reason; a waiver that is no longer needed fails the test, so the list stays honest.

The references are looked up in ../shared/spec beside the checkout (or $PODIUM_SPEC_DIR).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.golden import GOLDEN_DIR

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

# --- where the references are -------------------------------------------------------------------


def spec_dir() -> Path:
    named = os.environ.get("PODIUM_SPEC_DIR")
    return Path(named) if named else Path(__file__).resolve().parents[2] / "shared" / "spec"


@pytest.fixture(scope="module")
def references() -> Path:
    path = spec_dir()
    if not path.is_dir():
        pytest.fail(
            f"vendor references not found in {path}: lay shared/ beside the checkout "
            "(shared/spec/*.txt) or set PODIUM_SPEC_DIR to the folder that holds them",
            pytrace=False,
        )
    return path


# --- the pairs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    file: str
    method_line: re.Pattern[str]  # a line that starts a method's section of the reference


IOTUM = Spec("iotum-enterprise-api.txt", re.compile(r'^(POST|PUT|GET|DELETE) ["“]/enterprise_api/'))
CONFERENCE = Spec("boomstream-conference-api.txt", re.compile(r"^[a-z]+(/[a-z]+)?$"))
PPV = Spec("boomstream-ppv-api.txt", re.compile(r"^[a-z]+$"))
STATS = Spec("boomstream-stats-api.txt", re.compile(r"^[a-z]+$"))
LIVEMINUTES = Spec("liveminutes-api.txt", re.compile(r"^[a-h]\. \w+$"))


@dataclass(frozen=True)
class Sample:
    spec: Spec
    anchor: str  # the line that starts the method's section, exactly
    marker: str  # the sample answer follows this text within the section
    kind: str  # "json" or "xml"
    occurrence: int = 0  # which section with that anchor (conference/create appears twice)
    within: tuple[str, str] | None = None  # only the part between these two texts of the sample

    def describe(self) -> str:
        return f"{self.spec.file} [{self.anchor}]" + (f" {self.within[0]}" if self.within else "")


def iotum(path: str, occurrence: int = 0, verb: str = "POST") -> Sample:
    anchor = f'{verb} "/enterprise_api/{path}"'
    return Sample(IOTUM, anchor, "Response body (application/json):", "json", occurrence)


def conference(method: str, kind: str) -> Sample:
    return Sample(CONFERENCE, method, "Response example:", kind)


def ppv(method: str) -> Sample:
    return Sample(PPV, method, "Sample response:", "xml")


def stats(method: str) -> Sample:
    return Sample(STATS, method, "Example response:", "xml")


def liveminutes(method: str) -> Sample:
    return Sample(LIVEMINUTES, method, "Example:", "json")


# The reference has no media/* samples; its one sample of the media object is the `Medias` item of
# ppv/listmedia, and docs/compat.md ("The media object") makes that the object of every answer.
MEDIA_OBJECT = Sample(PPV, "listmedia", "Sample response:", "xml", within=("<Medias>", "</Medias>"))

# Boomstream answers each method in JSON and in XML with the same field names (docs/compat.md,
# "XML shape"), so both golden files of a method are checked against its one sample.
BOOMSTREAM_CONFERENCE = {
    "conference_info": conference("info", "json"),
    "conference_list": conference("list", "json"),
    "conference_create": conference("create", "json"),
    "conference_update": conference("update", "xml"),
    "conference_invite": conference("invite", "json"),
    "conference_client_list": conference("client/list", "json"),
    "conference_client_info": conference("client/info", "json"),
    "conference_client_update": conference("client/update", "json"),
    "conference_client_delete": conference("client/delete", "json"),
    "conference_delete": conference("delete", "xml"),
}
BOOMSTREAM_OTHER = {
    "ppv_create": ppv("create"),
    "ppv_update": ppv("update"),
    "ppv_delete": ppv("delete"),
    "ppv_list": ppv("list"),
    "ppv_addmedia": ppv("addmedia"),
    "ppv_deletemedia": ppv("deletemedia"),
    "ppv_listmedia": ppv("listmedia"),
    "ppv_addbuyer": ppv("addbuyer"),
    "ppv_updatebuyer": ppv("updatebuyer"),
    "ppv_deletebuyer": ppv("deletebuyer"),
    "ppv_listbuyers": ppv("listbuyers"),
    "ppv_contacts": ppv("contacts"),
    "ppv_updatecontacts": ppv("updatecontacts"),
    "ppv_sessions": stats("session"),  # the stats reference's "session" method (NOTES.md)
    "stats": stats("project"),
    "media_info": MEDIA_OBJECT,
    "media_bulkinfo": MEDIA_OBJECT,
    "media_update": MEDIA_OBJECT,
    "media_folder": MEDIA_OBJECT,
    "media_create": MEDIA_OBJECT,
}

PAIRS: dict[str, Sample] = {
    **{
        f"boomstream/{name}.{ext}": sample
        for name, sample in {**BOOMSTREAM_CONFERENCE, **BOOMSTREAM_OTHER}.items()
        for ext in ("json", "xml")
    },
    "iotum/authenticate.json": iotum("authenticate"),
    "iotum/domain_descendants.json": iotum("domain/descendants"),
    "iotum/company_create.json": iotum("company/create"),
    "iotum/company_fetch.json": iotum("company/fetch"),
    "iotum/company_update.json": iotum("company/update"),
    "iotum/company_fetch_all.json": iotum("company/fetch_all"),
    "iotum/subscription_fetch_products.json": iotum("subscription/fetch_products"),
    "iotum/subscription_create.json": iotum("subscription/create"),
    "iotum/subscription_create_addon.json": iotum("subscription/create"),
    "iotum/subscription_update.json": iotum("subscription/update", verb="PUT"),
    "iotum/subscription_suspend.json": iotum("subscription/suspend"),
    "iotum/subscription_reactivate.json": iotum("subscription/reactivate"),
    "iotum/subscription_cancel.json": iotum("subscription/cancel"),
    "iotum/subscription_suspend_all.json": iotum("subscription/suspend_all"),
    "iotum/subscription_reactivate_all.json": iotum("subscription/reactivate_all"),
    "iotum/subscription_fetch.json": iotum("subscription/fetch"),
    "iotum/host_create.json": iotum("host/create"),
    "iotum/host_fetch.json": iotum("host/fetch"),
    "iotum/host_update.json": iotum("host/update"),
    "iotum/host_conferences.json": iotum("host/conferences"),
    "iotum/host_cdrs.json": iotum("host/cdrs"),
    "iotum/host_active_calls.json": iotum("host/active_calls"),
    "iotum/host_fetch_all.json": iotum("host/fetch_all"),
    "iotum/contact_create.json": iotum("contact/create"),
    "iotum/contact_fetch.json": iotum("contact/fetch"),
    "iotum/contact_fetch_all.json": iotum("contact/fetch_all"),
    "iotum/contact_update.json": iotum("contact/update"),
    "iotum/drive_fetch_all.json": iotum("drive/fetch_all"),
    "iotum/drive_file_fetch.json": iotum("drive/file/fetch"),
    "iotum/drive_create.json": iotum("drive/create"),
    "iotum/drive_file_finish_upload.json": iotum("drive/file/finish_upload"),
    "iotum/chat_create.json": iotum("chat/create"),
    "iotum/conference_create.json": iotum("conference/create"),
    "iotum/conference_create_reservationless.json": iotum("conference/create/reservationless"),
    "iotum/conference_update.json": iotum("conference/update"),
    "iotum/conference_fetch.json": iotum("conference/fetch"),
    "iotum/conference_fetch_detail.json": Sample(
        IOTUM, 'POST "/enterprise_api/conference/fetch"', "Example of Detailed Conference Output:", "json"
    ),
    "iotum/conference_fetch_all.json": iotum("conference/fetch_all"),
    "iotum/conference_cancel.json": iotum("conference/cancel"),
    "iotum/conference_end.json": iotum("conference/end"),
    "iotum/conference_fetch_participant_details.json": iotum("conference/fetch_participant_details"),
    "iotum/conference_fetch_livestream_viewer_count.json": iotum("conference/fetch_livestream_viewer_count"),
    "iotum/conference_stop_streaming.json": iotum("conference/stop_streaming"),
    # The recurring-conference section repeats conference/create with its own sample.
    "iotum/conference_create_recurring.json": iotum("conference/create", occurrence=1),
    "iotum/conference_dial_number.json": iotum("conference/dial_number"),
    "iotum/conference_message_create.json": iotum("conference/message/create"),
    "iotum/conference_delete_recordings.json": iotum("conference/delete_recordings"),
    "iotum/conference_delete_transcriptions.json": iotum("conference/delete_transcriptions"),
    "liveminutes/createMeeting.json": liveminutes("a. createMeeting"),
    "liveminutes/addParticipant.json": liveminutes("b. addParticipant"),
    "liveminutes/getParticipantUrl.json": liveminutes("c. getParticipantUrl"),
    "liveminutes/getMeetingUrl.json": liveminutes("d. getMeetingUrl"),
    "liveminutes/cancelMeeting.json": liveminutes("e. cancelMeeting"),
    "liveminutes/cancelParticipant.json": liveminutes("f. cancelParticipant"),
    "liveminutes/getMeetingStatus.json": liveminutes("g. getMeetingStatus"),
    "liveminutes/getParticipantStatus.json": liveminutes("h. getParticipantStatus"),
}

# Golden files with no sample in the references, so not in PAIRS (test_every_golden_file_is_classified
# keeps this list and PAIRS covering every golden file).
NO_SAMPLE = {
    "boomstream/ppv_info.json": "NOTES.md describes ppv/info in prose; no sample",
    "boomstream/ppv_info.xml": "NOTES.md describes ppv/info in prose; no sample",
    "boomstream/media_upload.json": "no media/* samples; its answer is not the media object",
    "boomstream/media_upload.xml": "no media/* samples; its answer is not the media object",
    "boomstream/media_delete.json": "no media/* samples",
    "boomstream/media_delete.xml": "no media/* samples",
    "boomstream/media_folder_create.json": "no media/* samples",
    "boomstream/media_folder_create.xml": "no media/* samples",
    "boomstream/media_folder_update.json": "no media/* samples",
    "boomstream/media_folder_update.xml": "no media/* samples",
    "boomstream/media_folder_delete.json": "no media/* samples",
    "boomstream/media_folder_delete.xml": "no media/* samples",
    **{
        f"boomstream/live_{method}.{fmt}": "api/live/* is our extension (docs/compat.md, Lives)"
        for method in ("create", "info", "list", "update", "reset_key", "delete")
        for fmt in ("json", "xml")
    },
    "iotum/company_delete.json": "the reference shows no answer",
    "iotum/contact_delete.json": "the reference shows no answer",
    "iotum/host_delete.json": 'only "Response code 202."',
    "iotum/host_resend_invitation.json": 'only the prose "Response message: OK", no body',
    "iotum/host_reset_password.json": 'only the prose "Response message: OK", no body',
    "iotum/drive_file_delete.json": 'only "Response code: 204"',
    "iotum/conference_error_feature.json": "errors: a table of messages, no body sample",
    "iotum/error_not_found.json": "errors: a rule (a body with `message`), no body sample",
    "iotum/chat_fetch.json": "our own method (docs/compat.md, Chat)",
    "iotum/webhook_create.json": "webhook management is not in the reference (docs/webhooks.md)",
    "iotum/webhook_delete.json": "webhook management is not in the reference (docs/webhooks.md)",
    "iotum/webhook_deliveries.json": "webhook management is not in the reference (docs/webhooks.md)",
    "iotum/webhook_fetch_all.json": "webhook management is not in the reference (docs/webhooks.md)",
    "liveminutes/getMeetingUrl-after-cancel.json": 'a failure; only "If resultcode = 0 => failed"',
}


@dataclass(frozen=True)
class Waiver:
    fields: frozenset[str]
    reason: str


def waive(fields: str, reason: str) -> Waiver:
    return Waiver(frozenset(fields.split()), reason)


_NOT_DONE = waive(
    "Url PseudoMP4",
    "docs/compat.md 'MediaStatus'/'The media object': before Done, Poster is null, Transcodes and "
    "Screenshots are empty (the golden media is Processing)",
)

# Sample fields a golden file does not show, and why. Kept short: each is either a documented choice
# (docs/compat.md) or a field the golden file's data cannot show.
WAIVERS: dict[str, tuple[Waiver, ...]] = {
    "boomstream/media_create.json": (_NOT_DONE,),
    "boomstream/media_create.xml": (_NOT_DONE,),
    "iotum/conference_fetch.json": (
        waive(
            "id start_time type publishing_state download_link",
            "fields of a recording: docs/compat.md 'Livestream, dial-out, media deletion' and 'Detail "
            "output': no recordings until rooms record, so `recordings` is []",
        ),
    ),
    "iotum/conference_fetch_detail.json": (
        waive(
            "size mp4 mp3 transcription_segments transcription_tags filename key presentation_status "
            "content_library chat_message_id mimetype download_link image_preview_link "
            "presentation_slides page_number width height",
            "fields of recordings and uploaded_documents: docs/compat.md 'Detail output': they stay "
            "empty until rooms record",
        ),
        waive(
            "id person_id name email live_cdrs ani dnis is_internet? minute_usage minutes billing_group "
            "rate cost chargeable_minutes content participant_id created_at",
            "fields of participants, live_cdrs, chat_messages and moderators: the golden conference has "
            "no attendance and no chat (both []), and tests/edges/iotum/test_golden.py replaces "
            "`moderators` by a placeholder; podium.edges.iotum.present.conference_detail emits them",
        ),
    ),
    "iotum/conference_fetch_participant_details.json": (
        waive(
            "contact_id name email business_phone mobile_phone home_phone other_phone time_zone has_host",
            "contact fields: tests/edges/iotum/test_golden.py replaces `participants` and `moderators` "
            "by placeholders; the contact object is compared in iotum/contact_fetch.json",
        ),
    ),
}

# Paired golden files that are an empty list: their shape is checked, but they show no field at all.
NO_ROWS = {
    "iotum/host_cdrs.json": "the golden host has no attendance, so no CDR",
    "iotum/host_active_calls.json": "the golden host is in no call",
}


# --- tolerant extraction ------------------------------------------------------------------------

_TOKEN = re.compile(
    r'"(?P<string>(?:[^"\\\n]|\\.)*)"?'  # a string (vendor text sometimes leaves one open)
    r"|(?P<word>[A-Za-z_][\w?]*)"
    r"|(?P<punct>[{}\[\],:])"
    r"|(?P<comment>//[^\n]*)"
    r"|(?P<newline>\n)"
    r"|(?P<other>\S)"
)
_OPEN_KEY = re.compile(r"^([A-Za-z_][\w?]*):(\s|$)")  # `"time_zone: "US/Eastern"`
_LITERALS = {"true", "false", "null"}
# A bare name is a key before `:`; in pseudo-code (`{ id, created_at }`) before `,`, `}` or a line's end.
_AFTER_BARE_KEY = {("punct", ":"), ("punct", ","), ("punct", "}"), ("newline", "\n")}
_PROSE = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")  # "Request:", "Response:": where a sample has ended
_XML_TAG = re.compile(r"<([A-Za-z_][\w.-]*)(?:\s[^<>]*)?/?>")


def json_keys(text: str, *, tolerant: bool = True) -> set[str]:
    """Keys at every level of JSON-like text: quoted (or, in vendor text, bare) names followed by
    `:`. `tolerant` also reads vendor slips: a key missing its closing quote and the bare members
    of pseudo-code objects (`{ id, created_at }`)."""
    tokens = [(m.lastgroup or "", m.group(m.lastgroup or 0)) for m in _TOKEN.finditer(text)]
    tokens = [(kind, value) for kind, value in tokens if kind != "comment"]
    keys: set[str] = set()
    previous = "newline"
    for i, (kind, value) in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ("newline", "\n")
        at_key = previous in ("newline", "{", ",")
        previous = value if kind == "punct" else kind
        if not at_key:
            continue
        if kind == "string":
            if following == ("punct", ":"):
                keys.add(value)
            elif tolerant and (match := _OPEN_KEY.match(value)):
                keys.add(match.group(1))
        elif tolerant and kind == "word" and value not in _LITERALS and following in _AFTER_BARE_KEY:
            keys.add(value)
    return keys


def xml_names(text: str, *, closed_only: bool = False) -> set[str]:
    """Element names. `closed_only` keeps those that close (`</x>` or `<x/>`), which leaves out the
    golden files' placeholders (`<datetime>`, `<media-code>`)."""
    names = set(_XML_TAG.findall(text))
    if closed_only:
        names = {n for n in names if f"</{n}>" in text or re.search(rf"<{re.escape(n)}\s*/>", text)}
    return names


def _json_block(text: str) -> str:
    """From an opening bracket to its match; strings end at the line's end (vendor text leaves
    some open); an unbalanced sample ends at the next line of prose ("Request:")."""
    depth, in_string, i = 0, False, 0
    while i < len(text):
        char = text[i]
        if char == "\n":
            in_string = False
            line_end = text.find("\n", i + 1)
            if _PROSE.match(text[i + 1 : line_end if line_end >= 0 else len(text)]):
                return text[:i]
        elif in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif text.startswith("//", i):
            i = text.find("\n", i) - 1 if "\n" in text[i:] else len(text)
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return text[: i + 1]
        i += 1
    return text


@dataclass(frozen=True)
class Shown:
    names: frozenset[str]
    shape: str  # "object", "array" or "string" (JSON); the root element's name (XML)


def section(reference: str, sample: Sample) -> str:
    lines = reference.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == sample.anchor]
    assert len(starts) > sample.occurrence, f"{sample.describe()}: anchor not found in the reference"
    start = starts[sample.occurrence]
    end = next(
        (i for i in range(start + 1, len(lines)) if sample.spec.method_line.match(lines[i].strip())),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def sample_text(references: Path, sample: Sample) -> str:
    """The sample answer's text, cut out of the method's section of the reference."""
    text = section((references / sample.spec.file).read_text(encoding="utf-8"), sample)
    at = text.find(sample.marker)
    assert at >= 0, f"{sample.describe()}: no {sample.marker!r} in the method's section"
    text = text[at + len(sample.marker) :]
    if sample.kind == "xml":
        start = text.find("<Response>")
        end = text.find("</Response>", start)
        assert 0 <= start < end, f"{sample.describe()}: no <Response> … </Response> sample"
        text = text[start : end + len("</Response>")]
    else:
        text = text.lstrip()
        if text[:1] in ("{", "["):
            text = _json_block(text)
        elif re.match(r'"[^"\n]*"\s*(\n|$)', text):
            text = text.split("\n", 1)[0].strip()  # a JSON string answer: "OK"
        # else: Boomstream's members of the answer object printed without braces, to the next method
    if sample.within:
        opening, closing = sample.within
        start = text.find(opening)
        end = text.find(closing, start)
        assert 0 <= start < end, f"{sample.describe()}: no {opening} … {closing} in the sample"
        text = text[start + len(opening) : end]
    return text


def shown_by_sample(references: Path, sample: Sample) -> Shown:
    text = sample_text(references, sample)
    if sample.kind == "xml":
        return Shown(frozenset(xml_names(text)), "Response")
    first = text[:1]
    if first == "[":
        shape = "array"
    elif first == '"' and ":" not in text:
        shape = "string"
    else:
        shape = "object"  # `{`, or members of an object printed without its braces
    return Shown(frozenset(json_keys(text)), shape)


def shown_by_golden(name: str) -> Shown:
    text = (GOLDEN_DIR / name).read_text(encoding="utf-8")
    if name.endswith(".xml"):
        root = re.search(r"<([A-Za-z_][\w.-]*)", text.split("?>", 1)[-1])
        return Shown(frozenset(xml_names(text, closed_only=True)), root.group(1) if root else "")
    first = text.lstrip()[:1]
    shape = {"{": "object", "[": "array", '"': "string"}.get(first, "other")
    return Shown(frozenset(json_keys(text, tolerant=False)), shape)


def expected_names(sample: Sample, shown: Shown, golden: str) -> frozenset[str]:
    if sample.kind == "xml" and golden.endswith(".json"):
        # XML's envelope and list entries are not fields: `<Response>` is the JSON object and
        # `<Item>` a JSON list's member (docs/compat.md, "XML shape").
        return shown.names - {"Response", "Item"}
    return shown.names


# --- the tests ----------------------------------------------------------------------------------


def test_every_golden_file_is_classified() -> None:
    golden = {
        p.relative_to(GOLDEN_DIR).as_posix() for p in GOLDEN_DIR.rglob("*.*") if p.suffix in (".json", ".xml")
    }
    assert not set(PAIRS) & set(NO_SAMPLE), "a golden file is both paired and listed without sample"
    assert golden - set(PAIRS) - set(NO_SAMPLE) == set(), "golden files in neither PAIRS nor NO_SAMPLE"
    assert (set(PAIRS) | set(NO_SAMPLE)) - golden == set(), "PAIRS or NO_SAMPLE name missing golden files"
    assert set(WAIVERS) | set(NO_ROWS) <= set(PAIRS)


@pytest.mark.parametrize("golden", sorted(PAIRS))
def test_golden_shows_every_field_of_the_reference_sample(golden: str, references: Path) -> None:
    sample = PAIRS[golden]
    reference = shown_by_sample(references, sample)
    ours = shown_by_golden(golden)
    source = sample.describe()

    if golden.endswith(".json"):
        expected_shape = "object" if sample.kind == "xml" else reference.shape
        assert ours.shape == expected_shape, (
            f"{golden} is a JSON {ours.shape}; the sample in {source} is a JSON {expected_shape}"
        )
    else:
        assert ours.shape == "Response", f"{golden}: root element <{ours.shape}>, expected <Response>"
    if reference.shape == "string":
        assert not reference.names
        return
    assert reference.names, f"no field names found in the sample of {source}: extraction failed"

    if golden in NO_ROWS:
        text = (GOLDEN_DIR / golden).read_text(encoding="utf-8")
        assert text.strip() == "[]", f"{golden} now has rows: remove it from NO_ROWS"
        return

    missing = expected_names(sample, reference, golden) - ours.names
    waived = {field for waiver in WAIVERS.get(golden, ()) for field in waiver.fields}
    assert missing - waived == set(), (
        f"{golden} lacks fields the sample in {source} shows: {sorted(missing - waived)}"
    )
    assert waived - missing == set(), (
        f"{golden}: waived fields now present or no longer in the sample, drop them from WAIVERS: "
        f"{sorted(waived - missing)}"
    )
