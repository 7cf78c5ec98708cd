"""Metrics in the Prometheus text format (``prometheus-client``), served at ``/metrics``.

Every metric Podium exports is defined here (README "Observability" lists them):

- counters and histograms that the code moves as things happen (HTTP requests, outbox attempts,
  transcoding jobs, heartbeats, room connections), in the process's default registry;
- gauges read when ``/metrics`` is scraped (``GaugeSpec``): queue depths from the database (through
  the repositories, ``domain/ops``), rooms and participants from the room presence, the Janus
  instances that answer. Nothing is polled between scrapes.

Several server processes (``podium serve --workers N``, ADR 0007) share one port, so a scrape reaches
any of them: the CLI then points ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory before the
workers start, every process writes its counters there, and whichever process answers adds them up
(prometheus-client's multiprocess mode). The scrape-time gauges are the same from any process (the
database, Redis presence, the Janus instances).

``ObservedRequests`` is the ASGI middleware that counts and times every HTTP request, gives it a
request id (``X-Request-Id``) and, in JSON log mode, writes its access line.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics, multiprocess
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.kit.logs import PATH_SECRETS, REQUEST_ID, masked_path, path_secrets, request_id_from
from podium.kit.text import same_secret

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format, which every Prometheus reads (the names here need no UTF-8 escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
log = logging.getLogger(__name__)
access_log = logging.getLogger("podium.access")
# No ``*_created`` series: they double the text a scrape carries, and Prometheus does not use them.
disable_created_metrics()

# --- counters and histograms: moved by the code -----------------------------------------------------

HTTP_REQUESTS = Counter(
    "podium_http_requests",
    "HTTP requests answered, by dialect (boomstream, iotum, liveminutes, web, watch, other), API method "
    "or route template, HTTP verb and status",
    ["dialect", "method", "verb", "status"],
)
HTTP_DURATION = Histogram(
    "podium_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response body, by dialect, method and verb",
    ["dialect", "method", "verb"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OUTBOX_ATTEMPTS = Counter(
    "podium_outbox_attempts",
    "Outbox delivery attempts by kind (email, webhook, job) and outcome: delivered, retry (failed, to "
    "be tried again) or failed (the last attempt failed: given up)",
    ["kind", "outcome"],
)
MEDIA_JOBS = Counter(
    "podium_media_jobs",
    "Transcoding jobs that ended an attempt, by outcome: done, failed (given up) or retry",
    ["outcome"],
)
HEARTBEATS = Counter(
    "podium_heartbeats",
    "Watch-page heartbeats, by outcome: counted (in memory), admitted (counted after the session was "
    "checked against the database) or invalid (claim out of range); sessions refused at admission "
    'show as podium_http_requests_total{method="/watch/heartbeat"} with a 4xx status',
    ["outcome"],
)
HEARTBEAT_WATCHED = Counter(
    "podium_heartbeat_watched_seconds",
    "Watched time counted from heartbeats (each claim capped by the time since the session's previous "
    "beat; the flush caps a session's total by its life again)",
)
HEARTBEAT_FLUSH_FAILURES = Counter(
    "podium_heartbeat_flush_failures",
    "Heartbeat flushes that could not write (their time is kept for the next flush)",
)
API_ANSWERS = Counter(
    "podium_api_answers",
    "Answers of the API's cacheable reads (kit/answers), by source: kept (served again within its "
    "second), shared (a concurrent read of the same answer), read (from the database)",
    ["source"],
)
GROUP_COMMITS = Counter(
    "podium_group_commits",
    "Transactions of the group commit (kit/group_commit), by kind of write and outcome: together (a "
    "batch committed as one), alone (one item on its own: nothing else was waiting, or its batch "
    "failed and each item was made again), failed (an item alone that raised its error)",
    ["kind", "outcome"],
)
GROUP_COMMIT_ITEMS = Counter(
    "podium_group_commit_items",
    "Writes made by the group commit, by kind, whatever their transaction",
    ["kind"],
)
ROOM_CONNECTIONS = Counter(
    "podium_room_connections",
    "Room signaling connections opened (a visitor's socket said hello) in this process",
)

for _source in ("kept", "shared", "read"):
    API_ANSWERS.labels(_source)
for _kind in ("email", "webhook", "job"):
    for _outcome in ("delivered", "retry", "failed"):
        OUTBOX_ATTEMPTS.labels(_kind, _outcome)
for _outcome in ("done", "failed", "retry"):
    MEDIA_JOBS.labels(_outcome)
for _outcome in ("counted", "admitted", "invalid"):
    HEARTBEATS.labels(_outcome)


# --- gauges: read at scrape time -------------------------------------------------------------------


@dataclass(frozen=True)
class GaugeSpec:
    name: str
    documentation: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """One gauge sample read at scrape time."""

    spec: GaugeSpec
    value: float
    labels: dict[str, str] = field(default_factory=dict)


OUTBOX_MESSAGES = GaugeSpec(
    "podium_outbox_messages",
    "Outbox messages by kind and status: pending (not yet delivered) or failed (given up)",
    ("kind", "status"),
)
OUTBOX_DUE = GaugeSpec(
    "podium_outbox_due_messages",
    "Pending outbox messages whose (next) attempt is due now: what the worker has yet to take",
)
MEDIA_QUEUE = GaugeSpec(
    "podium_media_queue",
    "Media waiting to be transcoded (waiting) or held by a worker now (leased)",
    ("state",),
)
MEDIA_FAILED = GaugeSpec("podium_media_failed", "Media whose transcoding failed (not deleted)")
RECORDING_JOBS = GaugeSpec(
    "podium_recording_jobs",
    "Recording jobs waiting or running, by step: compose (raw tracks to files) or transcribe",
    ("step",),
)
ROOMS_LIVE = GaugeSpec("podium_rooms_live", "Rooms with at least one visitor connected (every process)")
ROOM_PARTICIPANTS = GaugeSpec(
    "podium_room_participants",
    "Visitors connected to rooms, waiting rooms included (every process)",
)
PHONE_CALLS = GaugeSpec(
    "podium_phone_calls",
    "Phone calls ringing or on the line (every process), by direction: out (dialled from a meeting) "
    "or in (dial-in, counted from the caller's admission); phones in rooms are not in room_participants",
    ("direction",),
)
JANUS_INSTANCES = GaugeSpec("podium_janus_instances", "Janus instances this server is configured to use")
JANUS_UP = GaugeSpec(
    "podium_janus_up", "Whether a Janus instance answered its info request (1) or not (0)", ("instance",)
)
SOURCE_UP = GaugeSpec(
    "podium_metrics_source_up",
    "Whether this scrape could read a source of gauges: database (the queues), rooms (the presence)",
    ("source",),
)


def _families(readings: Iterable[Reading], specs: Sequence[GaugeSpec]) -> list[Metric]:
    families: dict[str, GaugeMetricFamily] = {
        spec.name: GaugeMetricFamily(spec.name, spec.documentation, labels=list(spec.labels))
        for spec in specs
    }
    for reading in readings:
        family = families.get(reading.spec.name)
        if family is None:
            spec = reading.spec
            family = families[spec.name] = GaugeMetricFamily(
                spec.name, spec.documentation, labels=list(spec.labels)
            )
        family.add_metric([reading.labels[name] for name in reading.spec.labels], reading.value)
    return list(families.values())


class _Scrape:
    """What one scrape exposes: the process's (or, in multiprocess mode, every process's) counters,
    then the gauges read for this scrape."""

    def __init__(self, gauges: list[Metric]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            yield from registry.collect()
        else:
            yield from REGISTRY.collect()
        yield from self.gauges


RoomCensus = Callable[[], Awaitable[tuple[int, int]]]


class Exporter:
    """``/metrics``: access control, then the scrape.

    Access: with ``PODIUM_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>`` (401 otherwise);
    unset, only clients on loopback (403 otherwise; behind a local reverse proxy the client is the one
    the proxy names, so the outside world is refused there too).
    """

    def __init__(
        self,
        *,
        token: str | None,
        rooms: RoomCensus | None = None,
        database: Callable[[], list[Reading]] | None = None,
        janus: Callable[[], list[tuple[str, bool]] | None] | None = None,
    ) -> None:
        self.token = token
        self.rooms, self.database, self.janus = rooms, database, janus

    def refusal(self, request: Request) -> Response | None:
        if self.token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not same_secret(given.strip(), self.token):
                return Response(
                    "metrics: a bearer token is required\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                    media_type="text/plain",
                )
            return None
        if not is_loopback(request.client.host if request.client else ""):
            return Response(
                "metrics: loopback only (set PODIUM_METRICS_TOKEN to scrape from elsewhere)\n",
                status_code=403,
                media_type="text/plain",
            )
        return None

    async def endpoint(self, request: Request) -> Response:
        """Prometheus metrics (text format)."""
        refused = self.refusal(request)
        if refused is not None:
            return refused
        readings: list[Reading] = []
        if self.rooms is not None:
            try:
                rooms, participants = await self.rooms()  # on the event loop: the presence lives there
            except Exception:  # noqa: BLE001 - Redis away: the rest of the scrape still answers
                log.warning("metrics: could not read the rooms' presence", exc_info=True)
                readings.append(Reading(SOURCE_UP, 0, {"source": "rooms"}))
            else:
                readings += [
                    Reading(ROOMS_LIVE, rooms),
                    Reading(ROOM_PARTICIPANTS, participants),
                    Reading(SOURCE_UP, 1, {"source": "rooms"}),
                ]
        body = await run_in_threadpool(self._render, readings)
        return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    def _render(self, readings: list[Reading]) -> bytes:
        specs: list[GaugeSpec] = []
        if self.database is not None:
            try:
                readings = readings + self.database()
            except Exception:  # noqa: BLE001 - the database away: counters and the rest still answer
                log.warning("metrics: could not read the queues from the database", exc_info=True)
                readings.append(Reading(SOURCE_UP, 0, {"source": "database"}))
            else:
                readings.append(Reading(SOURCE_UP, 1, {"source": "database"}))
        if self.janus is not None:
            states = self.janus() or []
            specs += [JANUS_INSTANCES, JANUS_UP]
            readings.append(Reading(JANUS_INSTANCES, len(states)))
            readings += [Reading(JANUS_UP, 1 if up else 0, {"instance": name}) for name, up in states]
        return generate_latest(_Scrape(_families(readings, specs)))


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False


def process_exited() -> None:
    """In multiprocess mode, a stopping server process's live gauges go (its counters stay counted)."""
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.mark_process_dead(os.getpid())


