"""The dial-in SIP front (rooms/phone/front.py, ADR 0014): a real Kamailio on a free loopback UDP port,
talked to with hand-built SIP over UDP. A "handle" socket registers as the dial-in address of record
(as Janus's SIP plugin handles do) and receives the calls rewritten to it, with what was dialled in
``X-Podium-Dialed``; the front is no open proxy, registers only our Janus, and dies cleanly."""

from __future__ import annotations

import random
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from podium.rooms.phone.front import FrontUnavailable, SipFront, ping

DOMAIN = "podium.test"


def free_udp_port() -> int:
    """A free loopback UDP port below the kernel's ephemeral range (32768 and up) and Janus's RTP
    ports (20000 and up): the sockets other tests open meanwhile do not land on it."""
    while True:
        port = random.randrange(10000, 20000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def start_front(folder: Path) -> SipFront:
    """A running front on a free port (another once if someone took that port in the meantime)."""
    for attempt in range(3):
        front = SipFront(f"127.0.0.1:{free_udp_port()}", DOMAIN, folder, registrar_from="127.0.0.1")
        try:
            front.start()
            return front
        except FrontUnavailable:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class Message:
    first: str
    headers: list[tuple[str, str]]
    source: tuple[str, int] = ("", 0)

    @property
    def status(self) -> int | None:
        parts = self.first.split(" ")
        return int(parts[1]) if parts[0] == "SIP/2.0" else None

    @property
    def method(self) -> str | None:
        return None if self.status is not None else self.first.split(" ")[0]

    @property
    def uri(self) -> str:
        return self.first.split(" ")[1]

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def get(self, name: str) -> str:
        values = self.all(name)
        assert len(values) == 1, (name, self.headers)
        return values[0]


def parse(data: bytes, source: tuple[str, int]) -> Message:
    head = data.decode().split("\r\n\r\n", 1)[0].split("\r\n")
    headers = [(key.strip(), value.strip()) for key, _, value in (line.partition(":") for line in head[1:])]
    return Message(head[0], headers, source)


def branch() -> str:
    return "z9hG4bK" + secrets.token_hex(6)


@dataclass
class Agent:
    """A bare SIP end on a loopback UDP socket of its own."""

    host: str = "127.0.0.1"
    sock: socket.socket = field(init=False)
    port: int = field(init=False)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, 0))
        self.port = self.sock.getsockname()[1]

    @property
    def contact(self) -> str:
        return f"sip:dialin@{self.host}:{self.port};transport=udp"

    def send(self, to: tuple[str, int], first: str, headers: list[tuple[str, str]]) -> None:
        lines = [first, *(f"{key}: {value}" for key, value in headers), "Content-Length: 0", "", ""]
        self.sock.sendto("\r\n".join(lines).encode(), to)

    def request(
        self,
        to: tuple[str, int],
        method: str,
        uri: str,
        *,
        call_id: str,
        to_uri: str | None = None,
        to_tag: str | None = None,
        cseq: int = 1,
        extra: list[tuple[str, str]] | None = None,
        from_uri: str = "sip:caller@example.net",
    ) -> None:
        self.send(
            to,
            f"{method} {uri} SIP/2.0",
            [
                ("Via", f"SIP/2.0/UDP {self.host}:{self.port};branch={branch()};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<{from_uri}>;tag=caller{call_id[:6]}"),
                ("To", f"<{to_uri or uri}>" + (f";tag={to_tag}" if to_tag else "")),
                ("Call-ID", call_id),
                ("CSeq", f"{cseq} {method}"),
                ("Contact", f"<sip:caller@{self.host}:{self.port}>"),
                *(extra or []),
            ],
        )

    def reply(self, request: Message, status: str, to_tag: str = "handle") -> None:
        """Answer ``request`` (to whoever sent it: the front) as a UAS does."""
        to = request.get("To") if ";tag=" in request.get("To") else f"{request.get('To')};tag={to_tag}"
        self.send(
            request.source,
            f"SIP/2.0 {status}",
            [
                *(("Via", via) for via in request.all("Via")),
                *(("Record-Route", rr) for rr in request.all("Record-Route")),
                ("From", request.get("From")),
                ("To", to),
                ("Call-ID", request.get("Call-ID")),
                ("CSeq", request.get("CSeq")),
                ("Contact", f"<{self.contact}>"),
            ],
        )

    def receive(self, want: Callable[[Message], bool], timeout: float = 3.0) -> Message:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                break
            message = parse(data, source)
            if want(message):
                return message
        raise AssertionError("no such SIP message arrived")

    def silent(self, want: Callable[[Message], bool], seconds: float = 0.5) -> bool:
        try:
            self.receive(want, seconds)
        except AssertionError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


