"""Iotum enterprise API: reports from attendance (a host's conferences, call detail records, active calls)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from podium.domain.attendance.service import AttendanceService, minutes
from podium.domain.chat.service import ChatService
from podium.domain.conferences.reports import ConferenceReports
from podium.domain.conferences.timing import FIRST_YEAR, LAST_YEAR, end_of, local
from podium.domain.recordings.service import RecordingService
from podium.domain.telephony.service import TelephonyService
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.routes.conferences import PAGE_PARAM, page_of, scheduling_of
from podium.edges.iotum.routes.hosts import OWN_HOST_ID
from podium.edges.iotum.routes_base import INTEGER, TEXT, Answer, Call, Endpoint
from podium.kit import coerce
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput
from podium.kit.links import Links


def _zone(call: Call) -> ZoneInfo:
    return ZoneInfo(coerce.time_zone("time_zone", call.body.get("time_zone") or "UTC"))


def _date_range(call: Call, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """start_date and end_date (inclusive) as days in ``zone`` → a naive UTC range."""
    bounds: list[datetime | None] = []
    for key, extra in (("start_date", 0), ("end_date", 1)):
        raw = call.body.str_(key)
        if not raw:
            bounds.append(None)
            continue
        try:
            day = datetime.strptime(raw[:10], "%Y-%m-%d")
        except ValueError:
            raise InvalidInput(f"{key} must be a date such as 2020-12-31", field=key) from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            # Before any conference or after them all (9999-12-31 as "no end"): no bound at all.
            bounds.append(None)
            continue
        day += timedelta(days=extra)
        bounds.append(day.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None))
    return bounds[0], bounds[1]


TIME_ZONE = Param(
    "time_zone",
    "IANA time zone name of the dates given and the times answered (default UTC)",
    schema=TEXT,
)
_DAY: dict[str, Any] = {"type": "string", "format": "date"}
# What ``_zone`` and ``_date_range`` read.
PERIOD = (
    TIME_ZONE,
    Param("start_date", "From this day (YYYY-MM-DD in time_zone)", schema=_DAY),
    Param("end_date", "Up to this day, included (YYYY-MM-DD in time_zone)", schema=_DAY),
)


def _reports(call: Call) -> ConferenceReports:
    return ConferenceReports(call.ctx.session)


def host_conferences(call: Call) -> Answer:
    """A host's past conferences (summary or detail)."""
    host_id = call.host_id()
    zone = _zone(call)
    since, before = _date_range(call, zone)
    output = call.body.str_("output") or "summary"
    if output not in ("summary", "detail"):
        raise InvalidInput("output must be summary or detail", field="output")
    conferences = _reports(call).past_conferences(call.actor, host_id, since, before)
    now = utcnow()
    chunk, next_page = page_of(call, "host/conferences", conferences)
    scheduling = scheduling_of(call)
    usages = AttendanceService(call.ctx.session).usage(chunk)
    if output == "summary":
        rows = [
            present.conference_summary(u, end_of(u.conference), zone, now, Links(call.ctx.settings))
            for u in usages
        ]
    else:
        chats = ChatService(call.ctx.session)
        ids = [u.conference.id for u in usages]
        recordings = RecordingService(call.ctx.session, call.ctx.settings).views(ids)
        phones = TelephonyService(call.ctx.session, call.ctx.settings).views(ids)
        rows = [
            present.conference_detail(
                scheduling.view(u.conference),
                u,
                chats.messages(conference_id=u.conference.id),
                now=now,
                zone=zone,
                recordings=recordings[u.conference.id],
                dial_outs=phones[u.conference.id],
            )
            for u in usages
        ]
    return Answer(rows, headers=next_page)


def host_cdrs(call: Call) -> Answer:
    """Call detail records of a host's conferences (first 100)."""
    host_id = call.host_id()
    zone = _zone(call)
    since, before = _date_range(call, zone)
    conference_id = call.body.int_("conference_id", required=False)
    host, rows = _reports(call).call_records(call.actor, host_id, conference_id, since, before)
    now = utcnow()
    return Answer(
        [
            present.cdr(attendance, conference, host, zone, minutes(attendance, now))
            for attendance, conference in rows
        ]
    )


def host_active_calls(call: Call) -> Answer:
    """Calls the host is on now."""
    host_id = call.host_id()
    zone = _zone(call)
    calls = _reports(call).active_calls(call.actor, host_id)
    # Each call's phones (an extension): the dial-outs still ringing or on the line.
    phones = TelephonyService(call.ctx.session, call.ctx.settings).views(
        [c.id for c in calls], open_only=True
    )
    return Answer(
        [
            {
                "conference_id": c.id,
                "subject": c.title,
                "agenda": c.description or None,
                "start_time": local(c.started_at or c.starts_at or c.created_at, zone).strftime(present.TIME),
                "dial_outs": [present.dial_out(d) for d in phones.get(c.id, [])],
            }
            for c in calls
        ]
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "host/conferences",
        "A host's past conferences (summary or detail)",
        host_conferences,
        "read",
        params=(
            OWN_HOST_ID,
            Param(
                "output",
                "summary (default) or detail",
                schema={"type": "string", "enum": ["summary", "detail"]},
            ),
            *PERIOD,
            PAGE_PARAM,
        ),
    ),
    Endpoint(
        "host/cdrs",
        "Call detail records of a host's conferences (first 100)",
        host_cdrs,
        "read",
        params=(
            OWN_HOST_ID,
            Param("conference_id", "Only this conference's records", schema=INTEGER),
            *PERIOD,
        ),
    ),
    Endpoint(
        "host/active_calls",
        "Calls the host is on now",
        host_active_calls,
        "read",
        params=(OWN_HOST_ID, TIME_ZONE),
    ),
)
