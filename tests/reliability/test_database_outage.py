"""The database is locked or down while webhooks arrive: 503 (with Retry-After) inside the sender's
~10 s timeout, no row and no broker message for it; the sender's retry then makes one delivery, one note."""
from __future__ import annotations

import sqlite3
import time

import pytest

from app.config import load_settings
from app.supervisor import free_port
from app.web import create_app
from tests.conftest import TEST_SECRET

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

RERUN = "pytest tests/reliability/test_database_outage.py"


def test_locked_sqlite_answers_503_in_time_and_writes_nothing(make_stack, redis_server) -> None:  # noqa: ANN001
    stack = make_stack(redis_server.url)
    tickets = stack.add_tickets(20)
    queue = redis_server.client()
    started = time.monotonic()
    for ticket_id in tickets[:10]:
        assert stack.send(ticket_id) == 202
    # Another process holds SQLite's write lock (a long migration, a backup, a stuck writer).
    holder = sqlite3.connect(stack.settings.database_url.split("///", 1)[1], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        queued_before = queue.llen("celery")
        t0 = time.monotonic()
        body, headers = stack.webhook(tickets[10])
        response = stack.client.post("/webhooks/zendesk", data=body, headers=headers)
        waited = time.monotonic() - t0
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert response.json["error"] == "unavailable"
        assert waited < 9, f"503 after {waited:.1f}s: later than the helpdesk's webhook timeout"
        assert queue.llen("celery") == queued_before  # nothing enqueued for it
    finally:
        holder.rollback()
        holder.close()
    assert str(tickets[10]) not in {d.ticket_id for d in stack.deliveries()}  # nothing half-written
    for ticket_id in tickets[10:]:  # the sender retries
        assert stack.send(ticket_id) == 202
    stack.start_worker(concurrency=2)
    stack.wait_settled(20, timeout=90)
    tally = stack.tally("SQLite locked during intake", "20 tickets; 1 webhook while locked, then retried",
                        "another connection holds BEGIN EXCLUSIVE", started, RERUN, detail={"503_after_seconds": round(waited, 2)})
    assert (tally.written_once, tally.lost, tally.duplicated) == (20, 0, 0)
    assert len(stack.deliveries()) == 20


def test_unreachable_postgres_answers_503(var_dir, redis_server) -> None:  # noqa: ANN001
    # A real driver against a closed loopback port: the database server is down.
    settings = load_settings(VAR_DIR=var_dir, DATABASE_URL=f"postgresql://triage:pw@127.0.0.1:{free_port()}/triage",
                             REDIS_URL=redis_server.url, ZENDESK_WEBHOOK_SECRET=TEST_SECRET, HELPDESK="sandbox", LOG_FORMAT="console")
    app = create_app(settings)
    from app.webhooks.signature import zendesk_headers

    body = b'{"ticket_id":"77","event":"created"}'
    response = app.test_client().post("/webhooks/zendesk", data=body, headers=zendesk_headers(TEST_SECRET, body))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert redis_server.client().llen("celery") == 0
