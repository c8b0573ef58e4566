"""The internal note: what was decided and why, in the order an agent reads it. Redacted text only."""

from __future__ import annotations

from app.triage.decision import HandoffSummary
from app.triage.draft import Draft

REASON_TEXT: dict[str, str] = {
    "already_escalated": "already escalated earlier (sticky)",
    "human_agent_replied": "a human agent already answered (sticky)",
    "out_of_scope": "intent unclear / outside the known topics",
    "low_confidence": "intent confidence below the policy bar",
    "anger_words": "angry wording",
    "legal_threat": "legal threat (lawyer, court, chargeback)",
    "security_incident": "possible account takeover or fraud",
    "too_short": "too little text to tell what the customer needs",
    "angry_customer": "frustration score above the policy bar",
    "offer_rejected": "customer rejected what was offered",
    "offer_accepted": "customer accepted what was offered: a person carries it out",
    "long_thread": "long back-and-forth without resolution",
    "no_article": "no help-center article supports an answer",
}


def reason_text(code: str) -> str:
    if code.startswith("intent_"):
        return f"{code[len('intent_') :].replace('_', ' ')} tickets always go to a human"
    return REASON_TEXT.get(code, code)


def render(
    *,
    intent: str,
    confidence: float,
    sentiment: str,
    emotion: float,
    language: str,
    priority: str,
    priority_rule: str,
    queue: str,
    queue_why: str,
    reasons: list[str],
    handoff: HandoffSummary | None,
    draft: Draft | None,
    draft_redacted: str | None,
    notes: list[str],
    pii_counts: dict[str, int],
) -> str:
    head = "Escalated to a human" if reasons else "Bot can answer: reply draft below" if draft else "Nothing to answer"
    lines = [
        f"AI triage: {head}.",
        f"Intent: {intent} (confidence {confidence:.2f}) | Sentiment: {sentiment} "
        f"(frustration {emotion:.2f}) "
        f"| Language: {language}",
        f"Priority: {priority} (rule: {priority_rule}) | Queue: {queue} ({queue_why})",
    ]
    if reasons:
        lines.append("Escalation reasons: " + "; ".join(f"{c} = {reason_text(c)}" for c in reasons))
    if handoff:
        lines += ["", "Handoff summary: " + handoff.render()]
    if draft is not None and draft_redacted is not None:
        if draft.grounded and draft.article_id:
            cite = f'"{draft.article_title}" ({draft.article_id}, similarity {draft.score:.2f})'
        elif draft.grounded:
            cite = "none needed (the reply states no policy)"
        else:
            cite = "none"
        lines += [
            "",
            f"Cited article: {cite}",
            "Draft reply (personal data shown as placeholders):",
            draft_redacted,
        ]
    if pii_counts:
        lines.append(
            "Redacted before processing: "
            + ", ".join(f"{n} {k.lower()}{'s' if n > 1 else ''}" for k, n in sorted(pii_counts.items()))
        )
    lines += [f"Note: {n}" for n in notes]
    return "\n".join(lines)
