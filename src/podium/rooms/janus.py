"""The media server: a local Janus that Podium configures, starts and stops itself, and a small client
for its HTTP API (VideoRoom rooms) and Admin API (per-participant tokens).

Janus runs with token authentication: nothing reaches it without a token Podium issued, and every
token is bound to the VideoRoom plugin.
"""

from __future__ import annotations

import ctypes
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)
VIDEOROOM = "janus.plugin.videoroom"
LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
SIP = "janus.plugin.sip"
# Only the VideoRoom plugin (and the SIP plugin when Podium places phone calls) and the HTTP transport
# are loaded.
UNUSED_PLUGINS = (
    "audiobridge",
    "duktape",
    "echotest",
    "lua",
    "nosip",
    "recordplay",
    "streaming",
    "textroom",
    "videocall",
    "voicemail",
)


def disabled_plugins(sip: bool) -> str:
    return ",".join(f"libjanus_{name}.so" for name in (*UNUSED_PLUGINS, *(() if sip else ("sip",))))


OTHER_TRANSPORTS = ",".join(
    f"libjanus_{name}.so" for name in ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")
)


class JanusUnavailable(Exception):
    """Janus could not be reached or refused a request."""


class JanusRefused(JanusUnavailable):
    """Janus answered, with an error (a request it will refuse again: not worth repeating)."""


def _die_with_parent() -> None:
    """In the child before exec: Janus gets SIGTERM when Podium dies, even by SIGKILL (Linux), so a
    crashed server leaves no Janus recording into the void or holding its ports. (The signal follows
    the thread that started it: a worker thread of the event loop's default executor, which lives as
    long as the server.)"""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: Janus outlives a crash, as before


PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _library_folder() -> Path:
    for candidate in (LIB, *Path("/usr/lib").glob("*/janus")):
        if (candidate / "plugins").exists():
            return candidate
    return LIB


@dataclass(frozen=True)
class JanusEndpoint:
    """Where one Janus answers: its public API (browsers) and its admin API (Podium only)."""

    api_url: str
    admin_url: str
    admin_secret: str
    room_admin_key: str


