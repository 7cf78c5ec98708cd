"""`podium` command: serve, db upgrade, admin provisioning, worker."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from podium.config import Settings, get_settings
from podium.kit.errors import DomainError

if TYPE_CHECKING:
    from podium.rooms.janus import LocalJanus
    from podium.streaming.rtmp import LocalRtmp


def _migrate(settings: Settings, *, progress: bool | None = False) -> None:
    """Apply the migrations; ``progress`` (None: when stderr is a terminal) shows each one on stderr."""
    from podium.kit.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if progress is False:
        upgrade(settings.resolved_database_url)
        return
    with _migration_progress(settings.resolved_database_url, progress):
        upgrade(settings.resolved_database_url)


@contextlib.contextmanager
def _migration_progress(url: str, enabled: bool | None) -> Iterator[None]:
    """A progress line over the pending migrations, moved by Alembic's "Running upgrade" log lines."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from podium.kit.db import make_engine
    from podium.kit.logs import ProgressLine
    from podium.kit.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(url))
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    applied = {r.revision for head in current for r in script.iterate_revisions(head, "base")}
    pending = sum(1 for r in script.walk_revisions() if r.revision not in applied)
    progress = ProgressLine("db upgrade", pending, enabled=enabled)
    done = 0

    class Steps(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            nonlocal done
            message = record.getMessage()
            if message.startswith("Running upgrade"):
                done += 1
                progress.step(done, message.rpartition(", ")[2])

    runner = logging.getLogger("alembic.runtime.migration")
    saved = runner.level, runner.propagate
    steps = Steps()
    runner.addHandler(steps)
    runner.setLevel(logging.INFO)
    runner.propagate = False
    try:
        progress.step(0, f"{pending} migration(s) to apply" if pending else "up to date")
        yield
    finally:
        runner.removeHandler(steps)
        runner.setLevel(saved[0])
        runner.propagate = saved[1]
        progress.close()


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with secrets masked in the access log (in every worker process too); JSON
    lines with ``PODIUM_LOG_FORMAT=json`` (kit/logs.py), the access lines then coming from the app."""
    from podium.kit.logs import log_config

    return log_config(_log_format())


def _access_lines_shown(log_level: str) -> bool:
    """Whether the access log's lines (level info) pass ``log_level``. When they do not, uvicorn is
    told so: it would otherwise work out each request's client and quoted path for a line dropped."""
    return log_level.lower() in ("trace", "debug", "info")


def _log_format() -> str:
    """``PODIUM_LOG_FORMAT`` (text when the settings do not load: the command then says why)."""
    try:
        return get_settings().log_format
    except ValueError:
        return "text"


def _metrics_across_workers(settings: Settings, workers: int) -> None:
    """Several server processes share the port, so a scrape of ``/metrics`` reaches any of them: each
    writes its counters under ``PROMETHEUS_MULTIPROC_DIR`` (emptied here, before they start) and the
    one that answers adds them all up (kit/metrics.py). Set by the operator, that directory is used
    as it is."""
    import os
    import shutil

    if workers < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = (settings.data_dir / "metrics").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _refuse(message: str) -> int:
    print(f"podium serve: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.workers < 1:
        return _refuse("--workers must be at least 1")
    if args.workers > 1 and not settings.redis_url:
        return _refuse(
            "--workers above 1 needs PODIUM_REDIS_URL: the processes share room events and presence "
            "through Redis (README, 'Several processes')"
        )
    _metrics_across_workers(settings, args.workers)  # before the app's modules load prometheus-client
    import uvicorn

    from podium.app import create_app

    _migrate(settings)
    if args.workers == 1:
        uvicorn.run(
            create_app(settings, serving=True),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=_log_config(),
            access_log=_access_lines_shown(args.log_level),
            proxy_headers=True,
        )
        return 0
    janus = _one_local_janus(settings)
    rtmp = _one_local_rtmp(settings)
    try:
        # Each worker process builds its own app from the same environment (create_app reads it).
        uvicorn.run(
            "podium.app:served_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=_log_config(),
            access_log=_access_lines_shown(args.log_level),
            proxy_headers=True,
        )
    finally:
        if rtmp is not None:
            rtmp.stop()
        if janus is not None:
            janus.stop()
    return 0


def _one_local_rtmp(settings: Settings) -> LocalRtmp | None:
    """With several worker processes, the RTMP server of lives (nginx-rtmp and its callbacks) runs
    once, here, and the workers know lives are available (PODIUM_RTMP=external)."""
    import os

    from podium.kit.db import make_engine, make_sessionmaker
    from podium.streaming.rtmp import start_rtmp

    if settings.rtmp != "local":
        return None
    # Callbacks and the supervisor's recoveries use this engine for the life of the process; their
    # webhooks and recordings wait for the workers' next poll (no dispatcher here).
    server = start_rtmp(settings, make_sessionmaker(make_engine(settings.resolved_database_url)))
    os.environ["PODIUM_RTMP"] = "external" if server is not None else "off"
    return server


def _one_local_janus(settings: Settings) -> LocalJanus | None:
    """With several worker processes, the embedded Janus is started once, here, and every worker
    uses it as an external instance (one Janus per worker would split a room's people between them).
    None when Janus is external, off or not installed (the workers then do as configured)."""
    import os

    from podium.rooms.janus import JanusUnavailable, LocalJanus

    if settings.janus != "local" or settings.janus_url or settings.janus_instances:
        return None
    if not LocalJanus.available():
        return None
    janus = LocalJanus(settings.data_dir.resolve(), sip=settings.sip_plugin, sip_ip=settings.sip_local_ip)
    try:
        endpoint = janus.start()
    except JanusUnavailable as exc:
        # As one process does when its Janus does not start: rooms without media, not N Januses.
        logging.getLogger(__name__).error("janus did not start: %s", exc)
        os.environ["PODIUM_JANUS"] = "off"
        return None
    os.environ.update(
        PODIUM_JANUS_URL=endpoint.api_url,
        PODIUM_JANUS_ADMIN_URL=endpoint.admin_url,
        PODIUM_JANUS_ADMIN_SECRET=endpoint.admin_secret,
        PODIUM_JANUS_ROOM_ADMIN_KEY=endpoint.room_admin_key,
    )
    return janus


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    _migrate(get_settings(), progress=True if args.progress else None)
    print(json.dumps({"status": "ok"}))
    return 0


def cmd_worker(_args: argparse.Namespace) -> int:
    from podium.app import ServerDispatcher
    from podium.domain.media.worker import MediaWorker
    from podium.domain.outbox.worker import OutboxWorker
    from podium.kit.db import make_engine, make_sessionmaker
    from podium.rooms.hub import RoomHub

    settings = get_settings()
    _migrate(settings)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    worker = OutboxWorker(settings, sessions)
    transcoder = MediaWorker(settings, sessions)
    # No browsers connect to this process: with PODIUM_REDIS_URL its jobs' room events reach the
    # servers' browsers through the bus; without it they reach none (one server process delivers its
    # own workers' events). Queued mail and media wake these workers.
    hub = RoomHub.for_settings(settings) if settings.redis_url else None
    worker.dispatcher = transcoder.dispatcher = ServerDispatcher(hub, worker, transcoder)
    transcoder.start()

    def stop(*_: object) -> None:
        transcoder.stop()
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        worker.run_forever()
    transcoder.stop()
    return 0


def _admin(work: Callable[[Any, Settings], dict[str, object]]) -> int:
    """Run one admin step (given the session and settings) in its own transaction; print its JSON."""
    from podium.kit.db import make_engine, make_sessionmaker

    settings = get_settings()
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                result = work(session, settings)
                session.commit()
            except DomainError as error:
                session.rollback()
                print(json.dumps({"error": error.code, "message": error.message}), file=sys.stderr)
                return 2
    finally:
        engine.dispose()
    print(json.dumps(result))
    return 0


def _provision(work: Callable[[Any], dict[str, object]]) -> int:
    from podium.domain.tenancy.service import TenancyService

    return _admin(lambda session, settings: work(TenancyService(session, settings)))


def cmd_bootstrap(args: argparse.Namespace) -> int:
    return _provision(
        lambda tenancy: tenancy.bootstrap(
            reseller_name=args.reseller_name,
            company_name=args.company_name,
            subdomain=args.subdomain,
            admin_email=args.email,
        )
    )


def cmd_create_company(args: argparse.Namespace) -> int:
    return _provision(lambda tenancy: tenancy.provision_company(args.reseller_id, args.name, args.subdomain))


def cmd_create_reseller(args: argparse.Namespace) -> int:
    def work(tenancy: Any) -> dict[str, object]:
        reseller = tenancy.create_reseller(args.name, parent_id=args.parent_id, domain=args.domain)
        return {"reseller_id": reseller.id, "parent_id": reseller.parent_id, "domain": reseller.domain}

    return _provision(work)


def cmd_create_host(args: argparse.Namespace) -> int:
    from podium.models.tenancy import Role

    def work(tenancy: Any) -> dict[str, object]:
        host = tenancy.create_host(args.company_id, args.email, Role(args.role), name=args.name or "")
        return {
            "host_id": host.id,
            "company_id": host.company_id,
            "role": host.role.value,
            "access_code": host.access_code,
        }

    return _provision(work)


def cmd_create_api_token(args: argparse.Namespace) -> int:
    from podium.domain.auth.service import AuthService

    def work(session: Any, settings: Settings) -> dict[str, object]:
        issued = AuthService(session, settings).create_api_token(args.host_id)
        return {"api_token_id": issued.credential.id, "host_id": args.host_id, "api_token": issued.token}

    return _admin(work)


def cmd_revoke_api_token(args: argparse.Namespace) -> int:
    from podium.domain.auth.service import AuthService

    def work(session: Any, settings: Settings) -> dict[str, object]:
        credential = AuthService(session, settings).revoke_api_token(args.api_token_id)
        return {"api_token_id": credential.id, "revoked": True}

    return _admin(work)


def cmd_create_product(args: argparse.Namespace) -> int:
    from podium.domain.subscriptions.service import SubscriptionService
    from podium.models.subscription import Pricing

    def work(session: Any, _settings: Settings) -> dict[str, object]:
        product = SubscriptionService(session).create_product(
            args.reseller_id,
            slug=args.slug,
            name=args.name or args.slug,
            is_plan=args.kind == "plan",
            pricing=Pricing(args.pricing),
            price_cents=args.price_cents,
            description=args.description,
            features=[f for f in args.features.split(",") if f],
            is_default=args.default,
        )
        return {
            "product_id": product.id,
            "reseller_id": product.reseller_id,
            "slug": product.slug,
            "plan": product.is_plan,
            "pricing": product.pricing.value,
            "price_cents": product.price_cents,
            "features": product.features,
            "default": product.is_default,
        }

    return _admin(work)


def cmd_set_default_plan(args: argparse.Namespace) -> int:
    from podium.domain.subscriptions.service import SubscriptionService

    def work(session: Any, _settings: Settings) -> dict[str, object]:
        product = SubscriptionService(session).set_default_plan(args.reseller_id, args.slug)
        return {
            "product_id": product.id,
            "reseller_id": product.reseller_id,
            "slug": product.slug,
            "default": True,
        }

    return _admin(work)


def cmd_lock_host_limits(args: argparse.Namespace) -> int:
    from podium.domain.tenancy.companies import CompanyService

    def work(session: Any, settings: Settings) -> dict[str, object]:
        company = CompanyService(session, settings).set_host_limits_locked(args.company_id, not args.unlock)
        return {"company_id": company.id, "host_limits_locked": company.host_limits_locked}

    return _admin(work)


def cmd_create_oauth_client(args: argparse.Namespace) -> int:
    from podium.domain.auth.oauth import OAuthService

    def work(session: Any, settings: Settings) -> dict[str, object]:
        client, secret = OAuthService(session, settings).create_client(
            host_id=args.host_id,
            name=args.name,
            redirect_uris=args.redirect_uri or [],
            grant_types=args.grant_types.split(","),
            scopes=args.scopes.split(","),
            confidential=not args.public,
        )
        return {
            "client_id": client.client_id,
            "client_secret": secret,
            "host_id": client.host_id,
            "grant_types": client.grant_types,
            "scopes": client.scopes.split(),
            "redirect_uris": client.redirect_uris,
        }

    return _admin(work)


def cmd_create_chat_room(args: argparse.Namespace) -> int:
    from podium.domain.chat.service import ChatService

    def work(session: Any, _settings: Settings) -> dict[str, object]:
        room = ChatService(session).create_room(args.company_id, args.kind, slug=args.slug, name=args.name)
        return {"id": room.id, "company_id": room.company_id, "kind": room.kind, "slug": room.slug}

    return _admin(work)


def cmd_create_webhook(args: argparse.Namespace) -> int:
    from podium.domain.webhooks.service import WebhookService

    def work(session: Any, settings: Settings) -> dict[str, object]:
        endpoint = WebhookService(session).create(
            args.company_id,
            args.url,
            args.events.split(","),
            allow_private=settings.webhook_private_networks,
        )
        return {
            "id": endpoint.id,
            "company_id": endpoint.company_id,
            "url": endpoint.url,
            "events": endpoint.events,
            "style": endpoint.style,
            "signing_token": endpoint.signing_token,
        }

    return _admin(work)


def cmd_list_webhooks(args: argparse.Namespace) -> int:
    from podium.domain.webhooks.service import WebhookService

    def work(session: Any, _settings: Settings) -> dict[str, object]:
        service = WebhookService(session)
        return {
            "webhooks": [
                {
                    "id": e.id,
                    "url": e.url,
                    "events": e.events,
                    "deliveries": [
                        {
                            "event": d.event,
                            "attempt": d.attempt,
                            "status_code": d.status_code,
                            "succeeded": d.succeeded,
                            "error": d.error,
                            "at": d.created_at.isoformat(),
                        }
                        for d in service.deliveries(args.company_id, e.id)
                    ],
                }
                for e in service.list(args.company_id)
            ]
        }

    return _admin(work)


def cmd_delete_webhook(args: argparse.Namespace) -> int:
    from podium.domain.webhooks.service import WebhookService

    def work(session: Any, _settings: Settings) -> dict[str, object]:
        WebhookService(session).delete(args.company_id, args.id)
        return {"id": args.id, "deleted": True}

    return _admin(work)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database and run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on the port (above 1 needs PODIUM_REDIS_URL; an embedded Janus is "
        "started once and shared)",
    )
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    upgrade = db.add_parser("upgrade", help="apply every migration")
    upgrade.add_argument(
        "--progress",
        action="store_true",
        help="show each migration on stderr even when it is not a terminal (on a terminal: always)",
    )
    upgrade.set_defaults(func=cmd_db_upgrade)

    commands.add_parser(
        "worker", help="deliver the outbox (email, webhooks, jobs) and transcode media in this process"
    ).set_defaults(func=cmd_worker)

    admin = commands.add_parser("admin", help="provisioning; prints one JSON object").add_subparsers(
        dest="admin_command", required=True
    )
    bootstrap = admin.add_parser(
        "bootstrap", help="a reseller, a company and a RESELLER_ADMIN with credentials"
    )
    bootstrap.add_argument("--reseller-name", default="Default reseller")
    bootstrap.add_argument("--company-name", default="Default company")
    bootstrap.add_argument("--subdomain", default=None, help="default: a free 'company-N'")
    bootstrap.add_argument(
        "--email", default=None, help="admin email (default: admin-<random>@podium.invalid)"
    )
    bootstrap.set_defaults(func=cmd_bootstrap)

    company = admin.add_parser("create-company", help="another tenant under a reseller")
    company.add_argument("--reseller-id", type=int, required=True)
    company.add_argument("--name", required=True)
    company.add_argument("--subdomain", required=True)
    company.set_defaults(func=cmd_create_company)

    reseller = admin.add_parser("create-reseller", help="a reseller, optionally under another")
    reseller.add_argument("--name", required=True)
    reseller.add_argument("--parent-id", type=int, default=None)
    reseller.add_argument("--domain", default="")
    reseller.set_defaults(func=cmd_create_reseller)

    host = admin.add_parser("create-host", help="a host in a company (no welcome email)")
    host.add_argument("--company-id", type=int, required=True)
    host.add_argument("--email", required=True)
    host.add_argument("--name", default="")
    host.add_argument("--role", default="HOST", choices=["RESELLER_ADMIN", "COMPANY_ADMIN", "HOST"])
    host.set_defaults(func=cmd_create_host)

    token = admin.add_parser("create-api-token", help="another Iotum API token for an admin host (rotation)")
    token.add_argument("--host-id", type=int, required=True)
    token.set_defaults(func=cmd_create_api_token)
    revoke = admin.add_parser("revoke-api-token", help="end an Iotum API token and its sessions")
    revoke.add_argument("--api-token-id", type=int, required=True)
    revoke.set_defaults(func=cmd_revoke_api_token)

    product = admin.add_parser("create-product", help="a plan or add-on in a reseller's catalogue")
    product.add_argument("--reseller-id", type=int, required=True)
    product.add_argument("--slug", required=True)
    product.add_argument("--name", default="")
    product.add_argument("--kind", choices=["plan", "add-on"], required=True)
    product.add_argument("--pricing", choices=["flat", "per_host"], default="flat")
    product.add_argument("--price-cents", type=int, default=0)
    product.add_argument("--description", default="")
    product.add_argument(
        "--features",
        default="",
        help="comma-separated: recording,video_recording,"
        "transcription,one_time_access_code,sip_gateway,streaming",
    )
    product.add_argument(
        "--default",
        action="store_true",
        help="make this plan the catalogue's default product (else the catalogue's first plan is)",
    )
    product.set_defaults(func=cmd_create_product)

    default_plan = admin.add_parser(
        "set-default-plan",
        help="the plan new companies are subscribed to when none is named (company/create, bootstrap)",
    )
    default_plan.add_argument("--reseller-id", type=int, required=True)
    default_plan.add_argument("--slug", required=True)
    default_plan.set_defaults(func=cmd_set_default_plan)

    lock = admin.add_parser(
        "lock-host-limits", help="make host-limit overruns fail instead of raising the limit"
    )
    lock.add_argument("--company-id", type=int, required=True)
    lock.add_argument("--unlock", action="store_true")
    lock.set_defaults(func=cmd_lock_host_limits)

    oauth = admin.add_parser("create-oauth-client", help="register an OAuth 2 application acting for a host")
    oauth.add_argument("--host-id", type=int, required=True)
    oauth.add_argument("--name", required=True)
    oauth.add_argument("--redirect-uri", action="append")
    oauth.add_argument("--grant-types", default="client_credentials")
    oauth.add_argument("--scopes", default="read,write")
    oauth.add_argument("--public", action="store_true", help="a public client (PKCE, no secret)")
    oauth.set_defaults(func=cmd_create_oauth_client)

    room = admin.add_parser("create-chat-room", help="a company's chat channel (by slug) or DM room (by id)")
    room.add_argument("--company-id", type=int, required=True)
    room.add_argument("--kind", choices=["channel", "dm"], default="channel")
    room.add_argument("--slug", default=None)
    room.add_argument("--name", default="")
    room.set_defaults(func=cmd_create_chat_room)

    hook = admin.add_parser(
        "create-webhook", help="a webhook endpoint of a company (prints its signing token)"
    )
    hook.add_argument("--company-id", type=int, required=True)
    hook.add_argument("--url", required=True)
    hook.add_argument(
        "--events",
        required=True,
        help="comma-separated: Iotum events (conference_start,conference_end …, JSON) or Boomstream ones "
        "(media.created,media.completed,media.failed,screenshots.completed,ppv.bought, form-encoded)",
    )
    hook.set_defaults(func=cmd_create_webhook)
    hooks = admin.add_parser("list-webhooks", help="a company's webhook endpoints with their delivery log")
    hooks.add_argument("--company-id", type=int, required=True)
    hooks.set_defaults(func=cmd_list_webhooks)
    unhook = admin.add_parser("delete-webhook", help="remove a webhook endpoint")
    unhook.add_argument("--company-id", type=int, required=True)
    unhook.add_argument("--id", type=int, required=True)
    unhook.set_defaults(func=cmd_delete_webhook)
    return parser


def main(argv: list[str] | None = None) -> int:
    from podium.kit.logs import configure

    configure(_log_format())
    args = build_parser().parse_args(argv)
    if getattr(args, "subdomain", "") is None:
        import secrets

        args.subdomain = f"company-{secrets.token_hex(3)}"
    if getattr(args, "email", "") is None:
        import secrets

        args.email = f"admin-{secrets.token_hex(4)}@podium.invalid"
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
