"""The transcoding worker: takes uploaded media off the queue (the media table) and runs ffmpeg;
a media made by ``media/create`` has its file fetched first, in the same job.

A job is held by a lease that the worker renews while the fetch or ffmpeg progresses; a worker that dies
leaves a lease that runs out, and the job is taken again (within ``media_max_attempts``). Each
attempt works in a directory of its own and replaces the finished output in one rename.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.audit.service import log_action
from podium.domain.media import importer, transcoder
from podium.domain.media.repository import MediaRepository
from podium.domain.media.service import MediaService
from podium.domain.media.transcoder import Probe, TranscodeError
from podium.domain.recordings.processor import RecordingProcessor
from podium.kit.clock import utcnow
from podium.kit.metrics import MEDIA_JOBS
from podium.kit.uow import NO_DISPATCH, Dispatcher, take_after_commit
from podium.models.media import Media, MediaImage, MediaRendition, MediaStatus

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The worker is stopping: the job goes back to the queue untouched."""


class MediaWorker:
    def __init__(
        self, settings: Settings, sessions: sessionmaker, dispatcher: Dispatcher = NO_DISPATCH
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        # Webhooks queued by a finished job are delivered at once, as after a request.
        self.dispatcher = dispatcher
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.media_lease_seconds)

    # --- one pass -----------------------------------------------------------------------

    def process_due(self) -> int:
        """Transcode every media due now, then take the recordings' jobs (a published Boomstream
        recording adds a media: the next pass transcodes it). Returns how many jobs ended."""
        ended = 0
        with self.sessions() as session:
            due = MediaRepository(session).due_for_processing(utcnow())
        for media_id in due:
            if self._stop.is_set():
                break
            if self.process(media_id):
                ended += 1
        if not self._stop.is_set():
            recordings = RecordingProcessor(self.settings, self.sessions, self.dispatcher, self._stop)
            ended += recordings.process_due()
        return ended

    def process(self, media_id: int) -> bool:
        with self.sessions() as session:
            now = utcnow()
            media = MediaRepository(session).claim(media_id, now, now + self.lease)
            session.commit()
            if media is None:
                return False
            service = MediaService(session, self.settings)
            source_path = service.source_path(media)
            storage = service.storage_dir(media)
            output = service.output_dir(media)
            attempts, code = media.attempts, media.code
            # media/create: the file is still to be fetched (file_size is set once it has been).
            fetch_from = media.source_url if media.file_size is None else None
        if attempts > self.settings.media_max_attempts:
            self._fail(media_id, f"Transcoding did not finish after {attempts - 1} attempts")
            return True
        work = storage / f"work-{attempts}"
        try:
            if fetch_from is not None:
                self._fetch(media_id, fetch_from, source_path)
            probe, renditions, images = self._transcode(media_id, source_path, work)
        except Cancelled:
            shutil.rmtree(work, ignore_errors=True)
            self._release(media_id, retry_at=None, attempt_counts=False)
            return False
        except TranscodeError as error:
            shutil.rmtree(work, ignore_errors=True)
            log.info("media %s failed: %s", code, error)
            self._fail(media_id, str(error))
            return True
        except importer.FetchUnavailable as error:
            log.info("fetching media %s failed (attempt %s): %s", code, attempts, error)
            if attempts >= self.settings.media_max_attempts:
                self._fail(media_id, f"{error} ({attempts} attempts)")
                return True
            self._release(media_id, retry_at=utcnow() + timedelta(seconds=60), attempt_counts=True)
            return False
        except Exception:  # noqa: BLE001 - a bug or a full disk: retry later, then give up
            log.exception("transcoding media %s crashed", code)
            shutil.rmtree(work, ignore_errors=True)
            if attempts >= self.settings.media_max_attempts:
                self._fail(media_id, "Transcoding failed with an internal error")
                return True
            self._release(media_id, retry_at=utcnow() + timedelta(seconds=30), attempt_counts=True)
            return False
        self._finish(media_id, probe, renditions, images, work, output)
        MEDIA_JOBS.labels("done").inc()
        return True

    def _lease_keeper(self, media_id: int) -> Callable[..., None]:
        """A progress callback: stops the job when the worker stops or the media is deleted, and
        renews its lease once a second."""
        last_write = 0.0

        def keep(**progress: int | None) -> None:
            nonlocal last_write
            if self._stop.is_set():
                raise Cancelled()
            now = time.monotonic()
            if now - last_write >= 1.0:
                last_write = now
                with self.sessions() as session:
                    live = MediaRepository(session).renew_lease(media_id, utcnow() + self.lease, **progress)
                    session.commit()
                if not live:
                    raise Cancelled()  # deleted while we worked: stop fetching or encoding it

        return keep

    def _fetch(self, media_id: int, url: str, source_path: Path) -> None:
        source_path.parent.mkdir(parents=True, exist_ok=True)
        keep = self._lease_keeper(media_id)
        fetched = importer.fetch(
            url,
            source_path,
            max_bytes=self.settings.media_max_bytes,
            allow_private=self.settings.media_import_private_networks,
            deadline_seconds=self.settings.media_import_timeout_seconds,
            on_progress=lambda received, expected: keep(upload_received=received, upload_expected=expected),
        )
        with self.sessions() as session:
            media = session.get(Media, media_id)
            if media is None:
                raise Cancelled()
            MediaService(session, self.settings).accept_fetched(media, fetched.size, fetched.file_name)
            session.commit()

    def _transcode(
        self, media_id: int, source_path: Path, work: Path
    ) -> tuple[Probe, list[transcoder.Rendition], list[transcoder.Image]]:
        if not source_path.exists():
            raise TranscodeError("The uploaded file is missing")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        tools = {"ffmpeg": self.settings.ffmpeg, "ffprobe": self.settings.ffprobe}
        probe = transcoder.probe(source_path, self.settings.ffprobe)
        keep = self._lease_keeper(media_id)
        renditions = transcoder.transcode(
            source_path,
            probe,
            work,
            on_progress=lambda percent: keep(progress=percent),
            timeout=self.settings.transcode_timeout_seconds,
            **tools,
        )
        images = transcoder.images(source_path, probe, work / "images", **tools)
        return probe, renditions, images

    def _finish(
        self,
        media_id: int,
        probe: Probe,
        renditions: list[transcoder.Rendition],
        images: list[transcoder.Image],
        work: Path,
        output: Path,
    ) -> None:
        with self.sessions() as session:
            media = session.get(Media, media_id)
            if media is None or media.deleted_at is not None:
                shutil.rmtree(work.parent, ignore_errors=True)
                return
            rendition_rows = [
                MediaRendition(
                    media_id=media.id,
                    code=f"{media.code}-{_suffix(media.code, r.title)}",
                    title=r.title,
                    width=r.width,
                    height=r.height,
                    bandwidth=r.bandwidth,
                    codecs=r.codecs,
                )
                for r in renditions
            ]
            image_rows = []
            for position, image in enumerate(images):
                prefix = "a" if image.kind == "poster" else "s"
                image_code = f"{media.code}-{prefix}{position + 1}"
                image.path.rename(image.path.with_name(f"{image_code}.jpg"))
                image_rows.append(
                    MediaImage(
                        media_id=media.id,
                        code=image_code,
                        kind=image.kind,
                        position=position,
                        at_seconds=image.at_seconds,
                        width=image.width,
                        height=image.height,
                    )
                )
            # Swap the finished output in: the old one (an earlier attempt's) goes in one rename.
            old = output.with_name("out-old")
            shutil.rmtree(old, ignore_errors=True)
            if output.exists():
                output.rename(old)
            work.rename(output)
            shutil.rmtree(old, ignore_errors=True)
            MediaRepository(session).replace_outputs(media.id, rendition_rows, image_rows)
            media.media_type = "video" if probe.has_video else "audio"
            media.duration = probe.duration
            media.width = probe.width or None
            media.height = probe.height or None
            media.status = MediaStatus.DONE.value
            media.failure_reason = ""
            media.progress = 100
            media.lease_until = None
            media.processed_at = utcnow()
            self._log(session, "completed", media)
            screenshots = [i for i in image_rows if i.kind == "screenshot"]
            if screenshots:
                # Made in the same job, so they complete with the media; announced for clients that wait
                # for this event rather than media.completed.
                log_action(
                    session,
                    "screenshots.completed",
                    actor="system:transcoder",
                    ref=f"media:{media.id}",
                    company_id=media.company_id,
                    code=media.code,
                    title=media.title,
                    count=len(screenshots),
                )
            session.commit()
        self.dispatcher.deliver(take_after_commit(session))

    def _fail(self, media_id: int, reason: str) -> None:
        MEDIA_JOBS.labels("failed").inc()
        with self.sessions() as session:
            media = session.get(Media, media_id)
            if media is None or media.deleted_at is not None:
                return
            media.status = MediaStatus.FAILED.value
            media.failure_reason = reason[:2000]
            media.lease_until = None
            media.processed_at = utcnow()
            self._log(session, "failed", media, reason=media.failure_reason)
            session.commit()
        self.dispatcher.deliver(take_after_commit(session))

    def _release(self, media_id: int, *, retry_at: datetime | None, attempt_counts: bool) -> None:
        if attempt_counts:
            MEDIA_JOBS.labels("retry").inc()
        with self.sessions() as session:
            media = session.get(Media, media_id)
            if media is None:
                return
            media.lease_until = retry_at
            if not attempt_counts:
                media.attempts = max(0, media.attempts - 1)
            session.commit()

    def _log(self, session: Session, action: str, media: Media, **data: object) -> None:
        log_action(
            session,
            f"media.{action}",
            actor="system:transcoder",
            ref=f"media:{media.id}",
            company_id=media.company_id,
            code=media.code,
            title=media.title,
            status=media.status,
            **data,
        )

    # --- background loop ------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self, poll_seconds: float = 5.0) -> None:
        while not self._stop.is_set():
            try:
                self.process_due()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("media worker pass failed")
            self._wake.wait(poll_seconds)
            self._wake.clear()

    def start(self) -> None:
        if not transcoder.available(self.settings.ffmpeg, self.settings.ffprobe):
            log.error("ffmpeg/ffprobe not found: uploaded media stay in Processing until they are installed")
        self._thread = threading.Thread(target=self.run_forever, name="media-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _suffix(media_code: str, title: str) -> str:
    """A rendition code's tail: stable for a media and a title, so links survive a re-transcode."""
    import hashlib

    return hashlib.sha256(f"{media_code}:{title}".encode()).hexdigest()[:8]