# --- the request middleware ------------------------------------------------------------------------

VERBS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"
INTERNAL_ERROR_START: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")],
}
INTERNAL_ERROR_BODY: Message = {"type": "http.response.body", "body": b"Internal Server Error"}


@dataclass(frozen=True)
class DialectRule:
    """Routes whose template starts with ``prefix`` belong to ``dialect``; with ``strip``, the method
    label is the template without the prefix (``/api/conference/info`` → ``conference/info``)."""

    prefix: str
    dialect: str
    strip: bool = False


class RouteLabels:
    """The ``dialect`` and ``method`` labels of a request, from the route that answered it (its
    template, never the raw path: ids and codes would make a series per object). A request that no
    route matched is labelled by its path's dialect prefix and ``(unmatched)``."""

    def __init__(self, rules: Sequence[DialectRule], *, matched: str = "web", unmatched: str = "other"):
        self.rules = list(rules)
        self.matched, self.unmatched = matched, unmatched
        self._by_template: dict[str, tuple[str, str]] = {}

    def __call__(self, scope: Scope) -> tuple[str, str]:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None and "app_root_path" in scope:  # a mounted app (``/static``): its mount
            template = scope.get("root_path", "").removeprefix(scope["app_root_path"] or "") + "/{path}"
        if isinstance(template, str):
            labels = self._by_template.get(template)
            if labels is None:
                labels = self._by_template[template] = self._classify(template)
            return labels
        path: str = scope.get("path", "")
        for rule in self.rules:
            if path.startswith(rule.prefix) and "{" not in rule.prefix:
                return rule.dialect, UNMATCHED
        return self.unmatched, UNMATCHED

    def _classify(self, template: str) -> tuple[str, str]:
        for rule in self.rules:
            if template.startswith(rule.prefix) or template == rule.prefix.rstrip("/"):
                method = template[len(rule.prefix) :] if rule.strip else template
                return rule.dialect, method or template
        return self.matched, template


