"""Webhooks: per-company endpoints; events fan out from audit actions and leave through the outbox.

Two styles, from NOTES.md. Iotum: POST JSON ``{"event": str, "payload": "<serialized JSON>",
"timestamp": ISO 8601}`` with ``x-signing-token``, retried with exponential backoff. Boomstream:
a form-encoded POST of ``event`` and the event's fields (same header), where any answer but 200 is
retried every 10 minutes, 3 times. An endpoint's style follows from the events it listens to.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.repository import AuditRepository
from podium.domain.outbox.service import enqueue
from podium.domain.webhooks.repository import WebhookRepository
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.outbound import check_url
from podium.kit.stamped import StampedCache, watch
from podium.kit.uow import wake_outbox
from podium.models.activity import WebhookDelivery, WebhookEndpoint
from podium.models.outbox import OutboxMessage

# Audit action → public event name. Only events whose meaning is clear are published.
EVENTS_BY_ACTION: dict[str, str] = {
    "conference.started": "conference_start",
    "conference.ended": "conference_end",
    "conference.recording_started": "start_recording",
    "conference.streaming_started": "start_streaming",
    "conference.streaming_stopped": "stop_streaming",
    "conference.access_code_reused": "one_time_access_code_reused",
    "conference.created": "conference_created",
    "conference.updated": "conference_updated",
    "conference.cancelled": "conference_cancelled",
}
EVENTS = tuple(dict.fromkeys(EVENTS_BY_ACTION.values()))
# Boomstream events carry the names of the audit actions they come from.
BOOMSTREAM_EVENTS = (
    "media.created",
    "media.completed",
    "media.failed",
    "screenshots.completed",
    "ppv.bought",
    "live.started",
    "live.stopped",
)
BOOMSTREAM_RETRY = {"retry_every": 600, "max_attempts": 4}

# Every audited write asks which endpoints listen to its company: kept per company while no
# endpoint changes (ADR 0007). Another process's new endpoint is heard within POLL_SECONDS.
WEBHOOKS = "webhooks"
watch(WEBHOOKS, WebhookEndpoint, new_rows=True)


@dataclass(frozen=True)
class Listener:
    """An active endpoint of a company, as fan-out needs it."""

    endpoint_id: int
    style: str
    events: frozenset[str]


LISTENERS: StampedCache[tuple[Listener, ...]] = StampedCache(WEBHOOKS)


def listeners(session: Session, company_id: int) -> tuple[Listener, ...]:
    """The company's active, live endpoints, oldest first."""
    found = LISTENERS.get(session, company_id)
    if found is not None:
        return found
    stamp = LISTENERS.stamp(session)
    found = tuple(
        Listener(e.id, e.style, frozenset(e.events))
        for e in WebhookRepository(session).live_for_company(company_id)
        if e.active
    )
    LISTENERS.put(session, company_id, found, stamp)
    return found


def fan_out(session: Session, action: str, company_id: int | None, data: dict[str, Any]) -> None:
    """Queue one delivery per endpoint of the company that listens for the audited action's event."""
    iotum_event = EVENTS_BY_ACTION.get(action)
    boomstream_event = action if action in BOOMSTREAM_EVENTS else None
    if (iotum_event is None and boomstream_event is None) or company_id is None:
        return
    # host_id, company_id and conference_id lead, as in the reference's payloads.
    leading = ("host_id", "company_id", "conference_id")
    data = {**data, "company_id": company_id}
    payload: dict[str, Any] = {key: data[key] for key in leading if key in data}
    payload.update({key: value for key, value in data.items() if key not in leading})
    timestamp = utcnow().isoformat(timespec="seconds") + "Z"
    for endpoint in listeners(session, company_id):
        event = boomstream_event if endpoint.style == "boomstream" else iotum_event
        if event is None or event not in endpoint.events:
            continue
        message: dict[str, Any] = {
            "endpoint_id": endpoint.endpoint_id,
            "event": event,
            "payload": payload,
            "timestamp": timestamp,
            "style": endpoint.style,
        }
        if endpoint.style == "boomstream":
            message.update(BOOMSTREAM_RETRY)
        enqueue(session, "webhook", message)