def final(call_id: str, method: str = "INVITE") -> Callable[[Message], bool]:
    def match(message: Message) -> bool:
        return (
            message.status is not None
            and message.status >= 200
            and message.get("Call-ID") == call_id
            and message.get("CSeq").endswith(method)
        )

    return match


def arrives(method: str, call_id: str) -> Callable[[Message], bool]:
    return lambda message: message.method == method and message.get("Call-ID") == call_id


def register_handle(
    handle: Agent, front: tuple[str, int], *, aor: str = "dialin", expires: int = 60
) -> Message:
    """A REGISTER of ``aor`` as a Janus SIP plugin handle sends it: its own socket is the Contact."""
    call_id = secrets.token_hex(8)
    handle.send(
        front,
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        [
            ("Via", f"SIP/2.0/UDP {handle.host}:{handle.port};branch={branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{aor}@{DOMAIN}>;tag=reg"),
            ("To", f"<sip:{aor}@{DOMAIN}>"),
            ("Call-ID", call_id),
            ("CSeq", "1 REGISTER"),
            ("Contact", f"<{handle.contact}>"),
            ("Expires", str(expires)),
        ],
    )
    return handle.receive(final(call_id, "REGISTER"))


@pytest.fixture
def front(tmp_path: Path) -> Iterator[SipFront]:
    front = start_front(tmp_path / "front")
    yield front
    front.stop()


@pytest.fixture
def agents() -> Iterator[Callable[..., Agent]]:
    made: list[Agent] = []

    def make(host: str = "127.0.0.1") -> Agent:
        made.append(Agent(host))
        return made[-1]

    yield make
    for agent in made:
        agent.close()


def address(front: SipFront) -> tuple[str, int]:
    return (front.host, front.port)


