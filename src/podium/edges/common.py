"""The one edge skeleton: how a method is declared (``MethodSpec``), how a request runs
(``dispatch``: read, work in one unit of work, answer or fail) and the size-limited body reader.

Each dialect keeps only what is its own: reading its parameters, authenticating its credential,
its envelope and its error table (``edges/<dialect>/errors.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response

from podium.config import Settings
from podium.kit.answers import AnswerCache
from podium.kit.errors import DomainError, InvalidInput, PayloadTooLarge
from podium.kit.jsonbody import check_string, parse_json_object
from podium.kit.text import ascii_digits
from podium.kit.uow import Context, Handed, made_and_answered, run_unit_of_work


class Params(Mapping[str, str]):
    """Request parameters with case-insensitive names; later sources override earlier ones."""

    def __init__(
        self, values: dict[str, str], *, json_body: bool, lists: dict[str, list[str]] | None = None
    ) -> None:
        self._values = {k.lower(): v for k, v in values.items()}
        self._lists = {k.lower(): v for k, v in (lists or {}).items()}
        self.json_body = json_body

    def __getitem__(self, key: str) -> str:
        return self._values[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._values

    def text(self, key: str, default: str = "") -> str:
        return self._values.get(key.lower(), default)

    def all(self, key: str) -> list[str]:
        """Every value of a repeated parameter (``code[]=a&code[]=b``, or a JSON array)."""
        if key.lower() in self._lists:
            return list(self._lists[key.lower()])
        value = self._values.get(key.lower())
        return [] if value is None else [value]

    def required(self, key: str) -> str:
        value = self._values.get(key.lower(), "").strip()
        if not value:
            raise InvalidInput(f"Parameter '{key}' is required", field=key)
        return value


def _scalar(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    raise InvalidInput(f"Parameter '{name}' must be a string, number or boolean", field=name)


async def read_params(request: Request, settings: Settings) -> Params:
    """Merge the query string with a JSON or form body (the body wins)."""
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}

    def put(key: str, value: str) -> None:
        values[key] = value
        lists.setdefault(key.lower(), []).append(value)

    for key, value in request.query_params.multi_items():
        put(key, value)
    json_body = False
    if request.method in ("POST", "PUT"):
        body = await read_limited(request, settings.max_body_bytes)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json" or (not content_type and body.lstrip().startswith(b"{")):
            json_body = True
            if body.strip():
                data = parse_json_object(body)
                for key, value in data.items():
                    if isinstance(value, list):
                        # An array of scalars is a repeated parameter; read it with Params.all.
                        scalars = [_scalar(str(key), item) for item in value]
                        lists[str(key).lower()] = [item for item in scalars if item is not None]
                        continue
                    text = _scalar(str(key), value)
                    if text is not None:
                        values[str(key)] = text
                        lists[str(key).lower()] = [text]
        elif body:
            try:
                decoded = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput("Request body is not UTF-8") from exc
            if content_type in ("", "application/x-www-form-urlencoded", "text/plain"):
                body_lists: dict[str, list[str]] = {}
                for key, value in parse_qsl(decoded, keep_blank_values=True):
                    values[key] = value
                    body_lists.setdefault(key.lower(), []).append(value)
                lists.update(body_lists)  # the body wins over the query string, key by key
            else:
                raise InvalidInput(f"Unsupported content type {content_type}")
    for key, items in lists.items():
        check_string(key, key)
        for item in items:
            check_string(item, key)
    return Params(values, json_body=json_body, lists=lists)


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared and ascii_digits(declared) and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request.scope["podium.body"] = body  # part of a cached answer's key (kit/answers)
    return body


@dataclass(frozen=True)
class Param:
    """A documented parameter of a method (for required-parameter checks and the OpenAPI).

    ``schema`` is its JSON Schema in the OpenAPI (a string when not given: query strings and forms
    carry text; JSON dialects name the type a client should send).
    """

    name: str
    description: str
    required: bool = False
    schema: Mapping[str, Any] | None = None

    @property
    def json_schema(self) -> dict[str, Any]:
        return {"description": self.description, **(self.schema or {"type": "string"})}


@dataclass(frozen=True)
class MethodSpec:
    """One method of a dialect: its path under the dialect's prefix, its summary (the OpenAPI
    summary), its handler, its parameters, the HTTP verbs it answers, for OAuth-scoped dialects
    the scope it needs, and the statuses it answers on success."""

    path: str
    summary: str
    handler: Callable[[Any], Any]
    params: tuple[Param, ...] = ()
    verbs: tuple[str, ...] = ("POST",)
    scope: str | None = None
    # The statuses of its successful answers (for the OpenAPI).
    ok_statuses: tuple[int, ...] = (200,)
    # A read whose answer may be served again for a second while nothing is written (kit/answers):
    # it writes nothing and mints nothing that must differ between two calls.
    cached: bool = False

    @property
    def cache_as(self) -> str | None:
        """The name its answers are kept under (``dispatch``'s ``cache_as``), when ``cached``."""
        return self.path if self.cached else None

    @property
    def operation_name(self) -> str:
        return self.path.replace("/", "_")


P = TypeVar("P")
R = TypeVar("R")
# What a method's handler returns: its payload, or — when its whole change is one hot write — that
# write handed over (``uow.Handed``) with how to answer once it is made (kit/group_commit).
Payload = dict[str, Any] | Handed[Any, Any, dict[str, Any]]


async def dispatch(
    request: Request,
    *,
    read: Callable[[Request], Awaitable[P]],
    work: Callable[[Context, P], R | Handed[Any, Any, R]],
    answer: Callable[[R], Response],
    fail: Callable[[DomainError], Response],
    cache_as: str | None = None,
) -> Response:
    """Run one method: read the request, do the work in one unit of work, answer or fail.

    Every handled failure is a ``DomainError``, rendered by the dialect's ``fail``. With ``cache_as``
    (a ``cached`` method's name) a successful answer is kept by the app's ``AnswerCache`` and
    served again from it. A work whose whole change is one hot write returns it handed over
    (``uow.Handed``): it is made by the group commit once the unit of work has ended, and its
    answer is awaited here, on the event loop.
    """
    try:
        params = await read(request)
    except DomainError as error:
        return fail(error)

    async def run() -> tuple[Response, bool]:
        try:
            done = await run_unit_of_work(request, lambda ctx: work(ctx, params))
            result: R = await made_and_answered(request, done) if isinstance(done, Handed) else done
        except DomainError as error:
            return fail(error), False
        return answer(result), True

    cache: AnswerCache | None = getattr(request.app.state, "answers", None)
    if cache_as is None or cache is None:
        return (await run())[0]
    return await cache.serve(cache.key(request, cache_as, request.scope.get("podium.body", b"")), run)
