"""Odd tickets never crash the engine or stall a worker."""

from __future__ import annotations

import time

import pytest

from app.triage import Comment, Models, Policy, Ticket, run
from app.triage.pii import redact


@pytest.mark.parametrize(
    "ticket",
    [
        Ticket("sandbox", "empty", ""),
        Ticket("sandbox", "subject-only", "Refund please"),
        Ticket("sandbox", "agent-only", "x", comments=(Comment("1", "agent", "Hello, how can we help?"),)),
        Ticket("sandbox", "bot-only", "", comments=(Comment("1", "bot", "We can offer a 10% discount."),)),
        Ticket("sandbox", "arabic", "طلب", comments=(Comment("1", "customer", "أين طلبي؟ لم يصل بعد"),)),
        Ticket("sandbox", "emoji", "🙂", comments=(Comment("1", "customer", "😡😡😡 !!!"),)),
        Ticket(
            "sandbox", "huge", "Order", comments=(Comment("1", "customer", "my order is late. " * 20000),)
        ),
    ],
    ids=lambda t: t.id,
)
def test_odd_tickets(ticket: Ticket, models: Models, policy: Policy) -> None:
    started = time.perf_counter()
    decision = run(ticket, models, policy)
    assert time.perf_counter() - started < 2.0
    assert decision.internal_note and decision.queue and decision.priority


@pytest.mark.parametrize("unit", ["123-", "a.", "1 ", "+1 ", "(12) ", "Calle ", "a@b."])
def test_redaction_stays_linear_on_pathological_text(unit: str) -> None:
    text = unit * (80_000 // len(unit))
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 1.0
