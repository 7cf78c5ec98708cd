"""Group commit: hot writes of one kind that arrive together are made in one transaction (ADR 0018).

A hot write — a conference created, a client invited, a buyer added — costs far more in its
transaction than in its rows: BEGIN, a round trip per statement, the ORM's work per flush, COMMIT.
So a request checks such a write in its unit of work and returns it handed over (``uow.Handed``);
once that unit of work has ended, the write goes to this process's writer thread and the request
awaits it on the event loop (no thread waits). The writer takes every waiting write of the same
kind and makes them together in one unit of work (``uow.run``): one flush per table, one commit,
the effects delivered once it committed.

- **Durable when answered**: ``hand``'s future is done only once the write's transaction
  committed; a request answers after that, as before.
- **An item's error is its own**: an item the write refuses before changing anything for it comes
  back ``Refused`` and raises its error in its own request while the others are committed; when a
  batch fails (a quota reached, a unique key taken, a conflict), each of its items is made again in
  a transaction of its own, so the others succeed and the failing one raises its own error.
- **Not for work that must share a transaction**: the write commits apart from the request's unit
  of work, so only a request whose whole change is this one write hands it over (the edge decides,
  by returning ``uow.Handed``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.kit import uow
from podium.kit.metrics import GROUP_COMMIT_ITEMS, GROUP_COMMITS
from podium.kit.uow import WriteKind

I = TypeVar("I")  # noqa: E741 - the item, beside R the result
R = TypeVar("R")

log = logging.getLogger(__name__)

# More items in one transaction hold its locks longer and make its answer later for the first of
# them; past a few dozen the saving per item is gone (bench/api_latency.py).
MOST_ITEMS = 64


@dataclass
class _Job:
    kind: WriteKind[Any, Any]
    item: Any
    done: Future[Any] = field(default_factory=Future)


class GroupCommit(uow.Writes):
    """This process's writer of hot writes (one thread, started on the first write)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        dispatcher: uow.Dispatcher = uow.NO_DISPATCH,
        *,
        most: int = MOST_ITEMS,
    ) -> None:
        self.sessions, self.settings, self.dispatcher, self.most = sessions, settings, dispatcher, most
        self._waiting: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def hand(self, kind: WriteKind[I, R], item: I) -> Future[R]:
        """Make ``item`` with whatever of its kind is waiting: its result once committed, or its
        error. After ``stop`` the item is made at once, on its own (on a thread of its own)."""
        job = _Job(kind, item)
        with self._ready:
            stopped = self._stopping
            if not stopped:
                self._waiting.append(job)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._write, name="podium-group-commit", daemon=True
                    )
                    self._thread.start()
                self._ready.notify()
        if stopped and job.done.set_running_or_notify_cancel():  # no writer thread any more
            threading.Thread(target=self._settle, args=(job,), name="podium-write-alone", daemon=True).start()
        return job.done

    def stop(self) -> None:
        """Make what is waiting, then end the writer thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def _next_batch(self) -> list[_Job] | None:
        """The oldest waiting write and every other one of its kind (up to ``most``); None to end.

        A write whose request gave up waiting (its future cancelled: the client went away) before
        the writer took it is left out, not made; once taken, its future runs and cannot be
        cancelled any more, so it is made and answered like the others."""
        with self._ready:
            while not self._waiting:
                if self._stopping:
                    return None
                self._ready.wait()
            batch: list[_Job] = []
            others = deque[_Job]()
            while self._waiting and len(batch) < self.most:
                job = self._waiting.popleft()
                if batch and job.kind is not batch[0].kind:
                    others.append(job)
                elif job.done.set_running_or_notify_cancel():
                    batch.append(job)
            self._waiting.extendleft(reversed(others))
            return batch

    def _write(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            try:
                self._together(batch)
            except BaseException as error:  # the writer itself must outlive any one batch
                for job in batch:
                    if not job.done.done():
                        job.done.set_exception(error)

    def _together(self, batch: list[_Job]) -> None:
        if len(batch) == 1:
            self._settle(batch[0])
            return
        kind = batch[0].kind
        try:
            results = self._run(kind, [job.item for job in batch])
        except Exception as error:
            # One item's error spoils its batch's transaction: each item again, on its own.
            log.debug("group commit: %d %s failed together (%r); each alone", len(batch), kind.name, error)
            for job in batch:
                self._settle(job)
            return
        GROUP_COMMITS.labels(kind.name, "together").inc()
        for job, result in zip(batch, results, strict=True):
            if isinstance(result, uow.Refused):
                GROUP_COMMITS.labels(kind.name, "failed").inc()
                job.done.set_exception(result.error)
            else:
                GROUP_COMMIT_ITEMS.labels(kind.name).inc()
                job.done.set_result(result)

    def _settle(self, job: _Job) -> None:
        try:
            result = self._alone(job)
        except BaseException as error:
            GROUP_COMMITS.labels(job.kind.name, "failed").inc()
            job.done.set_exception(error)
            return
        GROUP_COMMITS.labels(job.kind.name, "alone").inc()
        GROUP_COMMIT_ITEMS.labels(job.kind.name).inc()
        job.done.set_result(result)

    def _alone(self, job: _Job) -> Any:
        return uow.made(self._run(job.kind, [job.item])[0])

    def _run(self, kind: WriteKind[Any, Any], items: list[Any]) -> Sequence[Any]:
        results = uow.run(self.sessions, self.settings, lambda ctx: kind.write(ctx, items), self.dispatcher)
        if len(results) != len(items):
            raise AssertionError(f"{kind.name}: {len(results)} results for {len(items)} items")
        return results
