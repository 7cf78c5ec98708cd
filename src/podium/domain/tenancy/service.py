"""Tenancy provisioning: resellers, companies with their dialect credentials, authentication by key."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium.config import Settings, get_settings
from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.auth.actors import ACTORS
from podium.domain.auth.service import AuthService
from podium.domain.hosts.schemas import HostChanges
from podium.domain.hosts.service import HostService
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.companies import CompanyService
from podium.domain.tenancy.repository import TenancyRepository
from podium.domain.tenancy.schemas import CompanyChanges
from podium.kit.errors import InvalidInput, NotFound, Unauthenticated
from podium.kit.ids import hash_secret
from podium.models.tenancy import Company, Credential, CredentialKind, Host, Reseller, Role


@dataclass(frozen=True)
class IssuedSecret:
    """A secret as created: the only moment its plain text exists."""

    credential: Credential
    secret: str
    public_id: str | None = None


class TenancyService:
    """Provisioning and key authentication: the command line's and the edges' authenticators.

    Nothing here acts for an API caller (trusted); companies as resellers manage them through the
    API are ``CompanyService``'s, with its access checks.
    """

    def __init__(self, session: Session, settings: Settings | None = None) -> None:
        self.session = session
        self.settings = settings or get_settings()
        self.repo = TenancyRepository(session)

    def create_reseller(self, name: str, parent_id: int | None = None, domain: str = "") -> Reseller:
        """Create a reseller, optionally under ``parent_id`` in the reseller tree."""
        name = name.strip()
        if not name or len(name) > 255:
            raise InvalidInput("Reseller name must be 1 to 255 characters")
        if parent_id is not None and self.repo.reseller(parent_id) is None:
            raise NotFound("Parent reseller not found")
        reseller = Reseller(name=name, parent_id=parent_id, domain=domain.strip().lower())
        self.repo.add(reseller)
        log_action(
            self.session,
            "reseller.created",
            actor=SYSTEM_LABEL,
            ref=f"reseller:{reseller.id}",
            company_id=None,
        )
        return reseller

    def create_company(self, reseller_id: int, name: str, subdomain: str) -> Company:
        """Create a company from the command line (no subscription; see ``provision_company``)."""
        return CompanyService(self.session, self.settings).create_in(
            reseller_id, CompanyChanges(name=name, subdomain=subdomain), actor_label=SYSTEM_LABEL
        )

    def create_host(self, company_id: int, email: str, role: Role, name: str = "") -> Host:
        """Create a host from the command line (no welcome email; a password link is in its answers)."""
        company = self.repo.company(company_id)
        if company is None or company.deleted_at is not None:
            raise NotFound("Company not found")
        changes = HostChanges(email=email, name=name or email.split("@")[0], role=role, no_welcome_email=True)
        return HostService(self.session, self.settings).create(None, company.id, changes)

    def _issue(
        self,
        company_id: int,
        kind: CredentialKind,
        secret: str,
        *,
        host_id: int | None = None,
        public_id: str | None = None,
        actor_label: str = SYSTEM_LABEL,
    ) -> IssuedSecret:
        credential = Credential(
            company_id=company_id,
            host_id=host_id,
            kind=kind,
            public_id=public_id,
            secret_hash=hash_secret(secret),
        )
        self.repo.add(credential)
        log_action(
            self.session,
            "credential.issued",
            actor=actor_label,
            ref=f"credential:{credential.id}",
            company_id=company_id,
            kind=kind.value,
        )
        return IssuedSecret(credential=credential, secret=secret, public_id=public_id)

    def issue_boomstream_apikey(self, company_id: int, *, actor_label: str = SYSTEM_LABEL) -> IssuedSecret:
        """A new Boomstream project API key for the company (its plain text only in the result)."""
        return self._issue(
            company_id, CredentialKind.BOOMSTREAM_APIKEY, secrets.token_hex(16), actor_label=actor_label
        )

    def issue_liveminutes_account(self, company_id: int, *, actor_label: str = SYSTEM_LABEL) -> IssuedSecret:
        """A new LiveMinutes AccountSid and AuthToken for the company (the token only in the result)."""
        return self._issue(
            company_id,
            CredentialKind.LIVEMINUTES,
            secrets.token_hex(16),
            public_id="AC" + secrets.token_hex(16),
            actor_label=actor_label,
        )

    # --- authentication -------------------------------------------------------------

    def _actor_for(self, credential: Credential | None, via: str) -> Actor:
        if credential is None:
            raise Unauthenticated("Invalid credentials")
        company = self.repo.company(credential.company_id)
        if company is None or company.deleted_at is not None:
            raise Unauthenticated("Invalid credentials")
        return Actor(
            company_id=company.id,
            role=Role.COMPANY_ADMIN,
            via=via,
            credential_id=credential.id,
            reseller_id=company.reseller_id,
        )

    def authenticate_boomstream(self, apikey: str) -> Actor:
        """The project API key acts as its company's administrator."""
        if not apikey:
            raise Unauthenticated("API key is required")
        digest = hash_secret(apikey)
        key = ("boomstream", "", digest)
        actor = ACTORS.get(self.session, key)
        if actor is not None:
            return actor
        stamp = ACTORS.stamp(self.session)
        credential = self.repo.live_credential_by_hash(CredentialKind.BOOMSTREAM_APIKEY, digest)
        if credential is not None and not hmac.compare_digest(credential.secret_hash, digest):
            credential = None
        actor = self._actor_for(credential, "boomstream")
        ACTORS.put(self.session, key, actor, stamp)
        return actor

    def authenticate_liveminutes(self, account_sid: str, auth_token: str) -> Actor:
        """AccountSid names the account; AuthToken is compared in constant time."""
        digest = hash_secret(auth_token)
        key = ("liveminutes", account_sid, digest)
        actor = ACTORS.get(self.session, key)
        if actor is not None:
            return actor
        stamp = ACTORS.stamp(self.session)
        credential = self.repo.live_credential_by_public_id(CredentialKind.LIVEMINUTES, account_sid)
        # Hash even for an unknown sid so both paths cost the same.
        expected = credential.secret_hash if credential is not None else hash_secret("unknown")
        if not hmac.compare_digest(expected, digest):
            credential = None
        actor = self._actor_for(credential, "liveminutes")
        ACTORS.put(self.session, key, actor, stamp)
        return actor

    # --- provisioning ---------------------------------------------------------------

    def provision_company(self, reseller_id: int, name: str, subdomain: str) -> dict[str, object]:
        """Create a tenant with a Boomstream key and a LiveMinutes account; secrets shown once."""
        company = self.create_company(reseller_id, name, subdomain)
        apikey = self.issue_boomstream_apikey(company.id)
        account = self.issue_liveminutes_account(company.id)
        return {
            "company_id": company.id,
            "boomstream_apikey": apikey.secret,
            "liveminutes_account_sid": account.public_id,
            "liveminutes_auth_token": account.secret,
        }

    def bootstrap(
        self,
        *,
        reseller_name: str,
        company_name: str,
        subdomain: str,
        admin_email: str,
        reseller_domain: str = "",
    ) -> dict[str, object]:
        """A reseller with the example catalogue, a company under it subscribed to the catalogue's
        default plan (small_plan), and a RESELLER_ADMIN host on that plan, so every dialect's first
        call works, Iotum conferences included."""
        reseller = self.create_reseller(reseller_name, domain=reseller_domain)
        subscriptions = SubscriptionService(self.session)
        subscriptions.seed_example_catalogue(reseller.id)
        provisioned = self.provision_company(reseller.id, company_name, subdomain)
        company_id = int(str(provisioned["company_id"]))
        company = self.repo.company(company_id)
        assert company is not None
        subscriptions.subscribe_to_default(None, company)
        # Created after the subscription, the host joins the company's plan like any new host.
        host = self.create_host(company_id, admin_email, Role.RESELLER_ADMIN, name="Admin")
        token = AuthService(self.session, self.settings).create_api_token(host.id)
        return {
            "reseller_id": reseller.id,
            "company_id": company_id,
            "host_id": host.id,
            "boomstream_apikey": provisioned["boomstream_apikey"],
            "iotum_api_token": token.token,
            "liveminutes_account_sid": provisioned["liveminutes_account_sid"],
            "liveminutes_auth_token": provisioned["liveminutes_auth_token"],
        }
