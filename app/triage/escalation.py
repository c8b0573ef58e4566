"""Escalation rules: each one that fires adds a reason code; any reason means a human takes the ticket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from app.triage.policy import Policy
from app.triage.taxonomy import UNSURE
from app.triage.thread import OfferExchange
from app.triage.ticket import Ticket

ESCALATED_TAG = "ai_escalated"


@dataclass(frozen=True)
class Signals:
    intent: str
    confidence: float
    emotion: float
    customer_text: str  # redacted
    offer: OfferExchange | None
    customer_turns: int


def sticky_reason(ticket: Ticket) -> str | None:
    """A ticket a human owns stays with humans: escalated once, or answered by an agent."""
    if ESCALATED_TAG in ticket.tags:
        return "already_escalated"
    if ticket.has_human_agent_reply():
        return "human_agent_replied"
    return None


@lru_cache(maxsize=16)
def _anger_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


def reasons(signals: Signals, policy: Policy) -> list[str]:
    found: list[str] = []
    if signals.intent == UNSURE:
        if policy.escalate_out_of_scope:
            found.append("out_of_scope")
    elif signals.confidence < policy.low_confidence_below:
        found.append("low_confidence")
    if signals.intent in policy.escalate_intents:
        found.append(f"intent_{signals.intent}")
    pattern = _anger_pattern(policy.anger_words)
    if pattern and pattern.search(signals.customer_text):
        found.append("anger_words")
    if signals.emotion >= policy.emotion_at_least:
        found.append("angry_customer")
    if policy.escalate_offer_rejected and signals.offer and signals.offer.answer == "rejected":
        found.append("offer_rejected")
    if policy.max_customer_turns and signals.customer_turns >= policy.max_customer_turns:
        found.append("long_thread")
    return found
