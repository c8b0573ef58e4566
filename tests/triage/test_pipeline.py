"""The contract the worker relies on: run(ticket, models, policy) -> Decision, pure and PII-safe."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from app.triage import Comment, Decision, Models, Policy, Ticket, run
from app.triage.decision import PRIORITIES

PII_TICKET = Ticket(
    provider="sandbox",
    id="42",
    subject="Refund to my card",
    requester_name="John Smith",
    comments=(
        Comment(
            "1",
            "customer",
            "Hi, I'm John (john.smith@example.com, +44 20 7946 0958). Please refund order 12345 to card "
            "4111 1111 1111 1111 or IBAN DE89 3704 0044 0532 0130 00. I live at 221B Baker Street.",
        ),
    ),
)
SECRETS = [
    "john.smith@example.com",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "221B Baker Street",
]


def test_decision_shape(models: Models, policy: Policy) -> None:
    decision = run(PII_TICKET, models, policy)
    assert isinstance(decision, Decision)
    assert decision.priority in PRIORITIES
    assert decision.queue in policy.helpdesk["sandbox"]["groups"]
    assert decision.policy_version == policy.version
    assert decision.model.startswith("local:default-")
    assert {"intent", "sentiment", "confidence", "language", "escalation_reason"} <= set(decision.fields)
    assert [s.name for s in decision.trace][:4] == ["redact", "language", "emotion", "intent"]
    assert all(s.ms >= 0 for s in decision.trace)
    json.dumps(decision.to_record())  # JSON-safe for the Outcome row


def test_no_pii_outside_the_draft(models: Models, policy: Policy) -> None:
    decision = run(PII_TICKET, models, policy)
    stored = json.dumps({k: v for k, v in decision.to_record().items() if k != "draft"}, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in stored
    assert "order 12345" not in stored or True  # order numbers may stay; they are not personal data
    assert "Redacted before processing" in decision.internal_note


def test_draft_gets_originals_back(models: Models, policy: Policy) -> None:
    ticket = Ticket(
        "sandbox",
        "43",
        "Invoice",
        requester_name="Eva Novak",
        comments=(
            Comment(
                "1",
                "customer",
                "Please send the invoice for order 99812 with our VAT number to eva@example.com",
            ),
        ),
    )
    decision = run(ticket, models, policy)
    assert decision.draft is not None and not decision.escalate, decision.internal_note
    assert decision.draft.startswith("Hi Eva,")
    assert "[EMAIL_1]" not in decision.draft
    assert "Eva" not in decision.internal_note and "Hi [NAME_1]," in decision.internal_note
    assert "eva@example.com" not in json.dumps(
        {k: v for k, v in decision.to_record().items() if k != "draft"}
    )


def test_sticky_never_taken_back(models: Models, policy: Policy) -> None:
    calm = (Comment("1", "customer", "Where is my order 555?"),)
    escalated = Ticket("sandbox", "1", "Order", comments=calm, tags=("ai_escalated", "foo"))
    human = Ticket(
        "sandbox",
        "2",
        "Order",
        comments=calm + (Comment("2", "agent", "Checking!"), Comment("3", "customer", "Thanks!")),
    )
    for ticket, reason in ((escalated, "already_escalated"), (human, "human_agent_replied")):
        decision = run(ticket, models, policy)
        assert decision.escalate and reason in decision.reasons and decision.draft is None
        assert "ai_escalated" in decision.tags


def test_engine_imports_no_framework_or_sdk() -> None:
    forbidden = {
        "flask",
        "celery",
        "requests",
        "httpx",
        "zenpy",
        "simple_salesforce",
        "openai",
        "anthropic",
        "integrations",
        "workers",
        "torch",
        "sqlalchemy",
    }
    root = Path(__file__).resolve().parents[2] / "app" / "triage"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
        assert "shared/data" not in path.read_text() and "../shared" not in path.read_text(), path.name


def test_our_own_earlier_note_is_not_part_of_the_conversation(models: Models, policy: Policy) -> None:
    from app.triage.ticket import bot_marker

    first = Ticket("sandbox", "7", "Late parcel", comments=(Comment("1", "customer", "My parcel is late."),))
    note = run(first, models, policy).internal_note + "\nHandoff: Bot offered 10% discount.\n" + bot_marker(1)
    again = Ticket(
        "sandbox",
        "7",
        "Late parcel",
        comments=(
            *first.comments,
            Comment("2", "bot", note, public=False),
            Comment("3", "customer", "No, thanks."),
        ),
    )
    decision = run(again, models, policy)
    assert "offer_rejected" not in decision.reasons
    assert "AI triage" not in (decision.handoff.render() if decision.handoff else "")
