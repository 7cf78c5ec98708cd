"""The API methods found by their exact path, in one dictionary lookup.

FastAPI matches a request against its routes one by one, and with the dialects' four hundred
methods that walk was most of what a cached read cost (a route late in the list took 60% of the
request). Every dialect method, and the viewers' heartbeat, lives at a fixed path
(``/api/conference/info``) and its endpoint takes the request alone. So this middleware, the
innermost of ours (after ``CaseInsensitiveMethods`` has put the path in its canonical case), calls
it directly. Anything else (a path with parameters, a verb the method does not answer) goes on to
FastAPI's router as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

HttpErrorHandler = Callable[[Request, HTTPException], Awaitable[Response]]


def _direct(route: APIRoute) -> bool:
    """A route this middleware may answer: a fixed path, no dependencies, an ``async`` endpoint that
    takes the request alone (what FastAPI would do for it is then only to call it)."""
    if "{" in route.path or route.dependencies or not inspect.iscoroutinefunction(route.endpoint):
        return False
    parameters = list(inspect.signature(route.endpoint).parameters.values())
    return len(parameters) == 1 and parameters[0].annotation in (Request, "Request")


Table = dict[str, dict[str, APIRoute]]


def exact_routes(routes: Iterable[Any]) -> Table:
    """The ``routes`` that can be answered directly, by path and then verb."""
    table: Table = {}
    for route in routes:
        if isinstance(route, APIRoute) and _direct(route):
            for verb in route.methods or ():
                table.setdefault(route.path, {}).setdefault(verb, route)
    return table


class ExactRoutes:
    def __init__(self, app: ASGIApp, *, table: Table, on_http_error: HttpErrorHandler) -> None:
        self.app = app
        self.table = table
        self.on_http_error = on_http_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            verbs = self.table.get(scope["path"])
            route = verbs.get(scope["method"]) if verbs is not None else None
            if route is not None:
                # What the router would leave in the scope (``/metrics`` labels by the route).
                scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, {}
                request = Request(scope, receive, send)
                try:
                    response: Response = await route.endpoint(request)
                except HTTPException as exc:
                    response = await self.on_http_error(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
