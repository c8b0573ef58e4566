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
    customer_text: str  # redacted subject and customer messages
    offer: OfferExchange | None
    customer_turns: int
    mood_text: str = ""  # what angry wording is looked for in ("" = customer_text); see pipeline.run


def sticky_reason(ticket: Ticket) -> str | None:
    """A ticket a human owns stays with humans: escalated once, or answered by an agent."""
    if ESCALATED_TAG in ticket.tags:
        return "already_escalated"
    if ticket.has_human_agent_reply():
        return "human_agent_replied"
    return None


def unspaced(word: str) -> bool:
    """Japanese and Chinese run words together: a phrase there has no word boundary to match on."""
    return any("\u3040" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in word)


@lru_cache(maxsize=32)
def words_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of `words`, on word boundaries (except in unspaced scripts), ignoring case."""
    if not words:
        return None
    spaced = [re.escape(w) for w in words if not unspaced(w)]
    anywhere = [re.escape(w) for w in words if unspaced(w)]
    parts = ([r"(?<!\w)(?:" + "|".join(spaced) + r")(?!\w)"] if spaced else []) + anywhere
    return re.compile("|".join(parts), re.IGNORECASE)


def reasons(signals: Signals, policy: Policy) -> list[str]:
    found: list[str] = []
    if signals.intent == UNSURE:
        if policy.escalate_out_of_scope:
            found.append("out_of_scope")
    elif signals.confidence < policy.low_confidence_below:
        found.append("low_confidence")
    if signals.intent in policy.escalate_intents:
        found.append(f"intent_{signals.intent}")
    for rule in policy.phrase_rules:  # legal threats, account takeovers: before mood, they set the queue
        pattern = words_pattern(rule.words)
        if pattern and pattern.search(signals.customer_text) and rule.reason not in found:
            found.append(rule.reason)
    pattern = words_pattern(policy.anger_words)
    if pattern and pattern.search(signals.mood_text or signals.customer_text):
        found.append("anger_words")
    if signals.emotion >= policy.emotion_at_least:
        found.append("angry_customer")
    if policy.escalate_offer_rejected and signals.offer and signals.offer.answer == "rejected":
        found.append("offer_rejected")
    if policy.escalate_offer_accepted and signals.offer and signals.offer.answer == "accepted":
        found.append("offer_accepted")  # a person must now do it: ship, refund, credit
    if policy.max_customer_turns and signals.customer_turns >= policy.max_customer_turns:
        found.append("long_thread")
    return found
