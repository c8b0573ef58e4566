"""How hard a ticket is for the offline engine (0..1), and which tier answers it: local, cheap or strong.

The score is a weighted sum of what the local decision already knows: low calibrated confidence, out of
scope, frustration, a long thread, and a risky intent. One threshold per tier turns it into a tier; the
strong threshold is calibrated on labelled tickets (`triage calibrate`) for a target share of strong calls.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.triage.decision import Decision
from app.triage.taxonomy import UNSURE
from app.triage.ticket import Ticket

TIERS: tuple[str, ...] = ("local", "cheap", "strong")
TIER_TAG_PREFIX = "ai_llm_"
ESCALATED_TAG = "ai_escalated"  # the engine's tag for a ticket handed to humans (app.triage.escalation)


@dataclass(frozen=True)
class Weights:
    uncertainty: float = 0.55  # 1 - calibrated confidence
    out_of_scope: float = 0.15
    emotion: float = 0.10
    length: float = 0.10
    intent_risk: float = 0.10
    long_thread_chars: int = 1500
    long_thread_turns: int = 4


@dataclass(frozen=True)
class Thresholds:
    cheap: float = 0.15
    strong: float = 0.45


def difficulty(
    confidence: float,
    *,
    out_of_scope: bool = False,
    emotion: float = 0.0,
    chars: int = 0,
    customer_turns: int = 1,
    risky_intent: bool = False,
    weights: Weights = Weights(),
) -> float:
    length = max(min(1.0, chars / weights.long_thread_chars), min(1.0, max(0, customer_turns - 1) / weights.long_thread_turns))
    score = (
        weights.uncertainty * (1.0 - min(max(confidence, 0.0), 1.0))
        + weights.out_of_scope * float(out_of_scope)
        + weights.emotion * min(max(emotion, 0.0), 1.0)
        + weights.length * length
        + weights.intent_risk * float(risky_intent)
    )
    return round(min(1.0, max(0.0, score)), 4)


def ticket_difficulty(ticket: Ticket, decision: Decision, risky_intents: frozenset[str], weights: Weights = Weights()) -> float:
    """Difficulty over the whole thread: every customer message counts toward length and turns."""
    customer = ticket.customer_comments
    return difficulty(
        decision.confidence,
        out_of_scope=decision.intent == UNSURE,
        emotion=decision.emotion_score,
        chars=len(ticket.subject) + sum(len(c.body) for c in customer),
        customer_turns=max(1, len(customer)),
        risky_intent=decision.intent in risky_intents,
        weights=weights,
    )


def tier_for(score: float, thresholds: Thresholds) -> str:
    if score >= thresholds.strong:
        return "strong"
    if score >= thresholds.cheap:
        return "cheap"
    return "local"


def previous_tier(tags: tuple[str, ...]) -> str:
    """The highest tier this ticket was already routed to (our tag on it), or strong once escalated."""
    if ESCALATED_TAG in tags:
        return "strong"
    seen = [t.removeprefix(TIER_TAG_PREFIX) for t in tags if t.startswith(TIER_TAG_PREFIX)]
    ranked = [TIERS.index(t) for t in seen if t in TIERS]
    return TIERS[max(ranked)] if ranked else "local"


@dataclass(frozen=True)
class TierChoice:
    tier: str
    difficulty: float
    why: str
    budget_capped: bool = False


def choose_tier(score: float, thresholds: Thresholds, tags: tuple[str, ...], budget_exhausted: bool) -> TierChoice:
    """Difficulty picks the tier; a spent budget moves it one tier down; a ticket never goes below the tier
    it was already escalated to (a follow-up on a hard thread is still hard)."""
    tier = tier_for(score, thresholds)
    why = f"difficulty {score:.2f}"
    capped = False
    if budget_exhausted and tier != "local":
        tier = TIERS[TIERS.index(tier) - 1]
        why += ", monthly budget reached"
        capped = True
    floor = previous_tier(tags)
    if TIERS.index(floor) > TIERS.index(tier):
        tier = floor
        why += f", kept at {floor} (escalated before)"
    return TierChoice(tier, score, why, capped)
