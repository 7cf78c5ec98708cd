"""Domain-level permission matrix: every API method of the tenancy, subscriptions, hosts, contacts,
chat, drive and webhooks services × role (reseller admin, company admin, host) × own or foreign
tenant, called directly with an Actor (no HTTP): the services check access themselves.

"own" is a customer company of the caller's reseller (the company admin's and the host's own
company); "foreign" is a company of another reseller. Objects are made fresh for each case through
the trusted (set-up) entry points, and each call is rolled back.

A second test keeps the boundary honest: every public method of these services is either in the
matrix (it takes the actor) or named below as a trusted entry point (command line, jobs, signed
links, other services that already checked access, views of objects the caller holds).
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.auth.service import AuthService
from podium.domain.chat.schemas import RoomRef
from podium.domain.chat.service import ChatService
from podium.domain.contacts.schemas import BookRef, ContactFields
from podium.domain.contacts.service import ContactService
from podium.domain.drive.service import DriveService
from podium.domain.hosts.schemas import HostChanges
from podium.domain.hosts.service import HostService
from podium.domain.subscriptions.schemas import NewSubscription
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.companies import CompanyService
from podium.domain.tenancy.schemas import CompanyChanges, NewCompany
from podium.domain.tenancy.service import TenancyService
from podium.domain.webhooks.service import WebhookService
from podium.kit.db import make_engine, make_sessionmaker
from podium.kit.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from podium.models.activity import WebhookDelivery
from podium.models.subscription import Pricing, SubscriptionStatus
from podium.models.tenancy import Host, Role


@dataclass
class Scene:
    """Two reseller trees: home (with a customer company holding a company admin and a host) and
    foreign."""

    sessions: sessionmaker
    settings: Settings
    home_reseller_id: int
    ra_host_id: int
    company_id: int
    ca_host_id: int
    host_host_id: int
    foreign_reseller_id: int
    foreign_company_id: int

    def _run(self, work: Callable[[Session], Any]) -> Any:
        with self.sessions() as session:
            result = work(session)
            session.commit()
            return result

    def actor(self, session: Session, role: str) -> Actor:
        host_id = {"RA": self.ra_host_id, "CA": self.ca_host_id, "HOST": self.host_host_id}[role]
        return AuthService(session, self.settings).actor_for_host(session.get(Host, host_id), "test")

    # --- set-up through the trusted entry points -------------------------------------------

    def new_company(self, reseller_id: int) -> int:
        return int(
            self._run(
                lambda s: (
                    TenancyService(s, self.settings)
                    .create_company(reseller_id, "Temp Co", f"perm-{secrets.token_hex(4)}")
                    .id
                )
            )
        )

    def new_host(self, company_id: int) -> int:
        changes = HostChanges(
            name="Temp Host", email=f"p-{secrets.token_hex(4)}@example.com", no_welcome_email=True
        )
        return int(self._run(lambda s: HostService(s, self.settings).create(None, company_id, changes).id))

    def product(self, reseller_id: int) -> str:
        slug = f"addon_{secrets.token_hex(4)}"
        self._run(
            lambda s: SubscriptionService(s).create_product(
                reseller_id, slug=slug, name=slug, is_plan=False, pricing=Pricing.FLAT, features=["recording"]
            )
        )
        return slug

    def subscribed(self, company_id: int, reseller_id: int) -> str:
        slug = self.product(reseller_id)

        def work(session: Session) -> None:
            from podium.models.tenancy import Company

            company = session.get(Company, company_id)
            assert company is not None
            SubscriptionService(session).subscribe(None, company, slug)

        self._run(work)
        return slug

    def contact(self, company_id: int, reseller_id: int) -> tuple[int, int]:
        host_id = self.new_host(company_id)

        def work(session: Session) -> int:
            setup = Actor(company_id, Role.RESELLER_ADMIN, via="test", reseller_id=reseller_id)
            fields = ContactFields(name="C", email="c@example.com")
            return ContactService(session).create(setup, BookRef(host_id=host_id), [fields])[0].contact.id

        return host_id, int(self._run(work))

    def drive_file(self, company_id: int) -> tuple[int, int]:
        host_id = self.new_host(company_id)

        def work(session: Session) -> int:
            host = session.get(Host, host_id)
            assert host is not None
            return DriveService(session, self.settings).create(host, "f.txt").id

        return host_id, int(self._run(work))

    def channel(self, company_id: int) -> str:
        slug = f"room-{secrets.token_hex(3)}"
        self._run(lambda s: ChatService(s).create_room(company_id, "channel", slug=slug))
        return slug

    def webhook_delivery(self, company_id: int) -> int:
        """A logged delivery attempt to an endpoint of the company (its message is not a failed one)."""
        endpoint_id = self.webhook(company_id)

        def add(s: Session) -> int:
            delivery = WebhookDelivery(
                endpoint_id=endpoint_id, event="conference_start", payload={}, attempt=1, succeeded=True
            )
            s.add(delivery)
            s.flush()
            return int(delivery.id)

        return int(self._run(add))

    def webhook(self, company_id: int) -> int:
        return int(
            self._run(
                lambda s: (
                    WebhookService(s).create(company_id, "https://example.com/h", ["conference_start"]).id
                )
            )
        )


@pytest.fixture(scope="module")
def scene(database_url: str, settings: Settings) -> Iterator[Scene]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    suffix = secrets.token_hex(3)
    with sessions() as session:
        tenancy = TenancyService(session, settings)
        boots = [
            tenancy.bootstrap(
                reseller_name=f"{label} reseller",
                company_name=f"{label} admin co",
                subdomain=f"perm-{label}-{suffix}",
                admin_email=f"perm-ra-{label}-{suffix}@example.com",
            )
            for label in ("home", "foreign")
        ]
        home, foreign = ({k: int(str(v)) for k, v in b.items() if k.endswith("_id")} for b in boots)
        company = tenancy.create_company(home["reseller_id"], "Customer", f"perm-customer-{suffix}")
        hosts = HostService(session, settings)
        ca = hosts.create(
            None,
            company.id,
            HostChanges(
                name="Carla",
                email=f"perm-ca-{suffix}@example.com",
                role=Role.COMPANY_ADMIN,
                no_welcome_email=True,
            ),
        )
        plain = hosts.create(
            None,
            company.id,
            HostChanges(name="Hugo", email=f"perm-h-{suffix}@example.com", no_welcome_email=True),
        )
        session.commit()
        yield Scene(
            sessions=sessions,
            settings=settings,
            home_reseller_id=home["reseller_id"],
            ra_host_id=home["host_id"],
            company_id=company.id,
            ca_host_id=ca.id,
            host_host_id=plain.id,
            foreign_reseller_id=foreign["reseller_id"],
            foreign_company_id=foreign["company_id"],
        )
    engine.dispose()


@dataclass(frozen=True)
class Target:
    scene: Scene
    company_id: int
    reseller_id: int


class Services:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.companies = CompanyService(session, settings)
        self.subscriptions = SubscriptionService(session)
        self.hosts = HostService(session, settings)
        self.contacts = ContactService(session)
        self.chat = ChatService(session)
        self.drive = DriveService(session, settings)
        self.webhooks = WebhookService(session)


Outcome = type[DomainError] | None
OK: Outcome = None
Matrix = dict[tuple[str, str], Outcome]
Prepare = Callable[[Target], dict[str, Any]]
Run = Callable[[Services, Actor, dict[str, Any]], object]

RA_ONLY: Matrix = {
    ("RA", "own"): OK,
    ("RA", "foreign"): Forbidden,
    ("CA", "own"): Forbidden,
    ("CA", "foreign"): Forbidden,
    ("HOST", "own"): Forbidden,
    ("HOST", "foreign"): Forbidden,
}
ADMINS: Matrix = {**RA_ONLY, ("CA", "own"): OK}
# A company admin's company_id is ignored (NOTES.md): it acts on its own company instead.
ADMINS_COMPANY_IGNORED: Matrix = {**ADMINS, ("CA", "foreign"): OK}
ANY_RESELLER_ADMIN: Matrix = {**RA_ONLY, ("RA", "foreign"): OK}


def _with(base: Matrix, **changes: Outcome) -> Matrix:
    result = dict(base)
    for key, outcome in changes.items():
        role, target = key.split("_")
        result[(role, target)] = outcome
    return result


def _company(t: Target) -> dict[str, Any]:
    return {"company_id": t.company_id}


def _fresh_company(t: Target) -> dict[str, Any]:
    return {"company_id": t.scene.new_company(t.reseller_id)}


def _host(t: Target) -> dict[str, Any]:
    return {"host_id": t.scene.new_host(t.company_id)}


def _contact(t: Target) -> dict[str, Any]:
    host_id, contact_id = t.scene.contact(t.company_id, t.reseller_id)
    return {"ref": BookRef(host_id=host_id), "contact_id": contact_id}


def _file(t: Target) -> dict[str, Any]:
    host_id, file_id = t.scene.drive_file(t.company_id)
    return {"host_id": host_id, "file_id": file_id}


def _room(t: Target) -> dict[str, Any]:
    return {"company_id": t.company_id, "ref": RoomRef(slug=t.scene.channel(t.company_id))}


def _delivery(t: Target) -> dict[str, Any]:
    return {"delivery_id": t.scene.webhook_delivery(t.company_id)}


def _webhook(t: Target) -> dict[str, Any]:
    return {"company_id": t.company_id, "endpoint_id": t.scene.webhook(t.company_id)}


def _email() -> str:
    return f"n-{secrets.token_hex(4)}@example.com"


CASES: list[tuple[str, Prepare, Run, Matrix]] = [
    # --- companies and the reseller tree ---
    (
        "CompanyService.descendants",
        lambda t: {},
        lambda s, a, k: s.companies.descendants(a),
        ANY_RESELLER_ADMIN,
    ),
    (
        "CompanyService.create",
        lambda t: {"subdomain": f"new-{secrets.token_hex(4)}"},
        lambda s, a, k: s.companies.create(
            a, NewCompany(CompanyChanges(name="New", subdomain=k["subdomain"]))
        ),
        ANY_RESELLER_ADMIN,
    ),
    ("CompanyService.fetch", _company, lambda s, a, k: s.companies.fetch(a, k["company_id"]), RA_ONLY),
    (
        "CompanyService.update",
        _fresh_company,
        lambda s, a, k: s.companies.update(a, k["company_id"], CompanyChanges(name="Renamed")),
        RA_ONLY,
    ),
    (
        "CompanyService.delete",
        _fresh_company,
        lambda s, a, k: s.companies.delete(a, k["company_id"]),
        RA_ONLY,
    ),
    ("CompanyService.in_scope", lambda t: {}, lambda s, a, k: s.companies.in_scope(a), ANY_RESELLER_ADMIN),
    (
        "CompanyService.looked_after",
        lambda t: {},
        lambda s, a, k: s.companies.looked_after(a),
        _with(ADMINS, RA_foreign=OK, CA_foreign=OK),
    ),
    # Named by id (the console): a company admin naming another company is refused, not redirected.
    ("CompanyService.named", _company, lambda s, a, k: s.companies.named(a, k["company_id"]), ADMINS),
    # --- products and subscriptions ---
    (
        "SubscriptionService.catalogue",
        lambda t: {},
        lambda s, a, k: s.subscriptions.catalogue(a),
        _with(ADMINS, RA_foreign=OK, CA_foreign=OK),
    ),
    (
        "SubscriptionService.create",
        lambda t: {**_company(t), "slug": t.scene.product(t.reseller_id)},
        lambda s, a, k: s.subscriptions.create(a, k["company_id"], NewSubscription(k["slug"])),
        # A company admin's foreign company_id is ignored; that catalogue's product is unknown at home.
        _with(ADMINS, CA_foreign=NotFound),
    ),
    (
        "SubscriptionService.update",
        lambda t: {**_company(t), "slug": t.scene.subscribed(t.company_id, t.reseller_id)},
        lambda s, a, k: s.subscriptions.update(a, k["company_id"], k["slug"], host_limit=5),
        _with(ADMINS, CA_foreign=NotFound),
    ),
    (
        "SubscriptionService.set_status",
        lambda t: {**_company(t), "slug": t.scene.subscribed(t.company_id, t.reseller_id)},
        lambda s, a, k: s.subscriptions.set_status(
            a, k["company_id"], k["slug"], SubscriptionStatus.SUSPENDED
        ),
        RA_ONLY,
    ),
    (
        "SubscriptionService.schedule_set_all",
        _fresh_company,
        lambda s, a, k: s.subscriptions.schedule_set_all(
            a, k["company_id"], SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED
        ),
        RA_ONLY,
    ),
    (
        "SubscriptionService.for_company",
        _company,
        lambda s, a, k: s.subscriptions.for_company(a, k["company_id"]),
        RA_ONLY,
    ),
    (
        "SubscriptionService.usage",
        _company,
        lambda s, a, k: s.subscriptions.usage(a, k["company_id"]),
        ADMINS,
    ),
    (
        "SubscriptionService.cancel_all",
        _fresh_company,
        lambda s, a, k: s.subscriptions.cancel_all(a, k["company_id"]),
        RA_ONLY,
    ),
    # --- hosts ---
    (
        "HostService.create",
        _company,
        lambda s, a, k: s.hosts.create(a, k["company_id"], HostChanges(name="N", email=_email())),
        ADMINS_COMPANY_IGNORED,
    ),
    ("HostService.fetch", _host, lambda s, a, k: s.hosts.fetch(a, k["host_id"]), ADMINS),
    (
        "HostService.update",
        _host,
        lambda s, a, k: s.hosts.update(a, k["host_id"], HostChanges(name="Changed")),
        ADMINS,
    ),
    (
        "HostService.in_company",
        _company,
        lambda s, a, k: s.hosts.in_company(a, k["company_id"]),
        ADMINS_COMPANY_IGNORED,
    ),
    ("HostService.delete", _host, lambda s, a, k: s.hosts.delete(a, k["host_id"]), ADMINS),
    (
        "HostService.delete_all",
        _fresh_company,
        lambda s, a, k: s.hosts.delete_all(a, k["company_id"]),
        RA_ONLY,
    ),
    (
        "HostService.resend_invitation",
        _host,
        lambda s, a, k: s.hosts.resend_invitation(a, k["host_id"]),
        ADMINS,
    ),
    ("HostService.reset_password", _host, lambda s, a, k: s.hosts.reset_password(a, k["host_id"]), ADMINS),
    # --- contacts ---
    ("ContactService.book", _host, lambda s, a, k: s.contacts.book(a, BookRef(host_id=k["host_id"])), ADMINS),
    (
        "ContactService.create",
        _host,
        lambda s, a, k: s.contacts.create(
            a, BookRef(host_id=k["host_id"]), [ContactFields(name="X", email="x@example.com")]
        ),
        ADMINS,
    ),
    (
        "ContactService.fetch",
        _contact,
        lambda s, a, k: s.contacts.fetch(a, k["ref"], k["contact_id"]),
        ADMINS,
    ),
    (
        "ContactService.in_book",
        _host,
        lambda s, a, k: s.contacts.in_book(a, BookRef(host_id=k["host_id"])),
        ADMINS,
    ),
    (
        "ContactService.in_book (company book)",
        _company,
        lambda s, a, k: s.contacts.in_book(a, BookRef(company_id=k["company_id"])),
        ADMINS_COMPANY_IGNORED,
    ),
    (
        "ContactService.update",
        _contact,
        lambda s, a, k: s.contacts.update(a, k["ref"], k["contact_id"], ContactFields(name="Renamed")),
        ADMINS,
    ),
    (
        "ContactService.delete",
        _contact,
        lambda s, a, k: s.contacts.delete(a, k["ref"], k["contact_id"]),
        ADMINS,
    ),
    # --- chat ---
    (
        "ChatService.post_to_room",
        _room,
        lambda s, a, k: s.chat.post_to_room(a, k["company_id"], k["ref"], "Hello"),
        RA_ONLY,
    ),
    (
        "ChatService.room_log",
        _room,
        lambda s, a, k: s.chat.room_log(a, k["company_id"], k["ref"]),
        # A company admin's company_id is ignored; the other company's channel is unknown in its own.
        _with(ADMINS, CA_foreign=NotFound),
    ),
    # --- drive ---
    ("DriveService.files", _host, lambda s, a, k: s.drive.files(a, k["host_id"]), ADMINS),
    (
        "DriveService.start_upload",
        _host,
        lambda s, a, k: s.drive.start_upload(a, k["host_id"], "a.pdf"),
        ADMINS,
    ),
    ("DriveService.fetch", _file, lambda s, a, k: s.drive.fetch(a, k["host_id"], k["file_id"]), ADMINS),
    (
        "DriveService.finish_upload",
        _file,
        lambda s, a, k: s.drive.finish_upload(a, k["host_id"], k["file_id"]),
        # Scope first (Forbidden), then the file's state (nothing uploaded yet).
        _with(ADMINS, RA_own=InvalidInput, CA_own=InvalidInput),
    ),
    ("DriveService.delete", _file, lambda s, a, k: s.drive.delete(a, k["host_id"], k["file_id"]), ADMINS),
    # --- webhooks ---
    (
        "WebhookService.register",
        _company,
        lambda s, a, k: s.webhooks.register(a, k["company_id"], "https://example.com/h", ["conference_end"]),
        ADMINS_COMPANY_IGNORED,
    ),
    (
        "WebhookService.endpoints",
        _company,
        lambda s, a, k: s.webhooks.endpoints(a, k["company_id"]),
        ADMINS_COMPANY_IGNORED,
    ),
    (
        "WebhookService.remove",
        _webhook,
        lambda s, a, k: s.webhooks.remove(a, k["company_id"], k["endpoint_id"]),
        _with(ADMINS, CA_foreign=NotFound),
    ),
    (
        "WebhookService.delivery_log",
        _webhook,
        lambda s, a, k: s.webhooks.delivery_log(a, k["company_id"], k["endpoint_id"]),
        _with(ADMINS, CA_foreign=NotFound),
    ),
    # The console's log is always the actor's own company's (no company named): hosts are refused.
    (
        "WebhookService.console_log",
        _company,
        lambda s, a, k: s.webhooks.console_log(a),
        {**ADMINS_COMPANY_IGNORED, ("RA", "foreign"): OK},
    ),
    # Retrying acts in the actor's own company: another company's delivery (for a reseller admin, its
    # customers' too) is unknown; one that has not failed for good is refused after the access check
    # (Conflict), so the matrix sees who got past it.
    (
        "WebhookService.retry",
        _delivery,
        lambda s, a, k: s.webhooks.retry(a, k["delivery_id"]),
        {
            ("RA", "own"): NotFound,
            ("RA", "foreign"): NotFound,
            ("CA", "own"): Conflict,
            ("CA", "foreign"): NotFound,
            ("HOST", "own"): Forbidden,
            ("HOST", "foreign"): Forbidden,
        },
    ),
]


@pytest.mark.parametrize("target", ["own", "foreign"])
@pytest.mark.parametrize("role", ["RA", "CA", "HOST"])
@pytest.mark.parametrize(("name", "prepare", "run", "expected"), CASES, ids=[c[0] for c in CASES])
def test_matrix(
    scene: Scene, name: str, prepare: Prepare, run: Run, expected: Matrix, role: str, target: str
) -> None:
    if target == "own":
        where = Target(scene, scene.company_id, scene.home_reseller_id)
    else:
        where = Target(scene, scene.foreign_company_id, scene.foreign_reseller_id)
    arguments = prepare(where)
    outcome = expected[(role, target)]
    with scene.sessions() as session:
        actor = scene.actor(session, role)
        services = Services(session, scene.settings)
        try:
            if outcome is None:
                run(services, actor, arguments)
            else:
                with pytest.raises(outcome) as raised:
                    run(services, actor, arguments)
                assert raised.value.message
        finally:
            session.rollback()


def test_a_host_reads_itself_but_no_other(scene: Scene) -> None:
    with scene.sessions() as session:
        actor = scene.actor(session, "HOST")
        hosts = HostService(session, scene.settings)
        assert hosts.fetch(actor, scene.host_host_id).id == scene.host_host_id
        with pytest.raises(Forbidden):
            hosts.fetch(actor, scene.ca_host_id)


def test_unknown_objects_are_not_found(scene: Scene) -> None:
    with scene.sessions() as session:
        actor = scene.actor(session, "RA")
        with pytest.raises(NotFound):
            CompanyService(session, scene.settings).fetch(actor, 10**9)
        with pytest.raises(NotFound):
            HostService(session, scene.settings).fetch(actor, 10**9)
        with pytest.raises(NotFound):
            ContactService(session).fetch(actor, BookRef(company_id=scene.company_id), 10**9)


# Public methods that take no actor on purpose, and why they may: the command line and set-up
# (create_*, set_*, seed_*, provisioning), background jobs (set_all), signed links (the token is the
# authority), other services that already checked access (subscribe, set_host_subscriptions,
# visible_to, find_or_add, post_to_conference), the meeting room (post_from_room), and views and
# reads of objects the caller already holds.
TRUSTED: dict[type, set[str]] = {
    TenancyService: {
        "create_reseller",
        "create_company",
        "create_host",
        "issue_boomstream_apikey",
        "issue_liveminutes_account",
        "authenticate_boomstream",
        "authenticate_liveminutes",
        "provision_company",
        "bootstrap",
    },
    CompanyService: {"create_in", "host_ids", "set_host_limits_locked"},
    SubscriptionService: {
        "catalogue_reseller",
        "products",
        "create_product",
        "set_default_plan",
        "default_plan",
        "subscribe_to_default",
        "seed_example_catalogue",
        "live",
        "by_slug",
        "subscribe",
        "stop_unhostable",
        "set_all",
        "set_host_subscriptions",
        "host_plan",
        "host_plans",
        "ensure_can_host",
    },
    HostService: {"password_link", "dialin_number", "view", "views", "set_password_with_link"},
    ContactService: {"view", "visible_to", "find_or_add"},
    ChatService: {
        "create_room",
        "post_to_conference",
        "post_from_room",
        "viewer_questions_since",
        "messages",
    },
    DriveService: {
        "path",
        "create",
        "upload_url",
        "download_link",
        "upload_target",
        "accept_upload",
        "download",
    },
    WebhookService: {"create", "get", "list", "delete", "deliveries", "record_attempt"},
}


def test_every_public_method_is_checked_or_declared_trusted() -> None:
    checked = {name.split(" ")[0] for name, *_ in CASES}
    for service, trusted in TRUSTED.items():
        public = {
            name
            for name, member in vars(service).items()
            if not name.startswith("_") and inspect.isfunction(member)
        }
        for name in sorted(public):
            qualified = f"{service.__name__}.{name}"
            parameters = list(inspect.signature(getattr(service, name)).parameters)
            if qualified in checked:
                assert parameters[1] == "actor", f"{qualified} is in the matrix but takes no actor"
            else:
                assert name in trusted, f"{qualified} neither checks access (matrix) nor is declared trusted"
        assert trusted <= public, f"{service.__name__}: stale trusted names {trusted - public}"
