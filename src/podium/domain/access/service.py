"""Role and tenant scope: the one place that decides who may act on which company and host.

RESELLER_ADMIN acts within its reseller and every descendant reseller; COMPANY_ADMIN within its
company; HOST on nothing administrative. Objects beyond one's scope are Forbidden (the Iotum
reference's 403); objects that do not exist (or are deleted) are NotFound.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from podium.domain.access.repository import AccessRepository
from podium.domain.actor import Actor
from podium.domain.auth.actors import TENANCY
from podium.kit.errors import Forbidden, InvalidInput, NotFound
from podium.kit.stamped import StampedCache, watch
from podium.models.tenancy import Company, Host, Reseller, Role

# Reseller id -> it and its descendants: every reseller-wide check reads it (a recursive query).
RESELLER_TREES: StampedCache[frozenset[int]] = StampedCache(TENANCY)
# A reseller added under another, or moved, changes the trees.
watch(TENANCY, Reseller, frozenset({"parent_id"}), new_rows=True)


class AccessPolicy:
    """The access rule, asked by every service on behalf of one actor.

    Services call it first thing in each public method (before any rule about the input), so an
    edge never decides who may do what: it passes the actor and the ids it was given.
    """

    def __init__(self, session: Session, actor: Actor) -> None:
        self.actor = actor
        self.repo = AccessRepository(session)
        self._resellers: set[int] | None = None

    def require_admin(self) -> None:
        """Company or reseller admins only.

        Raises:
            Forbidden: the actor is a plain host.
        """
        if not self.actor.is_admin:
            raise Forbidden("Your role does not allow this action")

    def require_reseller_admin(self) -> None:
        """Reseller admins only.

        Raises:
            Forbidden: the actor is a company admin or a host.
        """
        if not self.actor.is_reseller_admin:
            raise Forbidden("Only a reseller admin may do this")

    def require_scope(self, scope: str) -> None:
        """OAuth callers need the ``read`` or ``write`` scope; other credentials carry every scope."""
        if self.actor.scopes is not None and scope not in self.actor.scopes:
            raise Forbidden(f"The access token lacks the '{scope}' scope")

    def reseller_ids(self) -> set[int]:
        """The actor's reseller and all its descendants (empty for an actor without a reseller)."""
        if self._resellers is None:
            own = self.actor.reseller_id
            self._resellers = set(self._reseller_tree(own)) if own is not None else set()
        return self._resellers

    def _reseller_tree(self, root_id: int) -> frozenset[int]:
        """A reseller and its descendants, kept per process while no reseller is added or moved."""
        tree = RESELLER_TREES.get(self.repo.session, root_id)
        if tree is None:
            stamp = RESELLER_TREES.stamp(self.repo.session)
            tree = frozenset(self.repo.reseller_tree_ids(root_id))
            RESELLER_TREES.put(self.repo.session, root_id, tree, stamp)
        return tree

    def own_reseller(self) -> Reseller:
        """The actor's own reseller.

        Raises:
            NotFound: the actor has no reseller (or it is gone).
        """
        reseller = self.repo.reseller(self.actor.reseller_id or 0)
        if reseller is None:
            raise NotFound("Reseller not found")
        return reseller

    def company(self, company_id: int | None) -> Company:
        """The company an admin names, checked against the actor's scope.

        A company admin always gets its own company: the parameter is ignored, as the reference says.

        Raises:
            Forbidden: a plain host, or a company beyond a reseller admin's tree.
            InvalidInput: a reseller admin named no company.
            NotFound: the company does not exist or is deleted.
        """
        self.require_admin()
        if not self.actor.is_reseller_admin or company_id is None:
            if self.actor.is_reseller_admin:
                raise InvalidInput("company_id is required", field="company_id")
            company_id = self.actor.company_id
        company = self.repo.company(company_id)
        if company is None or company.deleted_at is not None:
            raise NotFound("Company not found")
        if company.id != self.actor.company_id and not (
            self.actor.is_reseller_admin and company.reseller_id in self.reseller_ids()
        ):
            raise Forbidden("This company is beyond your scope")
        return company

    def named_company(self, company_id: int) -> Company:
        """The company an admin names by id (a page about one company): unlike ``company``, a
        company admin naming another company is refused rather than given its own.

        Raises:
            Forbidden: a plain host, a company admin naming another company, or a company beyond a
                reseller admin's tree.
            NotFound: the company does not exist or is deleted.
        """
        self.require_admin()
        if not self.actor.is_reseller_admin and company_id != self.actor.company_id:
            raise Forbidden("This company is beyond your scope")
        return self.company(company_id)

    def company_or_own(self, company_id: int | None) -> Company:
        """Like ``company`` but a reseller admin without ``company_id`` means its own company."""
        if company_id is None:
            company_id = self.actor.company_id
        return self.company(company_id)

    def host(self, host_id: int) -> Host:
        """A live host the actor administers.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's company (or reseller tree).
            NotFound: the host (or its company) does not exist or is deleted.
        """
        self.require_admin()
        host = self.repo.host(host_id)
        if host is None or host.deleted_at is not None:
            raise NotFound("Host not found")
        company = self.repo.company(host.company_id)
        if company is None or company.deleted_at is not None:
            raise NotFound("Host not found")
        if self.actor.is_reseller_admin:
            if company.reseller_id not in self.reseller_ids():
                raise Forbidden("This host is beyond your scope")
        elif host.company_id != self.actor.company_id:
            raise Forbidden("This host is beyond your scope")
        return host

    def own_host(self) -> Host:
        """The caller's own host, whatever its role: anyone may read who they are."""
        host = self.repo.host(self.actor.host_id or 0)
        if host is None or host.deleted_at is not None:
            raise NotFound("Host not found")
        return host

    def readable_host(self, host_id: int) -> Host:
        """The caller's own host (any role), or a host the actor administers."""
        return self.own_host() if host_id == self.actor.host_id else self.host(host_id)

    def may_grant(self, role: Role) -> None:
        """Only a reseller admin grants (or touches) the reseller-admin role.

        Raises:
            Forbidden: a company admin granting RESELLER_ADMIN.
        """
        if role == Role.RESELLER_ADMIN and not self.actor.is_reseller_admin:
            raise Forbidden("Only a reseller admin may grant the RESELLER_ADMIN role")

    def may_manage(self, host: Host) -> None:
        """Only a reseller admin changes or deletes a reseller-admin host."""
        self.may_grant(host.role)
