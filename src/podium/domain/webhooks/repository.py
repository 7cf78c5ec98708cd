from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models.activity import WebhookDelivery, WebhookEndpoint


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
