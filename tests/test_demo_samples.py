"""The 36 demo tickets (written by the team, with the decision a support lead expects) through the engine.

A floor, not a golden copy: it fails when a change makes the demo visibly worse.
"""
from __future__ import annotations

from app import triage
from app.demo.runner import sample_tickets
from app.triage.ticket import Comment, Ticket


def test_demo_tickets_meet_the_expected_decisions() -> None:
    models, policy = triage.load_models(), triage.load_policy()
    samples = sample_tickets()
    intents = escalations = 0
    for sample in samples:
        ticket = Ticket(
            provider="sandbox",
            id=sample["id"],
            subject=sample["subject"],
            comments=tuple(
                Comment(id=str(i), author_role=c["author_role"], body=c["body"]) for i, c in enumerate(sample["comments"])
            ),
            requester_name=sample["requester"]["name"],
            requester_locale=sample["requester"].get("locale", ""),
            tags=tuple(sample.get("tags", [])),
        )
        decision = triage.run(ticket, models, policy)
        intents += decision.intent == sample["expected"]["intent"]
        escalations += decision.escalate == sample["expected"]["escalate"]
    assert len(samples) == 36
    # Measured 2026-11-28: 31/36 intents, 29/36 escalation decisions as expected; 2026-12-02, with the
    # transformer reading from the most telling sentence (app/triage/focus.py): 30/36 and 28/36 (one address
    # change now reads as "other"; 56.5% -> 90.2% on 400 Bitext queries behind a long courteous opening).
    assert intents >= 29, intents
    assert escalations >= 27, escalations
