"""Logs: the request id every line of a request carries, secrets masked, JSON lines on demand.

- ``REQUEST_ID`` holds the id of the HTTP request being served (set by ``kit/metrics.ObservedRequests``
  and returned in its ``X-Request-Id`` header); work handed to threads (``run_in_threadpool``) keeps it.
- ``mask_secrets`` hides credentials that travel in query strings (Boomstream ``apikey``, Iotum
  ``auth_token`` / ``api_token``, join ``jwt``, OAuth tokens and secrets, passwords); both log formats
  go through it: the text access log through ``MaskSecretsInAccessLog``, every JSON line through
  ``JsonFormatter``.
- ``log_config`` is the ``logging.config.dictConfig`` of the server (uvicorn's, and ours for JSON):
  ``PODIUM_LOG_FORMAT=json`` makes every line one JSON object with ``time``, ``level``, ``logger``,
  ``message`` and ``request_id`` (and, for access lines, ``method``, ``path``, ``status``,
  ``duration_ms``).
- ``ProgressLine``: how far long CLI work got, on stderr.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import secrets
import shutil
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from uvicorn.config import LOGGING_CONFIG

REQUEST_ID: ContextVar[str | None] = ContextVar("podium_request_id", default=None)
# Credentials in the path of the request being answered (``/e/{token}``), set when its response
# starts: uvicorn's own access line (text format) is written then, in the same context, and masks them.
PATH_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("podium_path_secrets", default=())
# An incoming id is kept when it is 1 to 64 of these characters (a proxy's or a client's own); any
# other is replaced, so a log line never carries a caller's control characters or a megabyte of text.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=-]{1,64}")

# ``name=value`` pairs of a query string (or a form echoed in a message) whose value is a credential.
# Unanchored on purpose: ``auth_token=``, ``api_token=``, ``access_token=`` and ``moderator_token=`` all
# end in ``token=``; ``client_secret=`` in ``secret=``.
_SECRET_PAIR = re.compile(
    r"((?:apikey|api_key|jwt|token|secret|password|id_recovery|code_verifier)=)[^&\s\"']+", re.IGNORECASE
)
MASK = "xxx"
# Route parameters that carry a credential in the path itself (``/play/{token}/…``, ``/e/{token}``,
# ``/conf/call/s/{token}``, a live's signed segment window ``/live/{window}/…``, a streaming page's
# ``/stream/{key}``): the access log shows them masked.
_SECRET_PATH_PARAMS = ("token", "key", "window")


def mask_secrets(text: str) -> str:
    """``text`` with the value of every credential-bearing ``name=value`` pair replaced by ``xxx``."""
    if "=" not in text:
        return text
    return _SECRET_PAIR.sub(r"\1" + MASK, text)


def path_secrets(path_params: dict[str, Any]) -> tuple[str, ...]:
    """The values of a route's credential parameters (``token``)."""
    return tuple(
        value
        for name, value in path_params.items()
        if isinstance(value, str) and value and any(s in name.lower() for s in _SECRET_PATH_PARAMS)
    )


def masked_path(path: str, query: bytes | str, path_params: dict[str, Any] | None) -> str:
    """The request target as an access line shows it: credentials in the query string and in
    credential path parameters masked."""
    if path_params:
        for value in path_secrets(path_params):
            path = path.replace(value, MASK)
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    return f"{path}?{mask_secrets(query)}" if query else path


# New request ids: this process's random prefix and a count (unique without a system call each).
_ID_PREFIX = secrets.token_hex(5)
_ID_COUNT = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ID_COUNT):x}"


def request_id_from(headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> str:
    """The caller's ``X-Request-Id`` when it is sane (short, safe characters), else a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            try:
                given = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _SAFE_REQUEST_ID.fullmatch(given):
                return given
            break
    return new_request_id()


class MaskSecretsInAccessLog(logging.Filter):
    """uvicorn's access lines carry the request target (``args``: client, method, target, version,
    status): API keys and join tokens must not reach the logs — neither in its query string nor in
    its path (``PATH_SECRETS``, the route's credential parameters)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            args = list(record.args)
            hidden = PATH_SECRETS.get()
            if hidden and len(args) == 5 and isinstance(args[2], str):
                for value in hidden:
                    args[2] = args[2].replace(value, MASK)
            record.args = tuple(mask_secrets(a) if isinstance(a, str) else a for a in args)
        return True


# What an access line adds to the record (``extra=``), in this order.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id`` (null outside a request), the access fields when the record has them, and
    ``exception`` (the traceback) when there is one. Messages are masked like the access log."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for name in ACCESS_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = mask_secrets(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = mask_secrets(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """The server's logging (given to uvicorn, so every worker process applies it too).

    ``text``: uvicorn's own lines, with secrets masked in its access log; Podium's loggers as the CLI
    set them up. ``json``: every logger (uvicorn's and Podium's) writes JSON lines to stderr, and the
    access lines come from ``kit/metrics.ObservedRequests`` (logger ``podium.access``, with the request
    id and the duration) instead of uvicorn's.
    """
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_secrets"] = {"()": "podium.kit.logs.MaskSecretsInAccessLog"}
    config["loggers"]["uvicorn.access"]["filters"] = ["mask_secrets"]
    if log_format != "json":
        return config
    config["formatters"] = {"json": {"()": "podium.kit.logs.JsonFormatter"}}
    config["handlers"] = {
        "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    }
    for name in ("uvicorn", "uvicorn.error"):
        config["loggers"][name] = {"handlers": [], "level": level.upper(), "propagate": True}
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": False}  # ours replace its lines
    config["loggers"]["alembic"] = {"level": "WARNING"}
    config["root"] = {"handlers": ["json"], "level": level.upper()}
    return config


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """The CLI's logging before a command runs: ``text`` as before (``LEVEL logger: message``), or
    JSON lines; both on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


class ProgressLine:
    """How far long work got, as one line on ``stream`` (stderr): rewritten in place on a terminal,
    one line per step when asked for elsewhere (``--progress`` into a file), nothing otherwise.

    ``with ProgressLine("db upgrade", total) as progress: progress.step(done, "what")``.
    """

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, enabled: bool | None = None):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = self.terminal if enabled is None else enabled
        self._shown = False

    def step(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        percent = f" {100 * done // self.total:3d}%" if self.total else ""
        note = " ".join(note.split())  # one line, whatever the note held
        text = f"{self.label}: {done}/{self.total}{percent}" + (f" {note}" if note else "")
        if self.terminal:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + text[:width].ljust(width))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self.terminal:
            self.stream.write("\n")
            self.stream.flush()
        self._shown = False

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
