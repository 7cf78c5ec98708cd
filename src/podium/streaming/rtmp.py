"""The RTMP server: nginx with its rtmp module, configured in the data directory and started by Podium.

nginx-rtmp receives what an encoder (OBS, ffmpeg, a conference's compositor) publishes, asks Podium
over loopback HTTP whether it may (``on_publish``, then ``on_update`` every few seconds, each with
the stream key the encoder gave), cuts it into short HLS segments without re-encoding (H.264/AAC
pass through) and records it to FLV; when the broadcast stops it says so (``on_publish_done``,
``on_record_done``). The callbacks go to a small HTTP server of their own on a free loopback port
(callbacks.py), each carrying a secret drawn for this nginx and written only into its config file
(mode 0600).

nginx runs in the foreground with ``PR_SET_PDEATHSIG``, so it dies with the Podium process that
started it; it never uses the system's nginx service or its config.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import logging
import os
import pwd
import secrets
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.lives.paths import hls_root, records_dir, rtmp_dir
from podium.domain.lives.service import LiveService
from podium.domain.lives.state import UPDATE_SECONDS
from podium.kit.uow import NO_DISPATCH, Context, Dispatcher, run
from podium.rooms.janus import _die_with_parent
from podium.streaming.callbacks import CallbackServer

log = logging.getLogger(__name__)
NGINX = "/usr/sbin/nginx"
MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
# An encoder that sends nothing for this long is dropped (its broadcast ends).
IDLE_PUBLISHER_SECONDS = 10
PLAYLIST_SECONDS = 10
CALLBACK_TIMEOUT_SECONDS = 30


class RtmpUnavailable(Exception):
    """nginx with the rtmp module is missing, or did not start."""


@dataclass(frozen=True)
class RtmpEndpoint:
    """Where the RTMP server listens, and the secret its callbacks carry."""

    listen: str
    callback_base: str
    secret: str


def instance_of(secret: str) -> str:
    """An RTMP server's name in publisher ids (its client ids are unique only within it)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def callback_url(base: str, event: str, secret: str) -> str:
    """A callback address (streaming/callbacks.py): the event, and the secret in the query string."""
    return f"{base}/{event}?secret={secret}"


class LocalRtmp:
    """An nginx of our own, in the foreground, with a config written under ``<data>/rtmp``."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], dispatcher: Dispatcher = NO_DISPATCH
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.folder = rtmp_dir(settings)
        self.secret = secrets.token_hex(24)
        self.callbacks = CallbackServer(settings, sessions, self.secret, instance_of(self.secret), dispatcher)
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint: RtmpEndpoint | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        return Path(NGINX).exists() and MODULE.exists()

    def _user(self) -> str:
        """Run as root, nginx would drop to ``nobody``, who could not write our folders (nor could we
        remove what it wrote): it keeps our user."""
        if os.geteuid() != 0:
            return ""
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        return f"user {user} {group};\n"

    def config(self, secret: str) -> str:
        fragment = max(0.5, float(self.settings.rtmp_hls_fragment_seconds))
        base = self.callbacks.url
        return f"""# Written by Podium at each start (streaming/rtmp.py); changes here are overwritten.
