"""Outbox delivery: SMTP to a real socket (a local sink), retries with backoff when it is down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from podium.domain.outbox.repository import OutboxRepository
from podium.domain.outbox.service import enqueue_email
from podium.domain.outbox.worker import MAX_ATTEMPTS, OutboxWorker, backoff
from podium.kit.clock import clock, utcnow
from podium.kit.db import make_engine, make_sessionmaker
from tests.conftest import make_settings
from tests.fixtures.processes import free_port


class Sink(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def handle_message(self, message) -> None:  # type: ignore[no-untyped-def,override]
        self.messages.append(message)


def _worker(data_dir: Path, database_url: str, smtp_url: str) -> OutboxWorker:
    settings = make_settings(data_dir, database_url, smtp_url=smtp_url)
    return OutboxWorker(settings, make_sessionmaker(make_engine(database_url)))


def _enqueue(worker: OutboxWorker, to: str) -> int:
    with worker.sessions() as session:
        message = enqueue_email(session, to=to, subject="Hello", body="Body text")
        session.commit()
        return message.id


def test_smtp_delivery(data_dir: Path, database_url: str) -> None:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        worker = _worker(data_dir, database_url, f"smtp://127.0.0.1:{port}")
        message_id = _enqueue(worker, "smtp-user@example.com")
        worker.deliver_due()
    finally:
        controller.stop()
    # Other tests' mail may be due in the shared database too (and goes out with it): only this
    # message is under test.
    assert [m["To"] for m in sink.messages].count("smtp-user@example.com") == 1
    with worker.sessions() as session:
        stored = OutboxRepository(session).by_id(message_id)
        assert stored is not None and stored.status == "delivered" and stored.attempts == 1


def test_failed_delivery_is_retried_with_backoff_then_given_up(data_dir: Path, database_url: str) -> None:
    port = free_port()  # nothing listens there
    worker = _worker(data_dir, database_url, f"smtp://127.0.0.1:{port}")
    message_id = _enqueue(worker, "retry@example.com")
    worker.deliver_due()
    with worker.sessions() as session:
        stored = OutboxRepository(session).by_id(message_id)
        assert stored is not None
        assert (stored.status, stored.attempts) == ("pending", 1)
        assert "Connection" in stored.last_error or "refused" in stored.last_error.lower()
        retry_at = stored.next_attempt_at
    assert retry_at >= utcnow() + backoff(1) - timedelta(seconds=5)
    worker.deliver_due()  # not due yet: untouched
    with worker.sessions() as session:
        assert OutboxRepository(session).by_id(message_id).attempts == 1  # type: ignore[union-attr]

    sink = Sink()
    for _ in range(MAX_ATTEMPTS - 1):
        clock.freeze(utcnow() + timedelta(hours=2))
        worker.deliver_due()
    with worker.sessions() as session:
        stored = OutboxRepository(session).by_id(message_id)
        assert stored is not None and (stored.status, stored.attempts) == ("failed", MAX_ATTEMPTS)
    assert sink.messages == []