class _Seen:
    """The scope the router fills in (its ``route``), when it is not the one ``ObservedRequests``
    passed on: a middleware in between that hands its app a copy of the scope says so (``handed_on``)."""

    __slots__ = ("scope",)

    def __init__(self) -> None:
        self.scope: Scope | None = None


SEEN_KEY = "podium.seen"


def handed_on(copy: Scope) -> None:
    """For a middleware that hands its app a copy of the scope (``CaseInsensitiveMethods``): the route
    that copy reaches is the one the request is counted under."""
    seen = copy.get(SEEN_KEY)
    if seen is not None:
        seen.scope = copy


class ObservedRequests:
    """The outermost middleware (pure ASGI: no body buffering, streaming untouched): a request id for
    every HTTP request (the caller's sane ``X-Request-Id``, else a new one) in ``REQUEST_ID`` and in the
    response's ``X-Request-Id``; the request counted and timed by route; in JSON log mode its access line
    (``podium.access``: method, masked path, status, duration_ms, client)."""

    def __init__(self, app: ASGIApp, *, labels: RouteLabels, log_access: bool = False) -> None:
        self.app = app
        self.labels = labels
        self.log_access = log_access
        self._series: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        reset = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode())
        seen = _Seen()
        scope[SEEN_KEY] = seen
        status, answered = 500, False  # unless a response starts: an exception escaped

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = [*message.get("headers", ()), header]
                params = (seen.scope or scope).get("path_params")
                if params and (hidden := path_secrets(params)):
                    PATH_SECRETS.set(hidden)  # for uvicorn's access line, written within this send
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            if not answered and isinstance(exc, Exception):
                # No response yet: the plain 500 Starlette would send, with the id; the server's own
                # line about the exception (it goes on up) carries the id too: it stays set.
                with contextlib.suppress(Exception):
                    await send_with_id(dict(INTERNAL_ERROR_START))
                    await send_with_id(dict(INTERNAL_ERROR_BODY))
            self._record(scope, seen.scope or scope, status, time.perf_counter() - started)
            raise
        self._record(scope, seen.scope or scope, status, time.perf_counter() - started)
        REQUEST_ID.reset(reset)

    def _record(self, scope: Scope, routed: Scope, status: int, seconds: float) -> None:
        """``scope`` as the request came, ``routed`` as the router left it (its route, its parameters)."""
        dialect, method = self.labels(routed)
        verb = scope["method"] if scope["method"] in VERBS else "OTHER"
        key = (dialect, method, verb, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                HTTP_REQUESTS.labels(dialect, method, verb, str(status)),
                HTTP_DURATION.labels(dialect, method, verb),
            )
        series[0].inc()
        series[1].observe(seconds)
        if self.log_access and access_log.isEnabledFor(logging.INFO):
            path = masked_path(scope["path"], scope["query_string"], routed.get("path_params"))
            client = scope.get("client")
            access_log.info(
                "%s %s %d",
                verb,
                path,
                status,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "client": client[0] if client else None,
                },
            )
