"""Several server processes on one PostgreSQL and one Redis (issue #17, ADR 0007).

Real `podium serve` processes share the database, a Redis and one Janus; participants are signaling
WebSocket clients that take a browser's path (lobby ticket, ``POST /rooms/enter``, hello) without the
browser. A participant on one process sees presence, chat, mute, removal, admission from the
waiting room and the end of the meeting caused on another; a ``kill -9``'d process's participants
vanish from the others' presence (their departure recorded once) and its visitor reconnects to the
survivor, keeping its media token; a queued job (a webhook) is delivered once although both processes
run an outbox worker; ``podium serve --workers 2`` shares one Janus and one presence, and refuses to
start without Redis.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from podium.rooms.janus import LocalJanus
from tests.fixtures.processes import free_port, podium_env, podium_json, run_podium, start_server
from tests.fixtures.receiver import receiver
from tests.fixtures.rooms import in_room, wait_for
from tests.fixtures.waiting import wait_until

DATABASE_URL = os.environ.get("PODIUM_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL")
needs_cluster = pytest.mark.skipif(
    not (DATABASE_URL and REDIS_URL),
    reason="several processes need PostgreSQL and Redis: PODIUM_TEST_DATABASE_URL and "
    "PODIUM_TEST_REDIS_URL are unset (`make test` sets both in its PostgreSQL pass)",
)
PUBLIC_URL = "http://podium.test"


@dataclass
class Cluster:
    env: dict[str, str]
    janus: LocalJanus
    servers: list[tuple[subprocess.Popen[bytes], str]]
    account: tuple[str, str]  # LiveMinutes AccountSid / AuthToken of the test's company
    company_id: int
    host_id: int
    iotum_token: str

    def base(self, index: int) -> str:
        return self.servers[index][1]

    def start(self) -> str:
        """One more `podium serve` on the same database, Redis and Janus."""
        process, base = start_server(self.env)
        # Its log goes to a pipe: read it, or a full pipe would block the server mid-request.
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        self.servers.append((process, base))
        return base

    def meeting(self, key: str, **data: str) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.post(
            f"{self.base(0)}/liveminutes/createMeeting",
            data={"meetingKey": key, "hostid": "h1", "title": key, **data},
            auth=self.account,
        ).json()
        assert answer["resultcode"] == 1, answer
        return answer

    def participant(self, key: str, puid: str, nickname: str) -> str:
        answer = httpx.post(
            f"{self.base(0)}/liveminutes/addParticipant",
            data={"meetingKey": key, "puid": puid, "nickname": nickname},
            auth=self.account,
        ).json()
        assert answer["resultcode"] == 1, answer
        return str(answer["participantUrl"])

    def participant_status(self, key: str, puid: str) -> str:
        answer = httpx.post(
            f"{self.base(0)}/liveminutes/getParticipantStatus",
            data={"meetingKey": key, "puid": puid},
            auth=self.account,
        ).json()
        return str(answer["status"])

    def janus_tokens(self) -> set[str]:
        endpoint = self.janus.endpoint
        assert endpoint is not None
        answer = httpx.post(
            endpoint.admin_url,
            json={"janus": "list_tokens", "transaction": "t", "admin_secret": endpoint.admin_secret},
        ).json()
        return {t["token"] for t in answer["data"]["tokens"]}


# The servers' last log lines, shown when a wait on them times out.
LOG_TAIL: collections.deque[str] = collections.deque(maxlen=60)


def _drain(process: subprocess.Popen[bytes]) -> None:
    if process.stderr is not None:
        for line in process.stderr:
            LOG_TAIL.append(f"[{process.pid}] {line.decode(errors='replace').rstrip()}")


def on(base: str, link: str) -> str:
    """A join link (made with the public URL) opened through one particular process."""
    return link.replace(PUBLIC_URL, base)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not LocalJanus.available():
        pytest.fail("janus is not installed: `make test` installs Debian's janus package")
    data_dir = tmp_path_factory.mktemp("multiprocess")
    janus = LocalJanus(data_dir / "shared-janus")
    endpoint = janus.start()
    env = podium_env(
        data_dir,
        PODIUM_REDIS_URL=str(REDIS_URL),
        PODIUM_PUBLIC_URL=PUBLIC_URL,
        PODIUM_SECRET_KEY=secrets.token_urlsafe(32),
        PODIUM_JANUS_URL=endpoint.api_url,
        PODIUM_JANUS_ADMIN_URL=endpoint.admin_url,
        PODIUM_JANUS_ADMIN_SECRET=endpoint.admin_secret,
        PODIUM_JANUS_ROOM_ADMIN_KEY=endpoint.room_admin_key,
        PODIUM_RUN_MEDIA_WORKER="false",
        PODIUM_TRANSCRIBER="off",
        PODIUM_WEBHOOK_PRIVATE_NETWORKS="true",
        PODIUM_GUARD_ENABLED="false",
        # Rooms only: several servers on one machine would each want an RTMP server on one port.
        PODIUM_RTMP="off",
    )
    tenant = podium_json(env, "admin", "bootstrap")  # migrates the database first
    cluster = Cluster(
        env,
        janus,
        [],
        (str(tenant["liveminutes_account_sid"]), str(tenant["liveminutes_auth_token"])),
        int(str(tenant["company_id"])),
        int(str(tenant["host_id"])),
        str(tenant["iotum_api_token"]),
    )
    try:
        # Both at once (the bootstrap migrated the database, so neither migrates anything).
        with ThreadPoolExecutor(2) as starting:
            list(starting.map(lambda _: cluster.start(), range(2)))
        yield cluster
    finally:
        stuck = []
        for process, base in cluster.servers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    stuck.append(base)
        janus.stop()
        assert not stuck, f"podium serve did not stop on SIGTERM within 30 s: {stuck}"


def send(socket: ClientConnection, **message: Any) -> None:
    socket.send(json.dumps(message))


def wait_left(socket: ClientConnection, key: str, timeout: float = 15) -> None:
    """Until ``socket`` hears that connection ``key`` left."""
    deadline = time.monotonic() + timeout
    while (message := wait_for(socket, "left", timeout=max(0.1, deadline - time.monotonic())))["participant"][
        "id"
    ] != key:
        assert time.monotonic() < deadline, message


@needs_cluster
def test_a_room_spans_two_processes(cluster: Cluster) -> None:
    first, second = cluster.base(0), cluster.base(1)
    meeting = cluster.meeting("spans")
    with in_room(first, on(first, meeting["hostUrl"])) as (host, host_welcome):
        host_id = host_welcome["you"]["id"]
        with in_room(second, on(second, meeting["meetingUrl"]), name="Gus") as (guest, guest_welcome):
            guest_id = guest_welcome["you"]["id"]
            # Presence is one view: the guest (process 2) is welcomed with the host (process 1) ...
            assert [p["id"] for p in guest_welcome["participants"]] == [host_id, guest_id]
            # ... and the host hears the guest arrive.
            assert wait_for(host, "joined")["participant"] == {
                "id": guest_id,
                "name": "Gus",
                "role": "guest",
                "waiting": False,
            }
            # Chat both ways.
            send(guest, type="chat", text="hello from two")
            assert wait_for(host, "chat") == {
                "type": "chat",
                "from": "Gus",
                "text": "hello from two",
                "system": False,
            }
            assert wait_for(guest, "chat")["text"] == "hello from two"  # the sender's own echo
            send(host, type="chat", text="hello from one")
            assert wait_for(guest, "chat")["from"] == "Host"
            # The host's moderator commands reach the guest's socket on the other process.
            send(host, type="mute", id=guest_id)
            assert wait_for(guest, "muted") == {"type": "muted", "by": "Host"}
            send(host, type="remove", id=guest_id)
            assert wait_for(guest, "removed") == {"type": "removed", "by": "Host"}
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    guest.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
            wait_left(host, guest_id)
            # A command aimed at nobody (the removed guest) is a user error.
            send(host, type="mute", id=guest_id)
            assert wait_for(host, "error")["message"] == "No such participant"

        # The meeting ends from process 1 (a committed room event): process 2's visitor is told and
        # closed, and the media room is destroyed once.
        with in_room(second, on(second, meeting["meetingUrl"]), name="Ida") as (late, _):
            send(host, type="end")
            assert wait_for(late, "ended") == {"type": "ended"}
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    late.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


@needs_cluster
def test_a_moderator_admits_a_visitor_waiting_on_another_process(cluster: Cluster) -> None:
    first, second = cluster.base(0), cluster.base(1)
    token = httpx.post(
        f"{first}/enterprise_api/authenticate", json={"api_token": cluster.iotum_token}
    ).json()["auth_token"]

    def iotum(path: str, **body: Any) -> dict[str, Any]:
        answer = httpx.post(f"{first}/enterprise_api/{path}", json={"auth_token": token, **body})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    iotum("host/update", host_id=cluster.host_id, waiting_room=True)
    live = iotum("conference/create/reservationless", host_id=cluster.host_id)
    room_url = on(second, live["room_url"])
    with in_room(second, room_url, name="Walk-in") as (guest, guest_welcome):
        assert guest_welcome["you"]["waiting"] is True
        wait_for(guest, "waiting")
        moderator_url = on(first, f"{live['room_url']}?moderator_token={live['moderator_token']}")
        with in_room(first, moderator_url, name="Mod") as (moderator, _):
            # The moderator (process 1) learns of the visitor knocking on process 2 ...
            knock = wait_for(moderator, "knocking")["participant"]
            assert knock == {**guest_welcome["you"], "name": "Walk-in", "waiting": True}
            # ... and admits it there: the visitor gets its media token, everyone sees it join.
            send(moderator, type="admit", id=knock["id"])
            admitted = wait_for(guest, "admitted")
            assert admitted["token"] in cluster.janus_tokens()
            assert wait_for(moderator, "joined")["participant"] == {**knock, "waiting": False}
            send(guest, type="chat", text="thanks")
            assert wait_for(moderator, "chat")["text"] == "thanks"


@needs_cluster
def test_a_killed_process_participants_vanish_and_its_visitor_reconnects(cluster: Cluster) -> None:
    survivor = cluster.base(0)
    doomed = cluster.start()
    doomed_process = cluster.servers[-1][0]
    meeting = cluster.meeting("killed")
    pat_link = cluster.participant("killed", "p1", "Pat")
    quinn_link = cluster.participant("killed", "p2", "Quinn")

    def enter(base: str, link: str) -> dict[str, Any]:
        page = httpx.get(on(base, link))
        ticket = page.text.split('data-ticket="', 1)[1].split('"', 1)[0]
        entered = httpx.post(f"{base}/rooms/enter", json={"ticket": ticket, "name": ""})
        assert entered.status_code == 200, entered.text
        answer: dict[str, Any] = entered.json()
        return answer

    sockets = contextlib.ExitStack()

    def hello(base: str, key: str) -> tuple[ClientConnection, dict[str, Any]]:
        socket = sockets.enter_context(connect(base.replace("http://", "ws://") + "/rooms/ws"))
        send(socket, type="hello", version=1, key=key)
        welcome: dict[str, Any] = json.loads(socket.recv(timeout=10))
        assert welcome["type"] == "welcome", welcome
        return socket, welcome

    with sockets, in_room(survivor, on(survivor, meeting["hostUrl"])) as (host, _):
        pat_seat, quinn_seat = enter(doomed, pat_link), enter(doomed, quinn_link)
        pat, pat_welcome = hello(doomed, pat_seat["socket_key"])
        quinn, quinn_welcome = hello(doomed, quinn_seat["socket_key"])
        old_pat, old_quinn = pat_welcome["you"]["id"], quinn_welcome["you"]["id"]
        assert wait_for(host, "joined")["participant"]["id"] == old_pat
        assert wait_for(host, "joined")["participant"]["id"] == old_quinn
        assert {pat_seat["token"], quinn_seat["token"]} <= cluster.janus_tokens()
        assert cluster.participant_status("killed", "p1") == "10"

        doomed_process.send_signal(signal.SIGKILL)
        doomed_process.wait(timeout=10)
        for socket in (pat, quinn):
            with pytest.raises(ConnectionClosed):
                while True:
                    socket.recv(timeout=10)
        # Pat's page reconnects at once, to the surviving process, with the seat it had.
        # Its new connection takes over the seat: the old one leaves everyone's presence at once.
        pat, back = hello(survivor, pat_welcome["key"])  # the key its last welcome gave
        assert [p["name"] for p in back["participants"]] == ["Host", "Quinn", "Pat"]
        assert wait_for(host, "joined")["participant"]["name"] == "Pat"
        started = time.monotonic()
        assert wait_for(host, "left")["participant"]["id"] == old_pat
        # Quinn does not come back: the dead process's connection leaves everyone's presence within
        # seconds (its heartbeat expired), once, with its departure recorded.
        assert wait_for(host, "left", timeout=15)["participant"]["id"] == old_quinn
        assert time.monotonic() - started < 10
        # The departure is told first, then recorded and the media token revoked (the sweeping
        # process's transaction, just after; on a loaded machine that can take seconds).
        wait_until(lambda: cluster.participant_status("killed", "p2") == "11", 20, "Quinn recorded as quit")
        assert cluster.participant_status("killed", "p1") == "10"  # Pat is back
        # Quinn's media token is revoked; Pat's is kept (Pat's media never stopped).
        try:
            wait_until(
                lambda: quinn_seat["token"] not in cluster.janus_tokens(), 20, "Quinn's media token revoked"
            )
        except AssertionError as timeout:
            raise AssertionError(f"{timeout}; the servers' last lines:\n" + "\n".join(LOG_TAIL)) from None
        assert pat_seat["token"] in cluster.janus_tokens()
        # The meeting carries on across the survivor.
        send(pat, type="chat", text="still here")
        assert wait_for(host, "chat")["text"] == "still here"
        send(pat, type="leave")
        pat.close()
        wait_left(host, back["you"]["id"])
    assert cluster.participant_status("killed", "p1") == "11"


@needs_cluster
def test_a_queued_job_runs_once_with_two_processes(cluster: Cluster) -> None:
    with receiver() as hooks:
        run_podium(
            cluster.env,
            "admin",
            "create-webhook",
            "--company-id",
            str(cluster.company_id),
            "--url",
            hooks.url,
            "--events",
            "conference_created",
        )
        # Each create is answered by one process or the other; both run an outbox worker.
        keys = [f"once-{n}" for n in range(6)]
        for n, key in enumerate(keys):
            answer = httpx.post(
                f"{cluster.base(n % 2)}/liveminutes/createMeeting",
                data={"meetingKey": key, "hostid": "h1", "title": key},
                auth=cluster.account,
            ).json()
            assert answer["resultcode"] == 1, answer
        deadline = time.monotonic() + 20
        while len(hooks.requests) < len(keys) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # time for a duplicate to arrive, were there one
        conferences = [json.loads(r.body["payload"])["conference_id"] for r in hooks.requests]
        assert len(conferences) == len(keys) == len(set(conferences))
        assert {r.body["event"] for r in hooks.requests} == {"conference_created"}


@needs_cluster
def test_serve_with_two_workers_shares_one_janus_and_one_presence(cluster: Cluster, tmp_path: Path) -> None:
    """`podium serve --workers 2`: uvicorn's worker processes on one port (the kernel picks the worker
    of each connection); the embedded Janus is started once by the parent and shared; whichever worker
    a socket lands on, presence is one."""
    env = {k: v for k, v in cluster.env.items() if not k.startswith("PODIUM_JANUS")}
    env["PODIUM_DATA_DIR"] = str(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            assert server.poll() is None and time.monotonic() < deadline, "serve --workers 2 did not start"
            time.sleep(0.2)
        meeting = cluster.meeting("workers")
        with contextlib.ExitStack() as stack:
            host, host_welcome = stack.enter_context(in_room(base, on(base, meeting["hostUrl"])))
            names: list[str] = []
            # Guests arrive until the two workers each hold some of the room's sockets (the presence
            # in Redis names the process of each).
            while len(names) < 4 or len(_processes_of(host_welcome["you"]["id"])) < 2:
                assert len(names) < 16, "every socket landed on one worker"
                names.append(f"Guest {len(names) + 1}")
                room = on(base, meeting["meetingUrl"])
                _, welcome = stack.enter_context(in_room(base, room, name=names[-1]))
                assert [p["name"] for p in welcome["participants"]] == ["Host", *names]
                assert wait_for(host, "joined")["participant"]["name"] == names[-1]
        # One Janus for both workers, the parent's (a worker that had its own would not find the
        # room another made, and its visitors' /rooms/enter would fail).
        assert (tmp_path / "janus" / "janus.jcfg").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _processes_of(key: str) -> set[str]:
    """The server processes holding the sockets of the room where connection ``key`` is."""
    client = redis.Redis.from_url(str(REDIS_URL), decode_responses=True)
    try:
        for room in client.scan_iter("podium:presence:room:*"):
            members = client.hgetall(room)
            if key in members:
                return {json.loads(m)["process"] for m in members.values()}
        return set()
    finally:
        client.close()


def test_several_workers_need_redis(tmp_path: Path) -> None:
    env = podium_env(tmp_path)
    env.pop("PODIUM_REDIS_URL", None)
    refused = run_podium(env, "serve", "--workers", "2", check=False)
    assert refused.returncode == 2
    assert "PODIUM_REDIS_URL" in refused.stderr
