"""The dial-in SIP front (ADR 0014): a Kamailio of our own on the fixed UDP address ``PODIUM_SIP_LISTEN``.

Janus's SIP plugin handles cannot listen on a fixed port (each one binds a random port), so the
gateway's idle handles REGISTER to this front as contacts of one address of record, ``sip:dialin@<domain>``.
The front is a registrar (in memory) and a proxy that only ever relays to those contacts:

- **REGISTER** only from ``registrar_from`` (the SIP address of our Janus) and only for the AOR;
  anyone else gets 403. Registrations are short (``DEFAULT_EXPIRES``): a restarted front relearns its
  handles within a minute, and a crashed Janus's handles do not linger.
- **An initial INVITE** for the domain (or the front's own address) is rewritten to the AOR: the
  dialled Request-URI is kept in ``X-Podium-Dialed`` (one from outside is removed first: never
  trusted), the Request-URI becomes ``sip:<aor>@<domain>``, and the call is relayed to **one**
  registered handle, the most recently registered (``append_branches`` 0: no forking, so exactly
  one gateway sees each call; a gateway that takes a call unregisters, and its process arms
  another). Nothing registered: 480. Any
  other domain: 404. So it is no open proxy: nothing is ever relayed outward but in-dialog requests
  of calls it set up itself (``dialog`` module, Record-Route), such as the handle's BYE to the caller.
- **OPTIONS** get 200 (``ping``: another process sees that a front already answers there), CANCEL
  follows its INVITE, anything else is 405.

Kamailio runs in the foreground in a session of its own with ``PR_SET_PDEATHSIG`` (it dies with the
Podium process that started it), with its config, its runtime folder and its log under ``folder``;
it never uses the system's kamailio service or its config.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from pathlib import Path

from podium.rooms.janus import _die_with_parent

log = logging.getLogger(__name__)
KAMAILIO = "kamailio"
# Registrations the handles may ask for, in seconds: short, so a restarted front (its usrloc is in
# memory) relearns the handles quickly and a crashed Janus's contacts expire soon.
MIN_EXPIRES, DEFAULT_EXPIRES, MAX_EXPIRES = 10, 60, 300
DIALED_HEADER = "X-Podium-Dialed"
MODULES = (
    "kex",
    "corex",
    "tm",
    "tmx",
    "sl",
    "rr",
    "pv",
    "maxfwd",
    "usrloc",
    "registrar",
    "textops",
    "textopsx",
    "siputils",
    "xlog",
    "sanity",
    "dialog",
)
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_USER = re.compile(r"^[A-Za-z0-9._~-]+$")


class FrontUnavailable(RuntimeError):
    """Kamailio is missing, or the front did not start (its address is taken, a bad config)."""


def module_folder() -> Path | None:
    """Where Kamailio's modules are on this machine (Debian: /usr/lib/<multiarch>/kamailio/modules)."""
    multiarch = sysconfig.get_config_var("MULTIARCH")
    candidates = [Path(f"/usr/lib/{multiarch}/kamailio/modules")] if multiarch else []
    candidates += sorted(Path("/usr/lib").glob("*/kamailio/modules"))
    candidates += [Path("/usr/lib64/kamailio/modules"), Path("/usr/lib/kamailio/modules")]
    return next((folder for folder in candidates if (folder / "tm.so").exists()), None)


