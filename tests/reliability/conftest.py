"""Fault-injection harness: the production web app, a real Redis, real Celery worker processes and the
Zendesk stand-in on loopback, plus a tally of what every ticket ended up with in the helpdesk.

Every scenario reports sent / written once / lost / duplicated through `record()`; the table is printed at
the end of the run and, with RELIABILITY_JSON=path, written as JSON (RELIABILITY.md is built from it).
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Delivery, DeliveryStatus
from app.webhooks.signature import zendesk_headers
from bench.mock_zendesk import MockServer
from tests.conftest import TEST_SECRET, WorkerProcess, make_settings, wait_for, worker_env
from tests.integration.test_webhook_to_put import zendesk  # noqa: F401  (the Zendesk stand-in fixture)

# Short leases and sweeps so a lost message or a dead worker is noticed in seconds, not minutes.
FAST_RECOVERY = {
    "DELIVERY_LEASE_SECONDS": "6",
    "SWEEP_INTERVAL_SECONDS": "1",
    "SWEEP_STUCK_SECONDS": "3",
    "RETRY_BACKOFF_MAX_SECONDS": "2",
    "ZENDESK_TIMEOUT_SECONDS": "1",
}

THREADS = [
    ("Where is my order?", "Hi, I ordered linen napkins (order #NW-48213) last week and it still says Preparing. When will it ship?"),
    ("Refund still not received", "Third time I'm asking for my refund!! Returned the lamp three weeks ago. This is ridiculous."),
    ("password reset", "i requested the reset link 3 times and nothing arrives. how do i get into my account"),
    ("Cancel my subscription", "Please cancel Northwind Plus, I keep getting charged every month."),
    ("Reembolso pendiente", "Hola, devolví la lámpara del pedido #NW-47102 hace tres semanas. ¿Cuándo recibiré el reembolso?"),
    ("Damaged item", "The vase arrived in pieces. I want a replacement sent today, I have a dinner on Friday."),
]
_MARKER = re.compile(r"\[ai-triage delivery=(\d+)\]")


@dataclass
class Tally:
    scenario: str
    load: str
    faults: str
    sent: int
    written_once: int
    lost: int
    duplicated: int
    parked_then_replayed: int = 0
    seconds: float = 0.0
    command: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


RESULTS: list[Tally] = []


def record(tally: Tally) -> Tally:
    RESULTS.append(tally)
    print(f"\n{tally.scenario}: sent={tally.sent} written_once={tally.written_once} lost={tally.lost} "
          f"duplicated={tally.duplicated} parked_then_replayed={tally.parked_then_replayed} ({tally.seconds:.1f}s)")
    return tally


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if not RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("reliability scenarios: sent / written once / lost / duplicated")
    for t in RESULTS:
        write(f"  {t.scenario:<48} {t.sent:>5} {t.written_once:>5} {t.lost:>4} {t.duplicated:>4}  {t.seconds:6.1f}s")
    target = os.environ.get("RELIABILITY_JSON")
    if target:
        Path(target).write_text(json.dumps([asdict(t) for t in RESULTS], indent=2) + "\n")


class Stack:
    """One deployment under test. `app` is the production Flask app (real Redis publish, real SQLite)."""

    def __init__(self, settings, zendesk: MockServer, redis_url: str, tmp: Path, env: dict[str, str]) -> None:  # noqa: ANN001
        from app.web import create_app

        self.settings = settings
        self.zendesk = zendesk
        self.redis_url = redis_url
        self.tmp = tmp
        self.env = env
        self.app = create_app(settings)
        self.client = self.app.test_client()
        self.workers: list[WorkerProcess] = []
        self.ticket_ids: list[int] = []

    # -- processes --------------------------------------------------------------------------------------
    def start_worker(self, concurrency: int = 2) -> WorkerProcess:
        env = worker_env(self.settings, self.redis_url, **self.env)
        worker = WorkerProcess(env, self.tmp / f"worker{len(self.workers)}.log", concurrency=concurrency).start()
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(w.log()[-2500:] for w in self.workers)

    # -- tickets and webhooks ---------------------------------------------------------------------------
    def add_tickets(self, count: int, first: int = 1000) -> list[int]:
        ids = list(range(first, first + count))
        for i, ticket_id in enumerate(ids):
            subject, body = THREADS[i % len(THREADS)]
            self.zendesk.desk.add_ticket(ticket_id, subject, [("customer", body)])
        self.ticket_ids.extend(ids)
        return ids

    def webhook(self, ticket_id: int, invocation: str = "") -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
        headers = zendesk_headers(TEST_SECRET, body, account_id="18525119", invocation_id=invocation or f"inv-{ticket_id}")
        return body, headers

    def send(self, ticket_id: int, invocation: str = "") -> int:
        body, headers = self.webhook(ticket_id, invocation)
        return self.client.post("/webhooks/zendesk", data=body, headers=headers).status_code

    # -- state ------------------------------------------------------------------------------------------
    def statuses(self) -> dict[str, int]:
        with self.app.config["SESSIONS"]() as session:
            return dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())

    def deliveries(self) -> list[Delivery]:
        with self.app.config["SESSIONS"]() as session:
            return list(session.scalars(select(Delivery).order_by(Delivery.id)).all())

    def settled(self, expected: int) -> bool:
        counts = self.statuses()
        final = sum(counts.get(s, 0) for s in DeliveryStatus.FINAL)
        return sum(counts.values()) >= expected and final == sum(counts.values())

    def wait_settled(self, expected: int, timeout: float = 120.0) -> None:
        wait_for(lambda: self.settled(expected), timeout, interval=0.25,
                 message=f"{expected} deliveries final; now {self.statuses()}\n{self.logs()}")

    def replay_parked(self) -> list[int]:
        from app.replay import replay

        parked = [d.id for d in self.deliveries() if d.status == DeliveryStatus.FAILED]
        for delivery_id in parked:
            assert replay(self.app.config["SESSIONS"], delivery_id, self.app.config["ENQUEUE"])
        return parked

    def tally(self, scenario: str, load: str, faults: str, started: float, command: str, **extra: Any) -> Tally:
        """Per ticket: how many notes carry our marker, and whether they all name one delivery."""
        desk = self.zendesk.desk
        by_ticket = {d.ticket_id: d for d in self.deliveries()}
        written_once = lost = duplicated = 0
        for ticket_id in self.ticket_ids:
            markers = [m.group(1) for note in desk.notes_for(ticket_id) for m in _MARKER.finditer(note)]
            delivery = by_ticket.get(str(ticket_id))
            if len(markers) == 1 and delivery is not None and markers[0] == str(delivery.id):
                written_once += 1
            elif not markers:
                lost += 1
            else:
                duplicated += 1
        return record(Tally(scenario, load, faults, len(self.ticket_ids), written_once, lost, duplicated,
                            seconds=time.monotonic() - started, command=command, **extra))

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def make_stack(var_dir, zendesk, tmp_path):  # noqa: ANN001, ANN201
    stacks: list[Stack] = []

    def build(redis_url: str, var: Path | None = None, **env: str) -> Stack:
        zendesk_env = {
            "HELPDESK": "zendesk", "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.test",
            "ZENDESK_API_TOKEN": "tok", "ZENDESK_BASE_URL": zendesk.url,
            # The stand-in has no plan limit; the shared budget is tested on its own.
            "ZENDESK_RATE_LIMIT_PER_MINUTE": "100000", **FAST_RECOVERY, **env,
        }
        settings = make_settings(var or var_dir, REDIS_URL=redis_url, **zendesk_env)
        stack = Stack(settings, zendesk, redis_url, tmp_path, zendesk_env)
        stacks.append(stack)
        return stack

    yield build
    for stack in stacks:
        stack.stop()
