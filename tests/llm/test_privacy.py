"""Only redacted text reaches external models: every outbound body of both providers, for a ticket full of PII."""
from __future__ import annotations

import json

from app.routing import build_router, refine
from app.routing.cost import MemorySpendCounter
from app.triage.ticket import Comment, Ticket
from tests.llm.conftest import Recorder, anthropic_message, make_decision, openai_chat

PII = {
    "email": "maria.lopez@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "address": "221B Baker Street",
    "first name": "Maria",
    "last name": "Lopez",
    "agent name": "Jonas",
}


def pii_ticket() -> Ticket:
    return Ticket(
        provider="zendesk",
        id="900",
        subject=f"Refund to {PII['iban']} please, Maria Lopez",
        requester_name="Maria Lopez",
        comments=(
            Comment("1", "customer", f"Hi, I'm Maria Lopez ({PII['email']}). Call me on {PII['phone']}. "
                    f"You charged my card {PII['card']} twice. I live at {PII['address']}, London.",
                    author_name="Maria Lopez"),
            Comment("2", "agent", "Hello Maria, we can offer a 10% discount. Jonas", author_name="Jonas Berg"),
            Comment("3", "customer", f"No thanks, refund to {PII['iban']} or email {PII['email']}. This is ridiculous!!",
                    author_name="Maria Lopez"),
        ),
    )


def test_no_pii_in_any_outbound_request(settings, policy):
    classify = {"intent": "refund_request", "priority": "high", "action": "escalate", "confidence": 0.9, "reason": "x"}
    summary = {"issue": "Double charge", "sentiment": "angry", "offered": "10% discount", "customer_answer": "rejected",
               "suggestion": "Refund the duplicate charge", "reason": "refund dispute"}
    openai_rec = Recorder(openai_chat(json.dumps(classify)), openai_chat(json.dumps(summary)))
    anthropic_rec = Recorder(anthropic_message(tool_input=classify), anthropic_message(tool_input=summary))
    local_draft = "Hi Maria, we will refund card 4111 1111 1111 1111 and write to maria.lopez@example.com."
    bodies: list[str] = []
    for recorder, tier in ((anthropic_rec, 0.2), (openai_rec, 0.99)):
        router = build_router(settings.model_copy(update={"LLM_STRONG_THRESHOLD": tier}), policy,
                              http_client=recorder.client(), spend=MemorySpendCounter())
        decision = refine(pii_ticket(), make_decision(confidence=0.5, emotion=0.2, draft=local_draft), router)
        assert recorder.requests, "the routed model was not called"
        assert decision.model != "local:test"
        bodies += [r.content.decode() for r in recorder.requests]
    assert len(bodies) == 4
    for body in bodies:
        text = json.loads(body)
        flat = json.dumps(text, ensure_ascii=False)
        for kind, value in PII.items():
            assert value.lower() not in flat.lower(), f"{kind} leaked: {value}"
            assert value.replace(" ", "") not in flat.replace(" ", ""), f"{kind} leaked without spaces"
    assert "[EMAIL_1]" in bodies[0] and "[CUSTOMER]" in bodies[0]