def body_for(message: dict[str, Any]) -> dict[str, str]:
    """The Iotum JSON body."""
    return {
        "event": message["event"],
        "payload": json.dumps(message["payload"]),
        "timestamp": message["timestamp"],
    }


def form_for(message: dict[str, Any]) -> dict[str, str]:
    """The Boomstream form fields: the event, its fields flat, and when it happened."""
    fields = {"event": str(message["event"])}
    for key, value in message["payload"].items():
        if key != "company_id" and value is not None:
            fields[key] = str(value)
    fields["timestamp"] = str(message["timestamp"])
    return fields


def style_of(events: Sequence[str]) -> str:
    """Which style an endpoint listening to ``events`` speaks; a mix of the two is refused."""
    chosen = set(events)
    if chosen and chosen <= set(BOOMSTREAM_EVENTS):
        return "boomstream"
    if chosen and chosen <= set(EVENTS):
        return "iotum"
    raise InvalidInput(
        f"events must be among {', '.join(EVENTS)} (Iotum) or among {', '.join(BOOMSTREAM_EVENTS)} "
        "(Boomstream), not both",
        field="events",
    )


class WebhookService:
    """A company's webhook endpoints.

    The API methods (``register``, ``endpoints``, ``remove``, ``delivery_log``) take the actor and
    check the company through the access policy. ``create``, ``get``, ``list``, ``delete`` and
    ``deliveries`` are the command line's (trusted: no actor), ``record_attempt`` the outbox worker's.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = WebhookRepository(session)

    # --- the API: the actor's scope is checked here ------------------------------------------

    def register(
        self,
        actor: Actor,
        company_id: int | None,
        url: str,
        events: Sequence[str],
        *,
        allow_private: bool = False,
    ) -> WebhookEndpoint:
        """Register an Iotum-style endpoint for the company's ``events``.

        Args:
            actor: who is calling; a company admin always acts on its own company.
            company_id: the company (required of a reseller admin).
            url: where deliveries go (http or https).
            events: Iotum event names, at least one.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company does not exist.
            InvalidInput: no url, a malformed url, no events or an unknown one.
        """
        company = AccessPolicy(self.session, actor).company(company_id)
        if not url.strip():
            raise InvalidInput("url is required", field="url")
        return self.create(company.id, url, events, style="iotum", allow_private=allow_private)

    def endpoints(self, actor: Actor, company_id: int | None) -> Sequence[WebhookEndpoint]:
        """The company's live endpoints.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company does not exist.
        """
        return self.list(AccessPolicy(self.session, actor).company(company_id).id)

    def remove(self, actor: Actor, company_id: int | None, endpoint_id: int) -> None:
        """Stop delivering to an endpoint of the company.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company, or the endpoint in it, does not exist.
        """
        self.delete(AccessPolicy(self.session, actor).company(company_id).id, endpoint_id)

    def delivery_log(
        self, actor: Actor, company_id: int | None, endpoint_id: int
    ) -> Sequence[WebhookDelivery]:
        """The latest delivery attempts to an endpoint of the company, newest first.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company, or the endpoint in it, does not exist.
        """
        return self.deliveries(AccessPolicy(self.session, actor).company(company_id).id, endpoint_id)

    def console_log(
        self, actor: Actor, *, limit: int = 50, offset: int = 0
    ) -> Sequence[tuple[WebhookDelivery, WebhookEndpoint, OutboxMessage | None]]:
        """The latest delivery attempts to the actor's company's endpoints, newest first.

        Raises:
            Forbidden: a plain host.
        """
        company = AccessPolicy(self.session, actor).company_or_own(None)
        return self.repo.company_deliveries(company.id, min(max(limit, 1), 200), max(offset, 0))

    def retry(self, actor: Actor, delivery_id: int) -> OutboxMessage:
        """Deliver a failed delivery's message once more, now (the worker is woken after the commit);
        its attempts are logged as usual.

        Raises:
            Forbidden: a plain host.
            NotFound: no such delivery to an endpoint of the actor's company.
            Conflict: the message has not failed for good (it is delivered, or still being retried).
        """
        company = AccessPolicy(self.session, actor).company_or_own(None)
        delivery = self.repo.delivery(delivery_id)
        endpoint = self.repo.endpoint(delivery.endpoint_id) if delivery else None
        if delivery is None or endpoint is None or endpoint.company_id != company.id:
            raise NotFound("Delivery not found")
        message = self.repo.outbox_message(delivery.outbox_id or 0)
        if message is None or message.status != "failed":
            raise Conflict("Only a delivery that failed for good can be retried")
        message.status = "pending"
        message.next_attempt_at = utcnow()
        self.session.flush()
        wake_outbox(self.session)
        # Recorded as log_action would (which imports this module: no webhook fans out from it).
        AuditRepository(self.session).append(
            action="webhook.retried",
            actor=actor.label,
            ref=f"outbox:{message.id}",
            company_id=company.id,
            data={"delivery_id": delivery.id},
        )
        return message

    # --- the command line and the worker (trusted) ------------------------------------------

    def create(
        self,
        company_id: int,
        url: str,
        events: Sequence[str],
        *,
        style: str | None = None,
        allow_private: bool = False,
    ) -> WebhookEndpoint:
        """An endpoint for ``events``; ``style`` (iotum | boomstream) follows from them unless given.

        Raises:
            InvalidInput: a malformed url, or events that are unknown or mix the two styles.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
            raise InvalidInput("url must be an http(s) URL", field="url")
        try:
            check_url(url, allow_private=allow_private)
        except InvalidInput:
            # A literal loopback/private address; a name is checked again on every delivery.
            raise InvalidInput(
                "url names an address this server does not deliver to (loopback, private or "
                "link-local); an operator may allow an intranet with PODIUM_WEBHOOK_PRIVATE_NETWORKS",
                field="url",
            ) from None
        chosen = list(dict.fromkeys(e.strip() for e in events if e.strip()))
        if style == "iotum":
            unknown = set(chosen) - set(EVENTS)
            if not chosen or unknown:
                raise InvalidInput(f"events must be among {', '.join(EVENTS)}", field="events")
        style = style_of(chosen)
        endpoint = WebhookEndpoint(
            company_id=company_id,
            url=url.strip(),
            events=chosen,
            signing_token=secrets.token_hex(24),
            style=style,
        )
        self.repo.add(endpoint)
        return endpoint

    def get(self, company_id: int, endpoint_id: int) -> WebhookEndpoint:
        """A live endpoint of the company.

        Raises:
            NotFound: no such endpoint in this company.
        """
        endpoint = self.repo.endpoint(endpoint_id)
        if endpoint is None or endpoint.company_id != company_id or endpoint.deleted_at is not None:
            raise NotFound("Webhook not found")
        return endpoint

    def list(self, company_id: int) -> Sequence[WebhookEndpoint]:
        """The company's live endpoints."""
        return self.repo.live_for_company(company_id)

    def delete(self, company_id: int, endpoint_id: int) -> None:
        """Mark an endpoint of the company deleted (its delivery log stays).

        Raises:
            NotFound: no such endpoint in this company.
        """
        self.get(company_id, endpoint_id).deleted_at = utcnow()
        self.session.flush()

    def deliveries(self, company_id: int, endpoint_id: int) -> Sequence[WebhookDelivery]:
        """The latest delivery attempts to an endpoint of the company, newest first.

        Raises:
            NotFound: no such endpoint in this company.
        """
        return self.repo.deliveries(self.get(company_id, endpoint_id).id)

    def record_attempt(
        self,
        outbox_id: int,
        attempt: int,
        message: dict[str, Any],
        *,
        status_code: int | None,
        error: str,
        succeeded: bool,
    ) -> None:
        """Log one delivery attempt of an outbox message (the worker's)."""
        self.repo.add(
            WebhookDelivery(
                endpoint_id=int(message["endpoint_id"]),
                outbox_id=outbox_id,
                event=str(message["event"]),
                payload=message["payload"],
                attempt=attempt,
                status_code=status_code,
                error=error[:2000],
                succeeded=succeeded,
            )
        )
