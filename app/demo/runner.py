"""`triage demo`: migrate, start web + worker on the embedded default, replay sample tickets, print a table."""
from __future__ import annotations

import json
import sys
import time
import uuid
from importlib import resources

import requests
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from app.config import Settings
from app.db import session_factory
from app.models import Delivery, DeliveryStatus, Outcome
from app.supervisor import LocalStack
from app.webhooks.signature import zendesk_headers
from integrations.sandbox import SandboxHelpdesk


def sample_tickets() -> list[dict]:
    return json.loads(resources.files("app.demo").joinpath("sample_tickets.json").read_text(encoding="utf-8"))


def run_demo(settings: Settings, *, limit: int | None = None, serve: bool | None = None, timeout: float = 300.0) -> int:
    # Wide enough for the table even when the output is a pipe or a CI log.
    console = Console(width=None if sys.stdout.isatty() else 140)
    if settings.helpdesk_name != "sandbox":
        console.print("[red]triage demo runs on the sandbox helpdesk; unset ZENDESK_* (or set HELPDESK=sandbox).[/red]")
        return 2
    from app.cli import migrate

    migrate(settings)
    stack = LocalStack(settings)
    console.print("Starting web and worker (embedded Redis, SQLite) ...")
    started = time.monotonic()
    try:
        stack.start()
        console.print(f"  up in {time.monotonic() - started:.1f}s at {stack.base_url}")
        rows = replay_samples(settings, stack.base_url, console, limit=limit, timeout=timeout)
        print_table(console, rows)
        admin = settings.ADMIN_TOKEN or settings.local_secret("admin_token")
        console.print(
            f"\nWhere to look next:\n"
            f"  sandbox helpdesk (tickets, internal notes): {stack.base_url}/sandbox\n"
            f"  admin dashboard (deliveries, replay):       {stack.base_url}/admin?token={admin}\n"
            f"  metrics: {stack.base_url}/metrics   logs: {stack.log_dir}/web.log, {stack.log_dir}/worker.log\n"
            f"  database: {settings.database_url}"
        )
        failed = [r for r in rows if r["status"] not in (DeliveryStatus.DONE, DeliveryStatus.SKIPPED)]
        if serve if serve is not None else sys.stdin.isatty():
            console.print("\nServing until Ctrl-C ...")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        else:
            console.print("(stopped; run `triage serve` to browse the sandbox again)")
        return 1 if failed else 0
    finally:
        stack.stop()


def replay_samples(settings: Settings, base_url: str, console: Console, *, limit: int | None, timeout: float) -> list[dict]:
    sessions = session_factory(settings.database_url)
    desk = SandboxHelpdesk(sessions)
    samples = sample_tickets()[: limit or None]
    secret = settings.webhook_secret
    sent: list[dict] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        send_task = progress.add_task("webhooks sent", total=len(samples))
        for sample in samples:
            requester = sample.get("requester", {})
            ticket_id = desk.create_ticket(
                subject=sample["subject"],
                comments=sample["comments"],
                requester_name=requester.get("name", ""),
                requester_email=requester.get("email", ""),
                requester_locale=requester.get("locale", ""),
                tags=sample.get("tags", []),
            )
            body = json.dumps({"ticket_id": str(ticket_id), "event": "created", "subject": sample["subject"]}).encode()
            headers = zendesk_headers(secret, body, account_id="sandbox", invocation_id=str(uuid.uuid4()))
            response = requests.post(f"{base_url}/webhooks/zendesk", data=body, headers=headers, timeout=10)
            if response.status_code != 202:
                raise RuntimeError(f"webhook for ticket {ticket_id} answered {response.status_code}: {response.text}")
            sent.append({"sample": sample, "ticket_id": str(ticket_id), "delivery_id": response.json()["delivery_id"], "sent_at": time.time()})
            progress.advance(send_task)
        done_task = progress.add_task("tickets triaged", total=len(sent))
        deadline = time.monotonic() + timeout
        pending = {s["delivery_id"]: s for s in sent}
        while pending and time.monotonic() < deadline:
            with sessions() as session:
                finished = session.execute(
                    select(Delivery.id, Delivery.status, Delivery.finished_at).where(
                        Delivery.id.in_(list(pending)), Delivery.status.in_(DeliveryStatus.FINAL)
                    )
                ).all()
            for delivery_id, status, _finished in finished:
                pending.pop(delivery_id)["done_at"] = time.time()
                progress.advance(done_task)
            time.sleep(0.2)
    return _rows(sessions, sent)


def _rows(sessions, sent: list[dict]) -> list[dict]:
    rows = []
    with sessions() as session:
        for item in sent:
            delivery = session.get(Delivery, item["delivery_id"])
            outcome = session.scalar(select(Outcome).where(Outcome.delivery_id == item["delivery_id"]))
            rows.append(
                {
                    "ticket": item["ticket_id"],
                    "subject": item["sample"]["subject"],
                    "status": delivery.status if delivery else "missing",
                    "intent": outcome.intent if outcome else "",
                    "confidence": outcome.confidence if outcome else 0.0,
                    "priority": outcome.priority if outcome else "",
                    "queue": outcome.queue if outcome else "",
                    "escalated": outcome.escalated if outcome else False,
                    "language": (outcome.decision or {}).get("language", "") if outcome else "",
                    # Webhook received -> note written, both stamped by the server.
                    "seconds": (
                        (delivery.finished_at - delivery.received_at).total_seconds()
                        if delivery and delivery.finished_at
                        else time.time() - item["sent_at"]
                    ),
                    "error": delivery.error if delivery else "",
                }
            )
    return rows


def print_table(console: Console, rows: list[dict]) -> None:
    table = Table(title="Triage of the sample tickets (sandbox helpdesk)")
    for column in ("ticket", "subject", "lang", "intent", "confidence", "priority", "queue", "escalated", "seconds"):
        table.add_column(column, justify="right" if column in ("confidence", "seconds") else "left")
    for row in rows:
        if row["status"] not in (DeliveryStatus.DONE, DeliveryStatus.SKIPPED):
            table.add_row(row["ticket"], row["subject"][:38], "", f"[red]{row['status']}[/red]", "", "", "", "", f"{row['seconds']:.2f}")
            continue
        table.add_row(
            row["ticket"],
            row["subject"][:38],
            row["language"],
            row["intent"],
            f"{row['confidence']:.2f}",
            row["priority"],
            row["queue"],
            "[bold red]yes[/bold red]" if row["escalated"] else "no",
            f"{row['seconds']:.2f}",
        )
    console.print(table)
    done = [r for r in rows if r["status"] == DeliveryStatus.DONE]
    escalated = sum(1 for r in done if r["escalated"])
    console.print(
        f"{len(done)}/{len(rows)} triaged and written back, {escalated} escalated to a human; "
        f"median {sorted(r['seconds'] for r in rows)[len(rows) // 2]:.2f}s webhook-to-note."
    )
    for row in rows:
        if row["error"]:
            console.print(f"[red]ticket {row['ticket']}: {row['error'][:200]}[/red]")