load_module {MODULE};
daemon off;
# One process: it dies with Podium (PR_SET_PDEATHSIG), and a crash leaves no orphaned worker holding
# the port for the restarted one.
master_process off;
{self._user()}pid {self.folder}/nginx.pid;
error_log {self.folder}/nginx.log warn;
events {{
  worker_connections 1024;
}}
rtmp {{
  access_log off;
  server {{
    listen {self.settings.rtmp_listen};
    chunk_size 4096;
    ping 30s;
    ping_timeout 10s;
    notify_method post;
    # A callback that gets no answer in time drops the publisher (nginx-rtmp treats it as a refusal,
    # even for on_update): under a heavy audience Podium may answer slowly, never should it cut a live.
    netcall_timeout {CALLBACK_TIMEOUT_SECONDS}s;
    application live {{
      live on;
      # Viewers watch over HLS through Podium (paywalls, signed URLs): no RTMP playback.
      deny play all;
      drop_idle_publisher {IDLE_PUBLISHER_SECONDS}s;
      on_publish {callback_url(base, "publish", secret)};
      on_update {callback_url(base, "update", secret)};
      notify_update_timeout {UPDATE_SECONDS}s;
      on_publish_done {callback_url(base, "publish_done", secret)};
      on_record_done {callback_url(base, "record_done", secret)};
      hls on;
      hls_path {hls_root(self.settings)};
      hls_nested on;
      hls_fragment {fragment:g}s;
      hls_playlist_length {PLAYLIST_SECONDS}s;
      hls_fragment_naming system;
      hls_cleanup on;
      record all;
      record_path {records_dir(self.settings)};
      record_unique on;
      record_suffix .flv;
    }}
  }}
}}
"""

    def start(self, timeout: float = 10.0) -> RtmpEndpoint:
        if not self.available():
            raise RtmpUnavailable(f"{NGINX} or {MODULE} is missing (Debian: nginx, libnginx-mod-rtmp)")
        for folder in (self.folder, hls_root(self.settings), records_dir(self.settings)):
            folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(self.config(self.secret))
        self.callbacks.start()
        try:
            self._spawn(timeout)
        except RtmpUnavailable:
            self.callbacks.stop()
            raise
        self.endpoint = RtmpEndpoint(self.settings.rtmp_listen, self.callbacks.url, self.secret)
        return self.endpoint

    def _spawn(self, timeout: float) -> None:
        conf = self.folder / "nginx.conf"
        host, _, port = self.settings.rtmp_listen.rpartition(":")
        probe = "127.0.0.1" if host in ("0.0.0.0", "*") else host.strip("[]")
        probe = "::1" if probe == "::" else probe
        # Something already answering there (another Podium's RTMP server on this machine) would pass
        # the readiness probe below while our nginx exits, unable to bind: refuse instead.
        with contextlib.suppress(OSError), socket.create_connection((probe, int(port)), timeout=0.5):
            raise RtmpUnavailable(f"{self.settings.rtmp_listen} is already in use (another RTMP server?)")
        with (self.folder / "nginx.log").open("ab") as log_file:
            self.process = subprocess.Popen(
                [NGINX, "-c", str(conf), "-p", str(self.folder)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RtmpUnavailable(f"nginx exited at start; see {self.folder}/nginx.log")
            try:
                with socket.create_connection((probe, int(port)), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self._terminate()
        raise RtmpUnavailable(f"nginx did not listen on {self.settings.rtmp_listen} in time")

    def supervise(self) -> None:
        """Restart nginx when it exits by itself (its broadcasts end, its recordings are kept: the
        same recovery as at start), waiting longer after each failure, up to a minute."""
        self._stopping.clear()

        def watch() -> None:
            delay = 1.0
            while not self._stopping.wait(1.0):
                process = self.process
                if process is not None and process.poll() is None:
                    delay = 1.0
                    continue
                if process is not None:
                    log.error(
                        "lives: nginx exited with %s; restarting it (see %s/nginx.log)",
                        process.returncode,
                        self.folder,
                    )
                    self.process = None
                try:
                    recover(self.settings, self.sessions)
                    self._spawn(10.0)
                    log.info("lives: RTMP server restarted on %s", self.settings.rtmp_listen)
                except Exception:  # noqa: BLE001 - keep supervising whatever went wrong
                    log.exception("lives: the RTMP server did not restart; trying again in %.0f s", delay)
                    if self._stopping.wait(delay):
                        return
                    delay = min(60.0, delay * 2)

        # This thread starts the restarted nginx, so its death signal follows this thread (which
        # lives until stop()) — and the process: killed, Podium takes nginx along.
        self._supervisor = threading.Thread(target=watch, name="podium-rtmp", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=15)
            self._supervisor = None
        self._terminate()
        self.callbacks.stop()

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def start_rtmp(
    settings: Settings, sessions: sessionmaker[Session], dispatcher: Dispatcher = NO_DISPATCH
) -> LocalRtmp | None:
    """This process's RTMP server when PODIUM_RTMP is local, after ending the broadcasts of the one
    before and keeping the recordings it left; None with PODIUM_RTMP=external (the parent `podium
    serve --workers N` runs it) or off. Lives are refused (PODIUM_RTMP turns off) when nginx with its
    rtmp module is missing or does not start."""
    if settings.rtmp != "local":
        log.info(
            "lives: %s", "RTMP server run by the parent process" if settings.rtmp == "external" else "off"
        )
        return None
    if not LocalRtmp.available():
        log.error(
            "lives: no RTMP server (%s with %s is not installed: Debian packages nginx and "
            "libnginx-mod-rtmp); live/create is refused",
            NGINX,
            MODULE,
        )
        settings.rtmp = "off"
        return None
    recover(settings, sessions)
    server = LocalRtmp(settings, sessions, dispatcher)
    try:
        endpoint = server.start()
    except RtmpUnavailable as exc:
        log.error("lives: the RTMP server did not start (%s); live/create is refused", exc)
        settings.rtmp = "off"
        return None
    server.supervise()
    log.info(
        "lives: RTMP server (nginx) listening on %s, ingest %s, its callbacks on %s",
        endpoint.listen,
        settings.rtmp_ingest_url,
        endpoint.callback_base,
    )
    return server


def recover(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Before a new RTMP server starts: broadcasts of the previous one are over, its recordings kept."""

    def work(ctx: Context) -> list[Path]:
        return LiveService(ctx.session, ctx.settings).recover()

    for path in run(sessions, settings, work):
        path.unlink(missing_ok=True)
