"""What every Iotum handler gets (a Call) and gives back (an Answer), and how an endpoint is declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium.domain.actor import Actor
from podium.domain.hosts.service import HostService
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.companies import CompanyService
from podium.edges.common import MethodSpec, Param
from podium.edges.iotum.params import Body
from podium.kit.errors import InvalidInput
from podium.kit.uow import Context


@dataclass(frozen=True)
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Call:
    ctx: Context
    actor: Actor
    body: Body

    def host_id(self) -> int:
        """``host_id``, or the caller's own host when the body names none.

        OAuth apps and ``auth_token`` sessions act for one host; where ``host_id`` can only mean
        "which host", leaving it out means "the one whose credential this is".
        """
        named = self.body.int_("host_id", required=False)
        if named is not None:
            return named
        if self.actor.host_id is None:
            raise InvalidInput("host_id is required", field="host_id")
        return self.actor.host_id

    @property
    def hosts(self) -> HostService:
        return HostService(self.ctx.session, self.ctx.settings)

    @property
    def subscriptions(self) -> SubscriptionService:
        return SubscriptionService(self.ctx.session)

    @property
    def companies(self) -> CompanyService:
        return CompanyService(self.ctx.session, self.ctx.settings)


# JSON Schemas of body fields, for the OpenAPI (the edge also takes the loose forms ``coerce`` reads:
# "12" for 12, "true" for true).
TEXT: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer", "format": "int64"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
OBJECT: dict[str, Any] = {"type": "object"}
TEXTS: dict[str, Any] = {"type": "array", "items": TEXT}
INTEGERS: dict[str, Any] = {"type": "array", "items": INTEGER}
OBJECTS: dict[str, Any] = {"type": "array", "items": OBJECT}

OK = Answer("OK")
MESSAGE_OK = Answer({"message": "OK"})


class Endpoint(MethodSpec):
    """An Iotum method: POST (some also PUT) with a JSON body, needing an OAuth scope (read or write)."""

    def __init__(
        self,
        path: str,
        summary: str,
        handler: Callable[[Call], Answer],
        scope: str,
        methods: tuple[str, ...] = ("POST",),
        params: tuple[Param, ...] = (),
        ok: int = 200,
        cached: bool = False,
    ) -> None:
        super().__init__(
            path,
            summary,
            handler,
            params=params,
            verbs=methods,
            scope=scope,
            ok_statuses=(ok,),
            cached=cached,
        )
