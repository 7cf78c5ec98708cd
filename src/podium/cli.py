"""`podium` command: serve, db upgrade, admin provisioning, worker."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import signal
import sys
from collections.abc import Callable
from typing import Any

from podium.config import Settings, get_settings
from podium.kit.errors import DomainError


class MaskSecretsInAccessLog(logging.Filter):
    """Access log lines carry query strings; API keys and join tokens must not reach the logs."""

    _SECRET = re.compile(r"((?:apikey|jwt|auth_token|api_token)=)[^&\s\"]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._SECRET.sub(r"\1xxx", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def _migrate(settings: Settings) -> None:
    from podium.kit.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from podium.app import create_app

    settings = get_settings()
    _migrate(settings)
    logging.getLogger("uvicorn.access").addFilter(MaskSecretsInAccessLog())
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, log_level=args.log_level, proxy_headers=True
    )
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    _migrate(get_settings())
    print(json.dumps({"status": "ok"}))
    return 0


def cmd_worker(_args: argparse.Namespace) -> int:
    from podium.domain.outbox.worker import OutboxWorker
    from podium.kit.db import make_engine, make_sessionmaker

    settings = get_settings()
    _migrate(settings)
    worker = OutboxWorker(settings, make_sessionmaker(make_engine(settings.resolved_database_url)))
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    with contextlib.suppress(KeyboardInterrupt):
        worker.run_forever()
    return 0


def _provision(work: Callable[[Any], dict[str, object]]) -> int:
    """Run one provisioning step in its own transaction and print its JSON result."""
    from podium.domain.tenancy.service import TenancyService
    from podium.kit.db import make_engine, make_sessionmaker

    settings = get_settings()
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                result = work(TenancyService(session))
                session.commit()
            except DomainError as error:
                session.rollback()
                print(json.dumps({"error": error.code, "message": error.message}), file=sys.stderr)
                return 2
    finally:
        engine.dispose()
    print(json.dumps(result))
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database and run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply every migration").set_defaults(func=cmd_db_upgrade)

    commands.add_parser("worker", help="deliver the outbox (email) in this process").set_defaults(
        func=cmd_worker
    )

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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
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
