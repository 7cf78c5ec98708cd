"""Settings: every knob is a PODIUM_* environment variable."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PODIUM_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    smtp_url: str | None = None
    mail_from: str = "Podium <no-reply@podium.invalid>"
    liveminutes_prefix: str = "/liveminutes"
    # The LiveMinutes reference limits an account to 1000 users and 10000 sessions.
    quota_conferences: int = 10000
    quota_users: int = 1000
    invite_default_timeout: int = 86400
    # Conference reminders go out this many minutes before the start (domain/conferences/emails.py).
    reminder_minutes: int = 15
    max_body_bytes: int = 1_000_000
    run_outbox_worker: bool = True
    # Dial-in numbers offered to hosts: the first whose country matches the host's, else the first;
    # none configured, hosts' answers carry none (a number is never invented).
    dialin_numbers: list[dict[str, str]] = []
    sip_domain: str | None = None
    # Dial-out (conference/dial_number, ADR 0014): the SIP trunk calls go through (sip:host[:port]),
    # with digest credentials when it asks for them; unset, dial-out is refused.
    sip_trunk: str | None = None
    sip_trunk_user: str | None = None
    sip_trunk_password: str | None = None
    sip_ring_seconds: int = 45
    # Calls one server process carries at once (each is a gateway process; bench/phone_legs.py: about
    # two per core keep up); more wait for a free line, another process's or this one's, up to 60 s.
    sip_max_calls: int = max(1, 2 * (os.cpu_count() or 1))
    # The address the embedded Janus's SIP plugin binds and announces for SIP and RTP.
    sip_local_ip: str = "127.0.0.1"
    # Dial-in (ADR 0014): the SIP front (Kamailio) listens here (UDP host:port) for calls to hosts'
    # sip_uri and the dial-in numbers; empty turns dial-in off.
    sip_listen: str | None = "127.0.0.1:5060"
    # Iotum auth_token lifetime after its last successful use.
    api_session_minutes: int = 60
    oauth_access_token_seconds: int = 3600
    drive_max_bytes: int = 100 * 1024 * 1024
    # Media: start a local Janus (default) unless PODIUM_JANUS_URL names one; "off" runs without media.
    janus: str = "local"
    janus_url: str | None = None
    janus_admin_url: str | None = None
    janus_admin_secret: str | None = None
    janus_room_admin_key: str | None = None
    # Several external instances: a JSON list of {url, admin_url, admin_secret, room_admin_key}.
    janus_instances: list[dict[str, str]] = []
    room_publishers: int = 12
    # A room socket silent (not even a ping) for this long belongs to a browser that vanished.
    room_idle_seconds: float = 30.0
    # Several server processes (``podium serve --workers N``, or several machines) share room events
    # and presence through Redis pub/sub and hashes (kit/bus.py, ADR 0007); unset: one process.
    redis_url: str | None = None
    # Media library and pay-per-view.
    media_max_bytes: int = 5 * 1024**3
    run_media_worker: bool = True
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    # A transcoding job's lease, renewed while ffmpeg reports progress; a dead worker's job is retried.
    media_lease_seconds: int = 120
    media_max_attempts: int = 3
    transcode_timeout_seconds: int = 6 * 3600
    # Recordings and transcripts (domain/recordings): the speech recogniser of transcripts
    # ("pocketsphinx", offline, its English model in the package; "command:/path/to/program", an
    # engine of the operator's, see kit/speech.CommandTranscriber; "off": none are made).
    transcriber: str = "pocketsphinx"
    # media/create fetches files from URLs: only public addresses unless this allows private ones
    # (an intranet media store; the tests' local file server).
    media_import_private_networks: bool = False
    # Webhook receivers in loopback/private networks (an intranet); off: no port scanner of our network.
    webhook_private_networks: bool = False
    media_import_timeout_seconds: int = 3600
    # Lifetime of the links the API hands out (upload, progress, owner playback and download).
    media_link_seconds: int = 86400
    # Lifetime of a viewer's playback token; the player renews it with every heartbeat.
    play_token_seconds: int = 90
    heartbeat_seconds: int = 10
    # A view session silent for longer than this is no longer a live device (device_ban).
    view_live_seconds: int = 45
    # A MaxMind-format (.mmdb) country database for ppv/sessions; without it, Country is "Unknown".
    geoip_database: Path | None = None
    # Boomstream lives (domain/lives, streaming/, ADR 0010): an RTMP server encoders publish to.
    # "local": `podium serve` starts its own nginx (Debian's nginx and libnginx-mod-rtmp) with a
    # config it writes under the data directory; "external": the parent `podium serve --workers N`
    # runs it for its workers; "off": no lives (live/create is refused).
    rtmp: str = "local"
    # Where the RTMP server listens: loopback unless opened (e.g. "0.0.0.0:1935", and the firewall).
    rtmp_listen: str = "127.0.0.1:1935"
    # The rtmp:// address encoders are given (IngestUrl); default rtmp://<listen address>/live, with
    # the host of PODIUM_PUBLIC_URL when listening on every interface.
    rtmp_public_url: str | None = None
    # HLS fragments of lives: short ones keep glass-to-glass latency low (an encoder should send a
    # key frame at least this often).
    rtmp_hls_fragment_seconds: float = 1.0

    # Guessing (domain/guard, README "Security"): only failed attempts count. A target (one
    # conference's PIN, one room-code prefix, one subscription's passwords, one login email) that
    # fails this many times within the window is locked for everyone for guard_lock_seconds, doubling
    # with each repeated lockout up to guard_lock_max_seconds; a client address that fails this many
    # times within the window (on any targets) is refused the same way.
    guard_enabled: bool = True
    guard_target_failures: int = 5
    guard_client_failures: int = 30
    guard_window_seconds: int = 600
    guard_lock_seconds: int = 60
    guard_lock_max_seconds: int = 3600
    # Observability (README "Observability"): ``/metrics`` answers only ``Authorization: Bearer <token>``
    # when this is set, else only loopback clients; logs are JSON lines with ``PODIUM_LOG_FORMAT=json``.
    metrics_token: str | None = None
    log_format: str = "text"

    @field_validator("transcriber")
    @classmethod
    def _known_transcriber(cls, value: str) -> str:
        return check_transcriber_setting(value)

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value.strip().lower() not in ("text", "json"):
            raise ValueError('PODIUM_LOG_FORMAT must be "text" or "json"')
        return value.strip().lower()

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str | None) -> str | None:
        return value or None  # set but empty: no token (loopback only)

    @field_validator("rtmp")
    @classmethod
    def _rtmp_mode(cls, value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in RTMP_MODES:
            raise ValueError(f"PODIUM_RTMP must be one of {', '.join(RTMP_MODES)}")
        return chosen

    @field_validator("rtmp_listen")
    @classmethod
    def _rtmp_address(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("PODIUM_RTMP_LISTEN must be host:port, e.g. 127.0.0.1:1935 or 0.0.0.0:1935")
        return value.strip()

    @field_validator("sip_trunk")
    @classmethod
    def _sip_trunk(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, _, port = value.strip().removeprefix("sip:").partition(":")
        if (
            not value.strip().startswith("sip:")
            or not host
            or any(c in host for c in "@;/ ")
            or (port and not (port.isdigit() and 0 < int(port) < 65536))
        ):
            raise ValueError(
                "PODIUM_SIP_TRUNK must be sip:host or sip:host:port, e.g. sip:trunk.example.com:5060"
            )
        return value.strip()

    @field_validator("sip_listen")
    @classmethod
    def _sip_listen(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or host in ("0.0.0.0", "::", "[::]"):
            raise ValueError(
                "PODIUM_SIP_LISTEN must be an address and port, e.g. 127.0.0.1:5060 or 203.0.113.7:5060 "
                "(not a wildcard address; empty: no dial-in)"
            )
        return value.strip()

    @field_validator("sip_ring_seconds")
    @classmethod
    def _ring_seconds(cls, value: int) -> int:
        if not 5 <= value <= 300:
            raise ValueError("PODIUM_SIP_RING_SECONDS must be from 5 to 300")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("PODIUM_REDIS_URL must be a redis://, rediss:// or unix:// URL")
        return value or None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'podium.sqlite3').resolve()}"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def sip_host(self) -> str:
        from urllib.parse import urlparse

        return self.sip_domain or f"sip.{urlparse(self.public_url).hostname or 'localhost'}"

    @property
    def sip_plugin(self) -> bool:
        """Whether Janus's SIP plugin is needed: dial-out through a trunk, or dial-in through the front."""
        return bool(self.sip_trunk or self.sip_listen)

    def dial_uri(self, phone_number: str) -> str:
        """The SIP URI that reaches an E.164 number (digits) through the trunk."""
        assert self.sip_trunk is not None
        return f"sip:+{phone_number}@{self.sip_trunk.removeprefix('sip:')}"

    @property
    def rtmp_port(self) -> int:
        return int(self.rtmp_listen.rpartition(":")[2])

    @property
    def rtmp_ingest_url(self) -> str:
        """The rtmp:// address encoders publish to (a live's stream key follows it after a slash)."""
        if self.rtmp_public_url:
            return self.rtmp_public_url.rstrip("/")
        from urllib.parse import urlparse

        host = self.rtmp_listen.rpartition(":")[0]
        if host in ("0.0.0.0", "[::]", "::"):
            host = urlparse(self.public_url).hostname or "127.0.0.1"
        return f"rtmp://{host}:{self.rtmp_port}/live"

    @property
    def maildir_path(self) -> Path:
        return self.data_dir / "maildir"

    @property
    def lm_prefix(self) -> str:
        return "/" + self.liveminutes_prefix.strip("/")

    def signing_key(self) -> str:
        """The HS256 key: PODIUM_SECRET_KEY, else a key generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        # Not resolved here: this runs on every signed link, and each spelling of the directory
        # reads the same file once.
        return _stored_secret(self.data_dir)


RTMP_MODES = ("local", "external", "off")
DEFAULT_TRANSCRIBER = "pocketsphinx"
TRANSCRIBERS = ("pocketsphinx", "off")
# The operator's own engine (kit/speech.CommandTranscriber): "command:/absolute/path".
COMMAND_PREFIX = "command:"


def check_transcriber_setting(setting: str) -> str:
    """A ``PODIUM_TRANSCRIBER`` value as given, once it is known to name an engine that can run
    (ValueError otherwise, so a wrong setting stops the server at start, not a job later)."""
    chosen = setting.strip()
    if chosen.lower() in TRANSCRIBERS:
        return chosen.lower()
    if chosen.startswith(COMMAND_PREFIX):
        program = Path(chosen[len(COMMAND_PREFIX) :])
        if not program.is_absolute() or not os.access(program, os.X_OK) or not program.is_file():
            raise ValueError(
                f"{setting!r}: the transcriber program must be an absolute path to an executable file"
            )
        return chosen
    accepted = ", ".join(f'"{value}"' for value in TRANSCRIBERS)
    raise ValueError(
        f'Unknown transcriber {setting!r}: the accepted values are {accepted} or "command:/path/to/program"'
    )


@lru_cache(maxsize=8)
def _stored_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes race on first start, one key wins and both read it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def get_settings() -> Settings:
    return Settings()
