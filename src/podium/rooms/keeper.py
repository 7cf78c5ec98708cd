"""A keeper: a thread of each server process that makes running processes follow rows of desired
state (streams' compositors, phone calls' gateways; ADR 0012, ADR 0014). It looks when a commit of
this process wakes it, and every few seconds for what other processes changed."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.kit import uow
from podium.rooms.janus import MediaPool

log = logging.getLogger(__name__)

LOOK_EVERY = 2.0  # seconds between looks when nothing wakes the keeper


class Keeper:
    thread_name = "podium-keeper"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        pool: MediaPool | None,
        dispatcher: uow.Dispatcher = uow.NO_DISPATCH,
    ) -> None:
        self.sessions, self.settings, self.pool, self.dispatcher = sessions, settings, pool, dispatcher
        # Who holds a lease: this process (host, pid) and this keeper.
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def can_run(self) -> bool:
        """Only a process with a media server keeps anything."""
        return self.pool is not None

    def start(self) -> None:
        if self._thread is None and self.can_run():
            self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop looking, then let go of what this process runs (``release``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            self.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.look()
            except Exception:  # noqa: BLE001 - the keeper must outlive a database hiccup
                log.exception("%s: a look failed", self.thread_name)
            self._wake.wait(self.next_look())
            self._wake.clear()

    def next_look(self) -> float:
        return LOOK_EVERY

    def look(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """At the process's stop, under the keeper's lock."""
