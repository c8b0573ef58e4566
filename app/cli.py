"""The `triage` command: demo, serve, migrate, replay, sweep, deliveries, and the model commands."""
from __future__ import annotations

import argparse
import sys
import time

from app.config import PROJECT_ROOT, ConfigError, Settings, load_settings


def alembic_config(database_url: str):  # noqa: ANN201 - alembic is imported only when migrating
    """The Alembic configuration for the project's migrations against one database."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def migrate(settings: Settings) -> None:
    """alembic upgrade head (what the Procfile's `release` process runs)."""
    from alembic import command

    command.upgrade(alembic_config(settings.database_url), "head")


def _enqueue(delivery_id: int) -> None:
    from workers.tasks import enqueue

    enqueue(delivery_id)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo.runner import run_demo

    return run_demo(settings, limit=args.limit, serve=args.serve, timeout=args.timeout)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app.supervisor import LocalStack

    migrate(settings)
    stack = LocalStack(settings, port=args.port, web_workers=args.web_workers, worker_concurrency=args.concurrency)
    stack.start()
    print(f"web {stack.base_url}  (helpdesk: {settings.helpdesk_name}; logs in {stack.log_dir}); Ctrl-C to stop")
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        print("a process exited; see the logs", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    migrate(settings)
    print(f"database at head: {settings.database_url}")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from app.db import session_factory
    from app.models import Delivery, DeliveryStatus
    from app.replay import replay

    sessions = session_factory(settings.database_url)
    ids = list(args.delivery_ids)
    if args.failed:
        with sessions() as session:
            ids += session.scalars(select(Delivery.id).where(Delivery.status == DeliveryStatus.FAILED)).all()
    if not ids:
        print("nothing to replay (give DELIVERY_ID ... or --failed)")
        return 1
    status = 0
    for delivery_id in ids:
        if replay(sessions, delivery_id, _enqueue):
            print(f"delivery {delivery_id}: queued again")
        else:
            print(f"delivery {delivery_id}: not replayed (missing, or still in flight)", file=sys.stderr)
            status = 1
    return status


def cmd_sweep(_args: argparse.Namespace, settings: Settings) -> int:
    from app.db import session_factory
    from app.replay import sweep

    sent = sweep(
        session_factory(settings.database_url),
        _enqueue,
        stuck_seconds=settings.SWEEP_STUCK_SECONDS,
        lease_seconds=settings.DELIVERY_LEASE_SECONDS,
    )
    print(f"re-sent {len(sent)} deliveries {sent[:20]}")
    return 0


def cmd_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from app.db import session_factory
    from app.models import Delivery

    with session_factory(settings.database_url)() as session:
        query = select(Delivery).order_by(Delivery.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(Delivery.status == args.status)
        rows = session.scalars(query).all()
    table = Table()
    for column in ("id", "provider", "ticket", "event", "status", "attempts", "received", "error"):
        table.add_column(column)
    for d in rows:
        table.add_row(str(d.id), d.provider, d.ticket_id, d.event_kind, d.status, str(d.attempts), f"{d.received_at:%Y-%m-%d %H:%M:%S}", d.error[:80])
    Console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description="Support-ticket triage worker for Zendesk and Salesforce")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run sample tickets through the whole loop on the embedded default")
    demo.add_argument("--limit", type=int, default=None, help="replay only the first N sample tickets")
    demo.add_argument("--serve", action=argparse.BooleanOptionalAction, default=None,
                      help="keep serving the sandbox after the table (default: when run in a terminal)")
    demo.add_argument("--timeout", type=float, default=300.0)
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="run web + worker locally (what the Procfile runs)")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--web-workers", type=int, default=2)
    serve.add_argument("--concurrency", type=int, default=2)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)

    replay = sub.add_parser("replay", help="send parked or finished deliveries through triage again")
    replay.add_argument("delivery_ids", nargs="*", type=int, metavar="DELIVERY_ID")
    replay.add_argument("--failed", action="store_true", help="replay every parked (failed) delivery")
    replay.set_defaults(func=cmd_replay)

    sub.add_parser("sweep", help="re-send deliveries that stopped moving (also runs inside each worker)").set_defaults(
        func=cmd_sweep
    )

    from app.models import DeliveryStatus

    deliveries = sub.add_parser("deliveries", help="list recent deliveries")
    deliveries.add_argument("--status", choices=[*DeliveryStatus.CLAIMABLE, DeliveryStatus.PROCESSING, *DeliveryStatus.FINAL])
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.set_defaults(func=cmd_deliveries)

    # Commands owned by other areas (models, Salesforce doctor, LLM routing) plug in here.
    import importlib

    for module_name in ("app.cli_models", "app.cli_doctor", "app.cli_llm"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from app.logging import configure_logging

    configure_logging(settings)
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from app.triage.datasets import DatasetError

    try:
        return int(args.func(args, settings) or 0)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            print(f"error: the database ({settings.database_url.split('@')[-1]}) is not migrated: run `triage migrate`", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
