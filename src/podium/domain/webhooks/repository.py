from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models.activity import WebhookDelivery, WebhookEndpoint
from podium.models.outbox import OutboxMessage


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: WebhookEndpoint | WebhookDelivery) -> None:
        self.session.add(obj)
        self.session.flush()

    def live_for_company(self, company_id: int) -> Sequence[WebhookEndpoint]:
        stmt = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.company_id == company_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
        return self.session.scalars(stmt).all()

    def endpoint(self, endpoint_id: int) -> WebhookEndpoint | None:
        return self.session.get(WebhookEndpoint, endpoint_id)

    def deliveries(self, endpoint_id: int, limit: int = 100) -> Sequence[WebhookDelivery]:
        stmt = (
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def company_deliveries(
        self, company_id: int, limit: int, offset: int
    ) -> Sequence[tuple[WebhookDelivery, WebhookEndpoint, OutboxMessage | None]]:
        """A page of the delivery attempts to the company's endpoints (deleted ones too), newest
        first, each with its endpoint and outbox message (one query)."""
        stmt = (
            select(WebhookDelivery, WebhookEndpoint, OutboxMessage)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .outerjoin(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_id)
            .where(WebhookEndpoint.company_id == company_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [(d, e, o) for d, e, o in self.session.execute(stmt).all()]

    def delivery(self, delivery_id: int) -> WebhookDelivery | None:
        return self.session.get(WebhookDelivery, delivery_id)

    def outbox_message(self, message_id: int) -> OutboxMessage | None:
        return self.session.get(OutboxMessage, message_id)
