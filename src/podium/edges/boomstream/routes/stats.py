"""Boomstream statistics: ``api/stats`` by project (``project``: all, another project's key) or by
media (``code``). ``time`` is milliseconds, ``time_dim`` hours, dates ``dd.mm.yyyy`` (UTC)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from podium.domain.stats.service import StatsService
from podium.edges.boomstream.methods import Call, Method, Param
from podium.edges.boomstream.params import integer, plain_date
from podium.edges.common import MethodSpec

DAY = "%d.%m.%Y"
HOUR = "%d.%m.%Y %H:00"


def _day(value: date) -> str:
    return value.strftime(DAY)


def _bucket(moment: datetime, group: str) -> str:
    # DAY or HOUR, without strftime (twice as slow, for up to 1000 items a page).
    day = f"{moment.day:02d}.{moment.month:02d}.{moment.year}"
    return f"{day} {moment.hour:02d}:00" if group == "hour" else day


def stats(call: Call) -> dict[str, Any]:
    service = StatsService(call.ctx.session, call.ctx.settings)
    options: dict[str, Any] = {
        "start": plain_date(call.params, "start"),
        "end": plain_date(call.params, "end"),
        "group": call.params.text("group").strip(),
        "order": call.params.text("order").strip(),
        "page": integer(call.params, "page"),
    }
    code = call.params.text("code").strip()
    if code:
        page = service.target(call.actor, code, **options)
    else:
        page = service.project(call.actor, project=call.params.text("project"), **options)
    start, end = _day(page.period.start), _day(page.period.end)
    return {
        "Period": f"{start} - {end}",
        "Start": start,
        "End": end,
        "GroupBy": page.group,
        "SourceType": page.source_type,
        "Page": page.page,
        "PageLimit": page.page_limit,
        "PageCount": page.page_count,
        "ItemCount": page.item_count,
        "ItemFormat": {"date": "Date", "time": "Time", "time_dim": "Time (hours)"},
        "Items": [
            {
                "date": _bucket(moment, page.group),
                "time": watched,
                "time_dim": f"{watched / 3_600_000:.2f} hours",
            }
            for moment, watched in page.items
        ],
    }


METHODS: tuple[MethodSpec, ...] = (
    Method(
        "stats",
        "View time by project (or all projects, or another project of the owner) or by media code",
        stats,
        (
            Param("project", "all, or another project's API key (default: this project)"),
            Param("code", "Video, live or playlist code: statistics of that media"),
            Param("start", "YYYY-MM-DD (default: a week before end)"),
            Param("end", "YYYY-MM-DD (default: today)"),
            Param("group", "day (default) or hour"),
            Param("order", "asc (default) or desc"),
            Param("page", "Page (1000 items a page)"),
        ),
    ),
)
