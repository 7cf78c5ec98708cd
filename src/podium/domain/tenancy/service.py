"""Tenancy: resellers, companies (the tenant), hosts, and each dialect's credentials."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.tenancy.repository import TenancyRepository
from podium.kit.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from podium.kit.ids import hash_secret
from podium.kit.validation import normalise_email
from podium.models.tenancy import Company, Credential, CredentialKind, Host, Reseller, Role

SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class IssuedSecret:
    """A secret as created: the only moment its plain text exists."""

    credential: Credential
    secret: str
    public_id: str | None = None


class TenancyService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = TenancyRepository(session)

    def create_reseller(self, name: str, parent_id: int | None = None) -> Reseller:
        """Create a reseller, optionally under ``parent_id`` in the reseller tree."""
        name = name.strip()
        if not name or len(name) > 255:
            raise InvalidInput("Reseller name must be 1 to 255 characters")
        if parent_id is not None and self.repo.reseller(parent_id) is None:
            raise NotFound("Parent reseller not found")
        reseller = Reseller(name=name, parent_id=parent_id)
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
        """Create a company (tenant) whose subdomain is unique within its reseller.

        Raises:
            NotFound: the reseller does not exist.
            InvalidInput: name or subdomain malformed.
            Conflict: the subdomain is taken within the reseller.
        """
        if self.repo.reseller(reseller_id) is None:
            raise NotFound("Reseller not found")
        name = name.strip()
        subdomain = subdomain.strip().lower()
        if not name or len(name) > 255:
            raise InvalidInput("Company name must be 1 to 255 characters")
        if not SUBDOMAIN_RE.match(subdomain):
            raise InvalidInput("Subdomain must be 1 to 63 lowercase letters, digits or hyphens")
        if self.repo.subdomain_taken(reseller_id, subdomain):
            raise Conflict("Subdomain already taken")
        company = Company(reseller_id=reseller_id, name=name, subdomain=subdomain)
        self.repo.add(company)
        log_action(
            self.session,
            "company.created",
            actor=SYSTEM_LABEL,
            ref=f"company:{company.id}",
            company_id=company.id,
        )
        return company

    def create_host(
        self, company_id: int, email: str, role: Role, first_name: str = "", last_name: str = ""
    ) -> Host:
        """Create a host (user account) with ``role`` in a company; emails are unique."""
        if self.repo.company(company_id) is None:
            raise NotFound("Company not found")
        email = normalise_email(email, required=True).lower()
        if self.repo.email_taken(email):
            raise Conflict("Email already taken")
        host = Host(company_id=company_id, email=email, role=role, first_name=first_name, last_name=last_name)
        self.repo.add(host)
        log_action(
            self.session,
            "host.created",
            actor=SYSTEM_LABEL,
            ref=f"host:{host.id}",
            company_id=company_id,
            role=role.value,
        )
        return host

    def _issue(
        self,
        company_id: int,
        kind: CredentialKind,
        secret: str,
        *,
        host_id: int | None = None,
        public_id: str | None = None,
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
            actor=SYSTEM_LABEL,
            ref=f"credential:{credential.id}",
            company_id=company_id,
            kind=kind.value,
        )
        return IssuedSecret(credential=credential, secret=secret, public_id=public_id)

    def issue_boomstream_apikey(self, company_id: int) -> IssuedSecret:
        return self._issue(company_id, CredentialKind.BOOMSTREAM_APIKEY, secrets.token_hex(16))

    def issue_iotum_api_token(self, host: Host) -> IssuedSecret:
        return self._issue(
            host.company_id, CredentialKind.IOTUM_API_TOKEN, secrets.token_hex(24), host_id=host.id
        )

    def issue_liveminutes_account(self, company_id: int) -> IssuedSecret:
        return self._issue(
            company_id,
            CredentialKind.LIVEMINUTES,
            secrets.token_hex(16),
            public_id="AC" + secrets.token_hex(16),
        )

    # --- authentication -------------------------------------------------------------

    def _actor_for(self, credential: Credential | None, via: str) -> Actor:
        if credential is None:
            raise Unauthenticated("Invalid credentials")
        company = self.repo.company(credential.company_id)
        if company is None or company.deleted_at is not None:
            raise Unauthenticated("Invalid credentials")
        return Actor(company_id=company.id, role=Role.COMPANY_ADMIN, via=via, credential_id=credential.id)

    def authenticate_boomstream(self, apikey: str) -> Actor:
        """The project API key acts as its company's administrator."""
        if not apikey:
            raise Unauthenticated("API key is required")
        digest = hash_secret(apikey)
        credential = self.repo.live_credential_by_hash(CredentialKind.BOOMSTREAM_APIKEY, digest)
        if credential is not None and not hmac.compare_digest(credential.secret_hash, digest):
            credential = None
        return self._actor_for(credential, "boomstream")

    def authenticate_liveminutes(self, account_sid: str, auth_token: str) -> Actor:
        """AccountSid names the account; AuthToken is compared in constant time."""
        credential = self.repo.live_credential_by_public_id(CredentialKind.LIVEMINUTES, account_sid)
        # Hash even for an unknown sid so both paths cost the same.
        digest = hash_secret(auth_token)
        expected = credential.secret_hash if credential is not None else hash_secret("unknown")
        if not hmac.compare_digest(expected, digest):
            credential = None
        return self._actor_for(credential, "liveminutes")

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
        self, *, reseller_name: str, company_name: str, subdomain: str, admin_email: str
    ) -> dict[str, object]:
        """Create a reseller, a company under it and a RESELLER_ADMIN host with every credential."""
        reseller = self.create_reseller(reseller_name)
        provisioned = self.provision_company(reseller.id, company_name, subdomain)
        company_id = int(provisioned["company_id"])  # type: ignore[call-overload]
        host = self.create_host(company_id, admin_email, Role.RESELLER_ADMIN, first_name="Admin")
        token = self.issue_iotum_api_token(host)
        return {
            "reseller_id": reseller.id,
            "company_id": company_id,
            "host_id": host.id,
            "boomstream_apikey": provisioned["boomstream_apikey"],
            "iotum_api_token": token.secret,
            "liveminutes_account_sid": provisioned["liveminutes_account_sid"],
            "liveminutes_auth_token": provisioned["liveminutes_auth_token"],
        }
