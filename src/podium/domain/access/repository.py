from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models.tenancy import Company, Host, Reseller


class AccessRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def reseller_tree_ids(self, root_id: int) -> set[int]:
        """The reseller and all its descendants (a recursive query, the same on SQLite and PostgreSQL)."""
        tree = select(Reseller.id).where(Reseller.id == root_id).cte("tree", recursive=True)
        tree = tree.union_all(select(Reseller.id).join(tree, Reseller.parent_id == tree.c.id))
        return set(self.session.scalars(select(tree.c.id)).all())

    def company(self, company_id: int) -> Company | None:
        return self.session.get(Company, company_id)

    def host(self, host_id: int) -> Host | None:
        return self.session.get(Host, host_id)

    def children(self, parent_id: int) -> list[Reseller]:
        stmt = select(Reseller).where(Reseller.parent_id == parent_id).order_by(Reseller.id)
        return list(self.session.scalars(stmt).all())

    def reseller(self, reseller_id: int) -> Reseller | None:
        return self.session.get(Reseller, reseller_id)
