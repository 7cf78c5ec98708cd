"""A company's API credentials as its admins manage them: list, issue, rotate, revoke.

The three kinds are the dialects' (``CredentialKind``): the Boomstream project API key and the
LiveMinutes AccountSid/AuthToken belong to the company; an Iotum API token belongs to one admin host
of it. Issuing goes through the command line's own methods (``TenancyService.issue_*``,
``AuthService.create_api_token``), so a secret is made one way whoever asks. Only a secret's SHA-256
is stored: its plain text exists in the answer of ``issue`` or ``rotate`` and nowhere else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.auth.repository import AuthRepository
from podium.domain.auth.service import AuthService
from podium.domain.tenancy.repository import TenancyRepository
from podium.domain.tenancy.service import IssuedSecret, TenancyService
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.ids import hash_secret
from podium.models.tenancy import Credential, CredentialKind, Host

# Random bytes of a new secret, by kind (as the command line issues them).
SECRET_BYTES = {
    CredentialKind.BOOMSTREAM_APIKEY: 16,
    CredentialKind.LIVEMINUTES: 16,
    CredentialKind.IOTUM_API_TOKEN: 24,
}
LABELS = {
    CredentialKind.BOOMSTREAM_APIKEY: "Boomstream API key",
    CredentialKind.IOTUM_API_TOKEN: "Iotum API token",
    CredentialKind.LIVEMINUTES: "LiveMinutes account",
}


@dataclass(frozen=True)
class CredentialView:
    """A credential as a list shows it: never its secret, only a fingerprint of its hash."""

    credential: Credential
    host: Host | None

    @property
    def label(self) -> str:
        return LABELS[self.credential.kind]

    @property
    def fingerprint(self) -> str:
        """The first 8 hex digits of the secret's SHA-256 (``sha256sum`` of the secret shows them)."""
        return self.credential.secret_hash[:8]


def credential_kind(value: str) -> CredentialKind:
    """A credential kind by its value.

    Raises:
        InvalidInput: not one of the kinds.
    """
    try:
        return CredentialKind(value.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in CredentialKind)
        raise InvalidInput(f"kind must be one of {kinds}", field="kind") from None


class CredentialService:
    """API credentials of a company, for its admins (company admins: their own company; reseller
    admins: their tree's). An Iotum token of a reseller admin's host is a reseller admin's to touch,
    as the host itself is (``AccessPolicy.may_manage``)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = TenancyRepository(session)
        self.auth = AuthRepository(session)

    def in_company(self, actor: Actor, company_id: int) -> list[CredentialView]:
        """Every credential of the company, revoked ones too, with the host of each Iotum token.

        Raises:
            Forbidden: a plain host, another company of a company admin, beyond a reseller's tree.
            NotFound: the company does not exist or is deleted.
        """
        company = AccessPolicy(self.session, actor).named_company(company_id)
        rows = self.repo.credentials_for_company(company.id)
        hosts = {h: self.auth.host(h) for h in {c.host_id for c in rows if c.host_id is not None}}
        return [CredentialView(c, hosts.get(c.host_id) if c.host_id else None) for c in rows]

    def issue(
        self, actor: Actor, company_id: int, kind: CredentialKind, *, host_id: int | None = None
    ) -> IssuedSecret:
        """A new credential of ``kind`` for the company; earlier ones stay valid.

        Args:
            actor: who is asking (a company or reseller admin).
            company_id: the company.
            kind: which dialect's credential.
            host_id: the admin host an Iotum API token acts as (required for that kind only).

        Raises:
            Forbidden: a plain host, a company or host beyond the actor's scope, a company admin
                issuing a token for a reseller admin's host.
            NotFound: the company or host does not exist.
            InvalidInput: an Iotum token without a host, or for a host that is not an admin.
        """
        policy = AccessPolicy(self.session, actor)
        company = policy.named_company(company_id)
        tenancy = TenancyService(self.session, self.settings)
        if kind == CredentialKind.BOOMSTREAM_APIKEY:
            return tenancy.issue_boomstream_apikey(company.id, actor_label=actor.label)
        if kind == CredentialKind.LIVEMINUTES:
            return tenancy.issue_liveminutes_account(company.id, actor_label=actor.label)
        if host_id is None:
            raise InvalidInput("An Iotum API token needs the admin host it acts as", field="host_id")
        host = policy.host(host_id)
        if host.company_id != company.id:
            raise NotFound("Host not found")
        policy.may_manage(host)
        issued = AuthService(self.session, self.settings).create_api_token(host.id, actor_label=actor.label)
        return IssuedSecret(credential=issued.credential, secret=issued.token)

    def rotate(self, actor: Actor, credential_id: int) -> IssuedSecret:
        """A new secret for the credential: the old one stops working at once (and the Iotum
        sessions it opened end); the credential keeps its id, and a LiveMinutes account its
        AccountSid, so only the secret changes where it is configured.

        Raises:
            Forbidden: as ``revoke``.
            NotFound: no such credential.
            Conflict: the credential is revoked.
        """
        credential = self._held(actor, credential_id)
        if credential.revoked_at is not None:
            raise Conflict("This credential is revoked; issue a new one instead")
        secret = secrets.token_hex(SECRET_BYTES[credential.kind])
        credential.secret_hash = hash_secret(secret)
        if credential.kind == CredentialKind.IOTUM_API_TOKEN:
            self.auth.end_credential_sessions(credential.id, utcnow())
        self.session.flush()
        log_action(
            self.session,
            "credential.rotated",
            actor=actor.label,
            ref=f"credential:{credential.id}",
            company_id=credential.company_id,
            kind=credential.kind.value,
        )
        return IssuedSecret(credential=credential, secret=secret, public_id=credential.public_id)

    def revoke(self, actor: Actor, credential_id: int) -> Credential:
        """End a credential for good (revoking it again changes nothing).

        Raises:
            Forbidden: a plain host, a credential of a company beyond the actor's scope, a company
                admin touching a reseller admin's Iotum token.
            NotFound: no such credential.
        """
        credential = self._held(actor, credential_id)
        if credential.kind == CredentialKind.IOTUM_API_TOKEN:
            return AuthService(self.session, self.settings).revoke_api_token(
                credential.id, actor_label=actor.label
            )
        if credential.revoked_at is None:
            credential.revoked_at = utcnow()
            self.session.flush()
            log_action(
                self.session,
                "credential.revoked",
                actor=actor.label,
                ref=f"credential:{credential.id}",
                company_id=credential.company_id,
            )
        return credential

    def _held(self, actor: Actor, credential_id: int) -> Credential:
        policy = AccessPolicy(self.session, actor)
        policy.require_admin()
        credential = self.auth.credential(credential_id)
        if credential is None:
            raise NotFound("Credential not found")
        try:
            policy.named_company(credential.company_id)
        except NotFound:
            raise NotFound("Credential not found") from None
        host = self.auth.host(credential.host_id) if credential.host_id is not None else None
        if host is not None:
            policy.may_manage(host)
        return credential