def group_members(pgid: int) -> list[int]:
    """Processes of a process group that still run (zombies excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def test_the_front_answers_and_stops_with_all_its_processes(tmp_path: Path) -> None:
    front = start_front(tmp_path / "front")
    assert front.process is not None
    pid = front.process.pid
    assert front.alive() and ping(front.listen, 1.0)
    assert len(group_members(pid)) > 1  # the attendant and its children
    front.stop()
    assert not front.alive()
    assert group_members(pid) == []
    assert not ping(front.listen, 0.3)
    assert "kamailio" in front.log_path.read_text()
    front.stop()  # twice is harmless


def test_ping_is_false_where_nothing_answers() -> None:
    assert not ping(f"127.0.0.1:{free_udp_port()}", 0.3)


def test_an_invite_with_no_handle_registered_gets_480(front: SipFront, agents: Callable[..., Agent]) -> None:
    caller = agents()
    call_id = secrets.token_hex(8)
    caller.request(address(front), "INVITE", f"sip:12345-0@{DOMAIN}", call_id=call_id)
    assert caller.receive(final(call_id)).status == 480


def test_a_call_reaches_the_registered_handle_with_what_was_dialled(
    front: SipFront, agents: Callable[..., Agent]
) -> None:
    caller, handle = agents(), agents()
    answer = register_handle(handle, address(front), expires=3600)
    assert answer.status == 200
    assert "expires=300" in answer.get("Contact")  # registrations are kept short

    call_id = secrets.token_hex(8)
    dialled = f"sip:12345-0@{DOMAIN}"
    caller.request(address(front), "INVITE", dialled, call_id=call_id)
    invite = handle.receive(arrives("INVITE", call_id))
    assert invite.uri == handle.contact
    assert invite.all("X-Podium-Dialed") == [dialled]
    assert invite.get("To") == f"<{dialled}>"
    assert invite.all("Record-Route")

    # the handle answers; the caller's ACK and BYE follow the Record-Route through the front
    handle.reply(invite, "200 OK")
    ok = caller.receive(final(call_id))
    assert ok.status == 200
    route = [("Route", rr) for rr in ok.all("Record-Route")]
    remote, to_tag = ok.get("Contact").strip("<>"), ok.get("To").rpartition("tag=")[2]
    caller.request(address(front), "ACK", remote, call_id=call_id, to_uri=dialled, to_tag=to_tag, extra=route)
    handle.receive(arrives("ACK", call_id))
    caller.request(
        address(front), "BYE", remote, call_id=call_id, to_uri=dialled, to_tag=to_tag, cseq=2, extra=route
    )
    bye = handle.receive(arrives("BYE", call_id))
    handle.reply(bye, "200 OK")
    assert caller.receive(final(call_id, "BYE")).status == 200


def test_a_spoofed_dialled_header_is_replaced(front: SipFront, agents: Callable[..., Agent]) -> None:
    caller, handle = agents(), agents()
    assert register_handle(handle, address(front)).status == 200
    call_id = secrets.token_hex(8)
    caller.request(
        address(front),
        "INVITE",
        f"sip:777@{DOMAIN}",
        call_id=call_id,
        extra=[("X-Podium-Dialed", "evil"), ("Route", "<sip:203.0.113.9;lr>")],
    )
    invite = handle.receive(arrives("INVITE", call_id))
    assert invite.all("X-Podium-Dialed") == [f"sip:777@{DOMAIN}"]
    assert invite.all("Route") == []
    handle.reply(invite, "486 Busy Here")
    assert caller.receive(final(call_id)).status == 486


def test_the_front_is_no_open_proxy(front: SipFront, agents: Callable[..., Agent]) -> None:
    caller, handle, elsewhere = agents(), agents(), agents()
    assert register_handle(handle, address(front)).status == 200
    # an INVITE for another domain is refused, not relayed
    call_id = secrets.token_hex(8)
    caller.request(
        address(front), "INVITE", f"sip:+19005550100@{elsewhere.host}:{elsewhere.port}", call_id=call_id
    )
    assert caller.receive(final(call_id)).status == 404
    # an "in-dialog" request of no call of ours, routed through the front to somewhere else
    call_id = secrets.token_hex(8)
    me = f"sip:{front.host}:{front.port};lr"
    caller.request(
        address(front),
        "INVITE",
        f"sip:+19005550100@{elsewhere.host}:{elsewhere.port}",
        call_id=call_id,
        to_tag="made-up",
        extra=[("Route", f"<{me}>"), ("Route", f"<sip:{elsewhere.host}:{elsewhere.port};lr>")],
    )
    assert caller.receive(final(call_id)).status == 404
    # other methods
    call_id = secrets.token_hex(8)
    caller.request(address(front), "MESSAGE", f"sip:12345@{DOMAIN}", call_id=call_id)
    assert caller.receive(final(call_id, "MESSAGE")).status == 405
    assert elsewhere.silent(lambda message: True)
    assert handle.silent(lambda message: True, 0.1)


def test_only_our_janus_registers_and_only_the_dialin_address(
    front: SipFront, agents: Callable[..., Agent]
) -> None:
    local = agents()
    assert register_handle(local, address(front), aor="someone").status == 403
    try:
        stranger = agents("127.0.0.2")  # loopback is 127.0.0.0/8 on Linux
    except OSError as exc:
        pytest.skip(f"cannot bind 127.0.0.2 here ({exc}): the other source address is not testable")
    assert register_handle(stranger, address(front)).status == 403
    # so nothing is registered: a call finds no handle
    call_id = secrets.token_hex(8)
    local.request(address(front), "INVITE", f"sip:1@{DOMAIN}", call_id=call_id)
    assert local.receive(final(call_id)).status == 480


def test_a_second_front_on_the_same_address_is_refused(front: SipFront, tmp_path: Path) -> None:
    second = SipFront(front.listen, DOMAIN, tmp_path / "second", registrar_from="127.0.0.1")
    with pytest.raises(FrontUnavailable, match="not available"):
        second.start()
    assert not second.alive()
    assert ping(front.listen, 1.0)


def test_a_front_that_cannot_start_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SipFront, "config", lambda self, modules: 'loadmodule "nonexistent.so"\n')
    front = SipFront(f"127.0.0.1:{free_udp_port()}", DOMAIN, tmp_path / "bad", registrar_from="127.0.0.1")
    with pytest.raises(FrontUnavailable, match="exited") as raised:
        front.start()
    assert "nonexistent" in str(raised.value)
    assert not front.alive()


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    for listen, domain, source in (
        ("127.0.0.1", DOMAIN, "127.0.0.1"),
        ("0.0.0.0:5060", DOMAIN, "127.0.0.1"),  # Kamailio would put 0.0.0.0 in Via and Record-Route
        ("127.0.0.1:5060", 'x"; evil', "127.0.0.1"),
        ("127.0.0.1:5060", DOMAIN, "janus"),
    ):
        with pytest.raises(ValueError):
            SipFront(listen, domain, tmp_path, registrar_from=source)