def executable() -> str | None:
    """The kamailio binary (/usr/sbin is not on every user's PATH)."""
    return shutil.which(KAMAILIO) or shutil.which(KAMAILIO, path="/usr/sbin:/usr/local/sbin")


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) → host and port; ValueError otherwise."""
    host, sep, port = listen.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a SIP listen address must be host:port, e.g. 127.0.0.1:5060 (got {listen!r})")
    return host, int(port)


def _probe_host(host: str) -> str:
    """The address to reach a server bound to ``host`` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "::": "::1"}.get(host, host)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def ping(listen: str, timeout: float = 1.0) -> bool:
    """Whether a SIP server answers an OPTIONS on ``listen`` (UDP) with 200 within ``timeout``."""
    host, port = split_listen(listen)
    probe = _probe_host(host)
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(_family(probe), socket.SOCK_DGRAM) as sock:
            sock.connect((probe, port))
            local_host, local_port = sock.getsockname()[:2]
            local = f"[{local_host}]" if ":" in local_host else local_host
            target = f"[{probe}]" if ":" in probe else probe
            call_id = secrets.token_hex(8)
            tag, branch = secrets.token_hex(4), "z9hG4bK" + secrets.token_hex(8)
            request = (
                f"OPTIONS sip:{target}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {local}:{local_port};branch={branch};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:ping@{local}>;tag={tag}\r\n"
                f"To: <sip:{target}:{port}>\r\n"
                f"Call-ID: {call_id}\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            resend = 0.0
            while (left := deadline - time.monotonic()) > 0:
                if time.monotonic() >= resend:  # UDP: say it again every half second
                    sock.send(request)
                    resend = time.monotonic() + 0.5
                sock.settimeout(max(0.001, min(left, resend - time.monotonic())))
                try:
                    data = sock.recv(65535).decode("utf-8", "replace")
                except TimeoutError:
                    continue
                status = data.split("\r\n", 1)[0].split(" ")
                if call_id not in data or len(status) < 2 or status[0] != "SIP/2.0":
                    continue
                if status[1] == "200":
                    return True
                if not status[1].startswith("1"):
                    return False
    except OSError:  # refused (nothing listens there), unreachable, unresolvable
        return False
    return False


class SipFront:
    """A Kamailio of our own on ``listen``: registrar for ``aor`` (from ``registrar_from`` only) and
    proxy of dial-in INVITEs to it; configured, run and logged under ``folder``."""

    def __init__(
        self, listen: str, domain: str, folder: Path, *, registrar_from: str, aor: str = "dialin"
    ) -> None:
        self.host, self.port = split_listen(listen)
        if self.host in ("0.0.0.0", "::", "*"):
            # Kamailio would write 0.0.0.0 into Via and Record-Route, and not know the address as its own
            raise ValueError(f"the SIP front needs an address of this machine, not {self.host} ({listen})")
        self.listen = listen
        if not _DOMAIN.match(domain):
            raise ValueError(f"not a SIP domain: {domain!r}")
        if not _USER.match(aor):
            raise ValueError(f"not a SIP user: {aor!r}")
        self.domain = domain
        self.aor = aor
        self.registrar_from = str(ipaddress.ip_address(registrar_from))
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.folder / "kamailio.cfg"

    @property
    def log_path(self) -> Path:
        return self.folder / "kamailio.log"

    @staticmethod
    def available() -> bool:
        return executable() is not None and module_folder() is not None

    def config(self, modules: Path) -> str:
        loads = "\n".join(f'loadmodule "{name}.so"' for name in MODULES)
        return f"""#!KAMAILIO
# Written by Podium at each start (rooms/phone/front.py); changes here are overwritten.
# The listen address is on the command line (-l udp:{self.host}:{self.port}).
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
disable_tcp=yes
disable_sctp=yes
auto_aliases=no
alias="{self.domain}"
dns=no
rev_dns=no
server_header="Server: Podium"
user_agent_header="User-Agent: Podium"
sip_warning=no

mpath="{modules}/"
{loads}

modparam("usrloc", "db_mode", 0)
modparam("usrloc", "use_domain", 0)
modparam("registrar", "min_expires", {MIN_EXPIRES})
modparam("registrar", "default_expires", {DEFAULT_EXPIRES})
modparam("registrar", "max_expires", {MAX_EXPIRES})
modparam("registrar", "append_branches", 0)
modparam("rr", "enable_full_lr", 1)
modparam("tm", "fr_timer", 8000)
modparam("tm", "fr_inv_timer", 60000)

request_route {{
	if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
	if (!sanity_check("17895", "7")) {{ xlog("L_WARN", "malformed $rm from $si:$sp\\n"); exit; }}

	# In-dialog requests (ACK, BYE, re-INVITE) follow the Record-Route, and only in calls this
	# front set up: nothing else is ever relayed anywhere.
	if (has_totag()) {{
		if (is_known_dlg() && loose_route()) {{ t_relay(); exit; }}
		if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
		sl_send_reply("404", "Not Here");
		exit;
	}}
	if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
	t_check_trans();

	if (is_method("OPTIONS")) {{ sl_send_reply("200", "OK"); exit; }}
	if (is_method("REGISTER")) {{
		# only our Janus registers, and only the dial-in address of record
		if ($si != "{self.registrar_from}" || $tU != "{self.aor}") {{
			xlog("L_WARN", "REGISTER for $tu from $si:$sp refused\\n");
			sl_send_reply("403", "Forbidden");
			exit;
		}}
		if (!save("location")) {{ sl_reply_error(); }}
		exit;
	}}
	if (!is_method("INVITE")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
	if (!uri==myself) {{
		xlog("L_INFO", "INVITE for $ru from $si:$sp refused: not our domain\\n");
		sl_send_reply("404", "Not Found");
		exit;
	}}

	# A dial-in call: keep what was dialled, hand the call to the registered handles.
	remove_hf("Route");
	remove_hf("{DIALED_HEADER}");
	append_hf("{DIALED_HEADER}: $ru\\r\\n");
	$var(dialed) = $ru;
	$ru = "sip:{self.aor}@{self.domain}";
	if (!lookup("location")) {{
		xlog("L_INFO", "INVITE for $var(dialed) from $si:$sp callid=$ci: no handle registered\\n");
		sl_send_reply("480", "Temporarily Unavailable");
		exit;
	}}
	dlg_manage();
	record_route();
	xlog("L_INFO", "INVITE for $var(dialed) from $si:$sp callid=$ci relayed to $ru $(branch(uri)[*])\\n");
	if (!t_relay()) {{ sl_reply_error(); }}
	exit;
}}
"""

    def start(self, timeout: float = 5.0) -> None:
        """Write the config and start Kamailio; returns once it answers OPTIONS on ``listen``.
        FrontUnavailable when Kamailio is missing, the address is taken (another Podium's front?),
        or it exits or stays silent (the log's tail is in the message)."""
        binary, modules = executable(), module_folder()
        if binary is None or modules is None:
            raise FrontUnavailable("kamailio is not installed (Debian package kamailio)")
        self._refuse_taken()
        run = self.folder / "run"
        run.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config(modules))
        host = f"[{self.host}]" if ":" in self.host else self.host
        command = [binary, "-f", str(self.config_path), "-l", f"udp:{host}:{self.port}"]
        command += ["-DD", "-E", "-m", "64", "-M", "8", "-Y", str(run)]
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stop() ends its children with it (killpg)
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise FrontUnavailable(f"kamailio exited with {code} at start:\n{self.log_tail()}")
            if ping(self.listen, 0.2):
                log.info("SIP front (kamailio) on %s for sip:%s@%s", self.listen, self.aor, self.domain)
                return
        self.stop()
        raise FrontUnavailable(f"kamailio did not answer on {self.listen} in time:\n{self.log_tail()}")

    def _refuse_taken(self) -> None:
        """A UDP port someone holds (another Podium's front, which binds with SO_REUSEADDR: a second
        Kamailio would bind it too, and take its calls): refuse before starting."""
        try:
            with socket.socket(_family(self.host), socket.SOCK_DGRAM) as sock:
                sock.bind((self.host, self.port))
        except OSError as exc:
            answers = " (a SIP server answers there)" if ping(self.listen, 0.5) else ""
            raise FrontUnavailable(f"{self.listen} is not available{answers}: {exc}") from exc

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to Kamailio's whole process group, again every half second (a child it was still
        forking when ``start`` returned misses the first one, and the attendant would wait for it
        for a minute), then SIGKILL after ``timeout``. Nothing is lost: its state is in memory."""
        process, self.process = self.process, None
        if process is None:
            return
        deadline = time.monotonic() + timeout
        # The attendant is not reaped before wait() returns: its group still names every child.
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
