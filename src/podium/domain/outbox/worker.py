"""Delivers outbox messages: email to a Maildir (default) or SMTP, with retries and backoff."""

from __future__ import annotations

import json
import logging
import mailbox
import smtplib
import ssl
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlencode, urlparse

import httpcore
from sqlalchemy.orm import sessionmaker

from podium.config import Settings
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.outbox.jobs import JOBS
from podium.domain.outbox.repository import OutboxRepository
from podium.domain.webhooks.repository import WebhookRepository
from podium.domain.webhooks.service import WebhookService, body_for, form_for
from podium.domain.webhooks.signature import SIGNATURE_HEADER, sign_body
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput
from podium.kit.metrics import OUTBOX_ATTEMPTS
from podium.kit.outbound import AddressRefused, check_url, guarded_pool
from podium.kit.uow import NO_DISPATCH, Dispatcher, run

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
BATCH = 50  # messages looked up at once
REMINDERS_EVERY = 30.0  # seconds between two looks for conferences to remind of


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


class OutboxWorker:
    def __init__(
        self, settings: Settings, sessions: sessionmaker, dispatcher: Dispatcher = NO_DISPATCH
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        # Jobs raise room events and queue mail like requests do: delivered the same way.
        self.dispatcher = dispatcher
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- delivery -------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Deliver every message due now, batch after batch (a burst of invitations is not left for
        the next polls); returns how many were delivered."""
        delivered = 0
        while True:
            with self.sessions() as session:
                ids = OutboxRepository(session).due_ids(utcnow(), BATCH)
            for message_id in ids:
                delivered += self._deliver_one(message_id)
            if len(ids) < BATCH:
                return delivered

    def _deliver_one(self, message_id: int) -> int:
        """Claim and deliver one message: 1 when delivered, 0 when another worker had claimed it or
        it failed (then it is retried later, or given up after its last attempt)."""
        with self.sessions() as session:
            repo = OutboxRepository(session)
            now = utcnow()
            message = repo.claim(message_id, now, now + LEASE)
            session.commit()
            if message is None:
                return 0
            try:
                self._deliver(message.kind, message.payload, message.id, message.attempts)
            except Exception as exc:  # noqa: BLE001 - any failure is retried
                log.warning("outbox %s attempt %s failed: %s", message.id, message.attempts, exc)
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                # A message may carry its own policy (Boomstream webhooks: every 10 minutes, 4 tries).
                every = message.payload.get("retry_every")
                if message.attempts >= int(message.payload.get("max_attempts") or MAX_ATTEMPTS):
                    message.status = "failed"
                elif every:
                    message.next_attempt_at = utcnow() + timedelta(seconds=int(every))
                else:
                    message.next_attempt_at = utcnow() + backoff(message.attempts)
                session.commit()
                OUTBOX_ATTEMPTS.labels(
                    message.kind, "failed" if message.status == "failed" else "retry"
                ).inc()
                return 0
            message.status = "delivered"
            message.delivered_at = utcnow()
            session.commit()
            OUTBOX_ATTEMPTS.labels(message.kind, "delivered").inc()
            return 1

    def _deliver(self, kind: str, payload: dict[str, Any], message_id: int = 0, attempt: int = 1) -> None:
        if kind == "email":
            self._send_email(payload)
        elif kind == "webhook":
            self._post_webhook(payload, message_id, attempt)
        elif kind == "job":
            self._run_job(payload)
        else:
            raise ValueError(f"unknown outbox kind {kind!r}")

    def _post_webhook(self, message: dict[str, Any], message_id: int, attempt: int) -> None:
        """POST one event; a failed answer is retried. Every attempt is logged.

        Iotum style: JSON, any 2xx succeeds. Boomstream style: a form, only 200 succeeds. Redirects
        are not followed. The connection goes only to addresses ``kit/outbound`` allows (no loopback,
        private, link-local or metadata address unless ``PODIUM_WEBHOOK_PRIVATE_NETWORKS``), and the
        delivery log says what went wrong in our words, never the remote's (no port scanner).
        """
        with self.sessions() as session:
            endpoint = WebhookRepository(session).endpoint(int(message["endpoint_id"]))
            if endpoint is None or endpoint.deleted_at is not None or not endpoint.active:
                return  # removed since: nothing to deliver
            url, token = endpoint.url, endpoint.signing_token
        boomstream = message.get("style") == "boomstream"
        if boomstream:
            body = urlencode(form_for(message)).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(body_for(message)).encode()
            content_type = "application/json"
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Podium webhooks",
            "x-signing-token": token,
            SIGNATURE_HEADER: sign_body(token, body, int(time.time())),
        }
        status, error = self._send(url, body, headers)
        if status is not None and ((boomstream and status != 200) or not 200 <= status < 300):
            error = f"HTTP {status}"
        with self.sessions() as session:
            WebhookService(session).record_attempt(
                message_id, attempt, message, status_code=status, error=error, succeeded=not error
            )
            session.commit()
        if error:
            raise RuntimeError(error)

    def _send(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
        """(status, our description of a failure)."""
        try:
            check_url(url, allow_private=self.settings.webhook_private_networks)
            with guarded_pool(self.settings.webhook_private_networks) as pool:
                response = pool.request(
                    "POST",
                    url,
                    headers=list(headers.items()),
                    content=body,
                    extensions={"timeout": {"connect": 10.0, "read": 10.0, "write": 10.0, "pool": 10.0}},
                )
                return response.status, ""
        except (AddressRefused, InvalidInput):
            return None, "address not allowed (loopback, private or link-local)"
        except httpcore.TimeoutException:
            return None, "timed out"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol):
            return None, "could not connect or the answer was not HTTP"

    def _run_job(self, payload: dict[str, Any]) -> None:
        job = JOBS.get(str(payload.get("job")))
        if job is None:
            raise ValueError(f"unknown job {payload.get('job')!r}")
        run(
            self.sessions, self.settings, lambda ctx: job(ctx.session, ctx.settings, payload), self.dispatcher
        )

    def _send_email(self, payload: dict[str, Any]) -> None:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = payload["to"]
        message["Subject"] = payload["subject"]
        message["Message-ID"] = make_msgid(domain="podium.invalid")
        message.set_content(payload["body"])
        for attachment in payload.get("attachments") or ():
            add_text_attachment(message, attachment)
        if self.settings.smtp_url:
            send_smtp(self.settings.smtp_url, message)
        else:
            for sub in ("tmp", "new", "cur"):
                (self.settings.maildir_path / sub).mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(self.settings.maildir_path, create=True).add(message)

    # --- reminders ---------------------------------------------------------------------

    def send_reminders(self) -> int:
        """Queue the reminders of conferences about to start (each once); returns how many."""
        return run(
            self.sessions,
            self.settings,
            lambda ctx: ConferenceEmails(ctx.session, ctx.settings).send_due_reminders(),
            self.dispatcher,
        )

    # --- background loop -------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self, poll_seconds: float = 2.0) -> None:
        next_reminders = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reminders:
                    next_reminders = time.monotonic() + REMINDERS_EVERY
                    self.send_reminders()
                self.deliver_due()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("outbox worker pass failed")
            self._wake.wait(poll_seconds)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="outbox-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def add_text_attachment(message: EmailMessage, attachment: dict[str, Any]) -> None:
    """Attach a text file: ``content_type`` like ``text/calendar; method=REQUEST`` keeps its
    parameters (an invitation's ``method`` is what calendar clients read)."""
    maintype, _, rest = str(attachment["content_type"]).partition("/")
    subtype, *raw_params = (part.strip() for part in rest.split(";"))
    if maintype.strip().lower() != "text" or not subtype:
        raise ValueError(f"not a text attachment: {attachment['content_type']!r}")
    params = {"charset": "utf-8"}
    for raw in raw_params:
        name, _, value = raw.partition("=")
        if name.strip() and name.strip().lower() != "charset":
            params[name.strip().lower()] = value.strip().strip('"')
    # As bytes (base64): the text goes out exactly as written (an .ics keeps its CRLF line ends).
    message.add_attachment(
        str(attachment["content"]).encode(),
        maintype="text",
        subtype=subtype.lower(),
        filename=str(attachment["filename"]),
        params=params,
    )


def send_smtp(url: str, message: EmailMessage) -> None:
    """Send through ``smtp://user:pass@host:port`` (STARTTLS when offered) or ``smtps://``."""
    parsed = urlparse(url)
    host = parsed.hostname or "localhost"
    if parsed.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parsed.port or 465, timeout=30, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, parsed.port or 25, timeout=30)
    with client:
        client.ehlo()
        if parsed.scheme != "smtps" and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
        if parsed.username:
            client.login(unquote(parsed.username), unquote(parsed.password or ""))
        client.send_message(message)
