"""The RTMP server's callbacks (nginx-rtmp ``on_publish``, ``on_update``, ``on_publish_done``,
``on_record_done``): form-encoded POSTs to a small HTTP server of their own, on a free loopback port,
that answers only loopback callers carrying the secret drawn for this RTMP server.

Not a route of the main server: under a heavy audience its event loop and thread pool are busy with
viewers, and a callback that nginx does not get answered in time drops the publisher (nginx-rtmp
takes a late ``on_update`` for a refusal). Any answer but 2xx makes nginx refuse the publisher
(``publish``) or drop it (``update``).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.lives.service import LiveService
from podium.kit.errors import DomainError
from podium.kit.text import same_secret
from podium.kit.uow import NO_DISPATCH, Context, Dispatcher, run

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "::1"}
EVENTS = ("publish", "update", "publish_done", "record_done")
MAX_BODY = 16 * 1024


class CallbackServer:
    """Answers one RTMP server's callbacks, on its own threads (a request each)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        secret: str,
        instance: str,
        dispatcher: Dispatcher = NO_DISPATCH,
    ) -> None:
        self.settings, self.sessions, self.secret = settings, sessions, secret
        self.instance = instance  # the RTMP server's name in publisher ids
        self.dispatcher = dispatcher
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self._thread = threading.Thread(
            target=self.http.serve_forever, name="podium-rtmp-callbacks", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def answer(self, event: str, secret: str, body: bytes, client: str) -> tuple[int, str]:
        """The status and text for one callback."""
        if client not in LOOPBACK or not same_secret(secret, self.secret) or event not in EVENTS:
            return 404, "Not found"
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        code = fields.get("name", "")
        publisher = f"{self.instance}:{fields.get('clientid', '')}"
        key, token = fields.get("key", ""), fields.get("token", "")
        recording = Path(fields.get("path", "")) if event == "record_done" else None

        def work(ctx: Context) -> None:
            lives = LiveService(ctx.session, ctx.settings)
            if event == "publish":
                lives.publish(code, key=key, token=token, publisher=publisher, address=fields.get("addr", ""))
            elif event == "update":
                lives.still_publishing(code, key=key, token=token, publisher=publisher)
            elif event == "publish_done":
                lives.publish_done(code, publisher=publisher)
            elif recording is not None:
                lives.recorded(code, recording)

        try:
            run(self.sessions, self.settings, work, self.dispatcher)
        except DomainError as error:
            log.info("rtmp %s of %r from %s refused: %s", event, code, fields.get("addr", "?"), error.message)
            return 403, error.message
        except Exception:  # noqa: BLE001 - nginx reads any failure as a refusal; say why in our log
            log.exception("rtmp %s of %r failed", event, code)
            return 500, "Internal error"
        if recording is not None:
            # Kept (linked into the library) or not kept: the RTMP server's copy goes either way.
            recording.unlink(missing_ok=True)
        return 200, "OK"


def _handler(server: CallbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server naming
            target = urlsplit(self.path)
            secret = parse_qs(target.query).get("secret", [""])[0]
            length = self.headers.get("content-length", "0")
            size = int(length) if length.isascii() and length.isdigit() else MAX_BODY + 1
            if size > MAX_BODY:
                self._reply(413, "Too large")
                return
            body = self.rfile.read(size)
            self._reply(*server.answer(target.path.rsplit("/", 1)[-1], secret, body, self.client_address[0]))

        def do_GET(self) -> None:  # noqa: N802
            self._reply(404, "Not found")

        def _reply(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass  # its request line carries the secret; refusals are logged by ``answer``

    return Handler