class LocalJanus:
    """A Janus process of our own on loopback, configured in the data directory."""

    def __init__(
        self, data_dir: Path, *, cors_origin: str = "*", sip: bool = False, sip_ip: str = "127.0.0.1"
    ) -> None:
        self.folder = data_dir / "janus"
        self.cors_origin = cors_origin
        self.sip = sip  # load the SIP plugin (phone legs, ADR 0014)
        self.sip_ip = sip_ip  # the address SIP and its RTP use and announce (the trunk must reach it)
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint: JanusEndpoint | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("janus") is not None

    def _write_config(self, api_port: int, admin_port: int, admin_secret: str, room_admin_key: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        library = _library_folder()
        (self.folder / "janus.jcfg").write_text(f"""general: {{
  configs_folder = "{self.folder}"
  plugins_folder = "{library / "plugins"}"
  transports_folder = "{library / "transports"}"
  events_folder = "{library / "events"}"
  loggers_folder = "{library / "loggers"}"
  debug_level = 3
  admin_secret = "{admin_secret}"
  token_auth = true
  server_name = "podium-janus"
  session_timeout = 60
}}
media: {{
  rtp_port_range = "20000-40000"
}}
nat: {{
  ice_ignore_list = "vmnet"
  nice_debug = false
}}
plugins: {{
  disable = "{disabled_plugins(self.sip)}"
}}
transports: {{
  disable = "{OTHER_TRANSPORTS}"
}}
events: {{
  broadcast = false
}}
""")
        (self.folder / "janus.transport.http.jcfg").write_text(f"""general: {{
  json = "plain"
  base_path = "/janus"
  http = true
  port = {api_port}
  interface = "lo"
  ip = "127.0.0.1"
  https = false
}}
admin: {{
  admin_base_path = "/admin"
  admin_http = true
  admin_port = {admin_port}
  admin_ip = "127.0.0.1"
  admin_https = false
}}
cors: {{
  allow_origin = "{self.cors_origin}"
}}
""")
        # SIP and its RTP on PODIUM_SIP_LOCAL_IP (loopback by default; a trunk on another machine
        # needs an address it reaches). A dead trunk fails in 8 s, not 32.
        (self.folder / "janus.plugin.sip.jcfg").write_text(f"""general: {{
  local_ip = "{self.sip_ip}"
  local_media_ip = "{self.sip_ip}"
  sdp_ip = "{self.sip_ip}"
  keepalive_interval = 0
  behind_nat = false
  user_agent = "Podium"
  register_ttl = 3600
  rtp_port_range = "40000-50000"
  sip_timer_t1x64 = 8000
}}
""")
        (self.folder / "janus.plugin.videoroom.jcfg").write_text(f"""general: {{
  admin_key = "{room_admin_key}"
  lock_rtp_forward = true
  string_ids = false
}}
""")

    def start(self, timeout: float = 20.0) -> JanusEndpoint:
        api_port, admin_port = _free_port(), _free_port()
        admin_secret, room_admin_key = secrets.token_hex(24), secrets.token_hex(16)
        self._write_config(api_port, admin_port, admin_secret, room_admin_key)
        log_file = (self.folder / "janus.log").open("ab")
        self.process = subprocess.Popen(
            [
                "janus",
                "--config",
                str(self.folder / "janus.jcfg"),
                "--configs-folder",
                str(self.folder),
                "--disable-colors",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        endpoint = JanusEndpoint(
            f"http://127.0.0.1:{api_port}/janus",
            f"http://127.0.0.1:{admin_port}/admin",
            admin_secret,
            room_admin_key,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise JanusUnavailable(
                    f"janus exited with {self.process.returncode}; see {self.folder}/janus.log"
                )
            try:
                if httpx.get(f"{endpoint.api_url}/info", timeout=1).status_code == 200:
                    self.endpoint = endpoint
                    log.info("janus started on %s", endpoint.api_url)
                    return endpoint
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise JanusUnavailable("janus did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


KEYFRAME_SECONDS = 2
# Speaker detection (see ``create_room``): 0.6 s of packets, louder than -55 dBov on average: speech
# at a normal distance; a muted microphone sends silence (127) and stops "talking" within the window.
AUDIO_ACTIVE_PACKETS = 30
AUDIO_LEVEL_AVERAGE = 55


class JanusClient:
    """Podium's own use of Janus: tokens (Admin API) and VideoRoom management (plugin requests)."""

    def __init__(self, endpoint: JanusEndpoint) -> None:
        self.endpoint = endpoint
        self._server_token = secrets.token_hex(16)
        self._token_ready = False
        # One pool for every call (from any thread): a new client costs ~30 ms of CPU (it loads the CA
        # bundle), which 50 people entering at once paid twice each (bench/room_load.py).
        self._http = httpx.Client(timeout=5)

    def _admin(self, request: str, **body: Any) -> dict[str, Any]:
        payload = {
            "janus": request,
            "transaction": secrets.token_hex(6),
            "admin_secret": self.endpoint.admin_secret,
            **body,
        }
        try:
            answer: dict[str, Any] = self._http.post(self.endpoint.admin_url, json=payload).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusUnavailable(str(exc)) from exc
        if answer.get("janus") != "success":
            raise JanusRefused(str(answer.get("error", answer)))
        return answer

    def add_token(self, token: str, *, sip: bool = False) -> None:
        """A media token for the VideoRoom; ``sip`` also opens the SIP plugin (only ever for a
        phone gateway of ours: with it, calls can be placed on the trunk)."""
        self._admin("add_token", token=token, plugins=[VIDEOROOM, *([SIP] if sip else [])])

    def remove_token(self, token: str) -> None:
        """Revoke a visitor's media token. Tried three times (a busy Janus may miss one admin
        request): a token left behind lets someone who left keep the room's media."""
        for attempt, pause in enumerate((0.5, 1.0, 0.0), start=1):
            try:
                self._admin("remove_token", token=token)
                return
            except JanusRefused as exc:  # e.g. the token is already gone
                log.info("janus did not remove a token: %s", exc)
                return
            except JanusUnavailable as exc:
                log.warning("could not remove a janus token (attempt %d of 3): %s", attempt, exc)
                time.sleep(pause)

    def _videoroom(self, body: dict[str, Any]) -> dict[str, Any]:
        """One synchronous VideoRoom request through a short-lived session."""
        if not self._token_ready:
            self.add_token(self._server_token)
            self._token_ready = True
        base, token = self.endpoint.api_url, self._server_token
        http = self._http
        try:
            session = http.post(base, json={"janus": "create", "transaction": "s", "token": token}).json()
            session_id = session["data"]["id"]
            handle = http.post(
                f"{base}/{session_id}",
                json={"janus": "attach", "plugin": VIDEOROOM, "transaction": "a", "token": token},
            ).json()
            handle_id = handle["data"]["id"]
            answer = http.post(
                f"{base}/{session_id}/{handle_id}",
                json={"janus": "message", "body": body, "transaction": "m", "token": token},
            ).json()
            http.post(f"{base}/{session_id}", json={"janus": "destroy", "transaction": "d", "token": token})
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise JanusUnavailable(str(exc)) from exc
        data: dict[str, Any] = answer.get("plugindata", {}).get("data", {})
        if data.get("error"):
            raise JanusUnavailable(str(data["error"]))
        return data

    def create_room(self, room: int, *, secret: str, publishers: int, description: str) -> None:
        self._videoroom(
            {
                "request": "create",
                "admin_key": self.endpoint.room_admin_key,
                "room": room,
                "secret": secret,
                "publishers": publishers,
                "description": description[:100] or "Podium",
                "is_private": True,
                "permanent": False,
                "bitrate": 512000,
                # A keyframe from every publisher this often: a recording (or a late subscriber)
                # starts showing video within that time, not at the encoder's next chance.
                "fir_freq": KEYFRAME_SECONDS,
                "notify_joining": True,
                # Who is speaking: every publisher's audio level (the RTP header extension) is
                # averaged over AUDIO_ACTIVE_PACKETS packets (20 ms each); louder on average than
                # AUDIO_LEVEL_AVERAGE (-dBov) is "talking", and everyone in the room is told
                # ("talking" / "stopped-talking"): the room page highlights that tile.
                "audiolevel_event": True,
                "audio_active_packets": AUDIO_ACTIVE_PACKETS,
                "audio_level_average": AUDIO_LEVEL_AVERAGE,
            }
        )

    def record(self, room: int, *, secret: str, directory: Path | None) -> None:
        """Record every publisher of the room into ``directory`` (one .mjr file per track), or stop
        recording (``None``). Janus writes the files itself, packet by packet, as media arrives."""
        if directory is not None:
            self._videoroom(
                {"request": "edit", "room": room, "secret": secret, "new_rec_dir": str(directory)}
            )
        self._videoroom(
            {"request": "enable_recording", "room": room, "secret": secret, "record": directory is not None}
        )

    def destroy_room(self, room: int, *, secret: str) -> None:
        try:
            self._videoroom({"request": "destroy", "room": room, "secret": secret})
        except JanusUnavailable as exc:
            log.info("room %s not destroyed: %s", room, exc)

    def answers(self, timeout: float = 1.0) -> bool:
        """Whether this Janus answers its info request now (``/metrics``)."""
        try:
            return self._http.get(f"{self.endpoint.api_url}/info", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def rooms(self) -> list[dict[str, Any]]:
        """Every VideoRoom of this instance (private ones too: the request carries the admin key)."""
        data = self._videoroom({"request": "list", "admin_key": self.endpoint.room_admin_key})
        return list(data.get("list", []))

    def room_exists(self, room: int) -> bool:
        return bool(self._videoroom({"request": "exists", "room": room}).get("exists"))

    def moderate(self, room: int, *, secret: str, publisher: int, mids: list[str], mute: bool) -> None:
        """Mute (or unmute) a publisher's streams at the server: nobody receives them."""
        for mid in mids:
            self._videoroom(
                {
                    "request": "moderate",
                    "secret": secret,
                    "room": room,
                    "id": publisher,
                    "mid": mid,
                    "mute": mute,
                }
            )

    def kick(self, room: int, *, secret: str, publisher: int) -> None:
        self._videoroom({"request": "kick", "secret": secret, "room": room, "id": publisher})

    def participants(self, room: int) -> list[dict[str, Any]]:
        data = self._videoroom({"request": "listparticipants", "room": room})
        return list(data.get("participants", []))


class MediaPool:
    """Every Janus Podium may use; a new room goes to the least loaded one and stays there."""

    def __init__(self, clients: list[JanusClient]) -> None:
        if not clients:
            raise ValueError("a media pool needs at least one Janus")
        self.clients = clients

    @property
    def origins(self) -> list[str]:
        from urllib.parse import urlsplit

        return sorted(
            {
                f"{urlsplit(c.endpoint.api_url).scheme}://{urlsplit(c.endpoint.api_url).netloc}"
                for c in self.clients
            }
        )

    def health(self) -> list[tuple[str, bool]]:
        """(host:port of its API, answers?) for every instance: ``/metrics``'s ``podium_janus_up``."""
        from urllib.parse import urlsplit

        return [(urlsplit(c.endpoint.api_url).netloc, c.answers()) for c in self.clients]

    def by_url(self, api_url: str | None) -> JanusClient | None:
        return next((c for c in self.clients if c.endpoint.api_url == api_url), None)

    def least_loaded(self) -> JanusClient:
        """The instance with the fewest participants (then rooms); unreachable ones are skipped."""
        best: tuple[int, int, int] | None = None
        chosen: JanusClient | None = None
        for index, client in enumerate(self.clients):
            try:
                rooms = client.rooms()
            except JanusUnavailable:
                continue
            load = (sum(int(r.get("num_participants", 0)) for r in rooms), len(rooms), index)
            if best is None or load < best:
                best, chosen = load, client
        if chosen is None:
            raise JanusUnavailable("no media server answers")
        return chosen
