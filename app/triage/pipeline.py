"""run(ticket, models, policy) -> Decision: the pure triage pipeline (no Flask, Celery, HTTP or SDKs).

Order matters: everything after `redact` sees only redacted text, so nothing that is stored or shown in
the note can carry the customer's personal data; the draft alone gets the originals back at the end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from app.triage import draft as drafting
from app.triage import escalation, focus, handoff, not_a_request, note, routing
from app.triage.bundle import Models
from app.triage.decision import Decision, HandoffSummary, Stage
from app.triage.pii import Redactor, placeholder_counts, restore
from app.triage.policy import Policy
from app.triage.taxonomy import UNSURE
from app.triage.thread import last_offer
from app.triage.ticket import Comment, Ticket, is_bot_note

T = TypeVar("T")
MAX_INTENT_CHARS = 1200
# Tokens of the ticket the transformer reads: the subject and the words from the customer's most telling
# sentence on carry the intent (app/triage/focus.py; on the demo tickets 32 tokens classified better than
# 64 or 128), and each token costs ~0.12 ms on one core.
TICKET_TOKENS = 32


class _Clock:
    """Collects one Stage per step for Decision.trace."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []

    def time(self, name: str, fn: Callable[[], T], detail: Callable[[T], str] = lambda _r: "") -> T:
        started = time.perf_counter()
        result = fn()
        self.stages.append(Stage(name, round((time.perf_counter() - started) * 1000, 3), detail(result)))
        return result


def _redact_ticket(ticket: Ticket) -> tuple[str, tuple[Comment, ...], Redactor]:
    """Redacted subject and thread. Our own earlier notes (they carry the bot marker) are left out: they
    are this engine's analysis, not the conversation, and their words ("Bot offered 10% discount")
    would otherwise read as an offer or a reply."""
    redactor = Redactor(known_names=(ticket.requester_name,))
    subject = redactor.redact(ticket.subject)
    comments = tuple(
        Comment(c.id, c.author_role, redactor.redact(c.body), c.public, "", c.created_at)
        for c in ticket.comments
        if not is_bot_note(c.body)
    )
    return subject, comments, redactor


def _intent_text(subject: str, customer: list[str]) -> str:
    """Subject + first customer message, plus the latest one when the thread moved on."""
    parts = [subject] + customer[:1] + (customer[-1:] if len(customer) > 1 else [])
    return "\n".join(p for p in parts if p).strip()[:MAX_INTENT_CHARS]


def _what_the_transformer_reads(models: Models, language: str) -> Callable[[str], str]:
    """Each text from its most telling sentence on (app/triage/focus.py), worked out once per text however
    many cascade stages embed it. English only: the TF-IDF head that picks the sentence learned its
    sureness mostly from English."""
    if language != "en":
        return lambda text: text

    def sureness(sentences: Sequence[str]) -> np.ndarray:
        return models.intent.predict(sentences, None).confidence

    seen: dict[str, str] = {}
    return lambda text: seen[text] if text in seen else seen.setdefault(text, focus.focused(text, sureness))


def _reading(embed: Callable[[Sequence[str]], np.ndarray], view: Callable[[str], str]) -> Callable[[Sequence[str]], np.ndarray]:
    return lambda texts: embed([view(t) for t in texts])


def _too_little_to_go_on(text: str) -> bool:
    """"help", "Hi", "?": one distinct word says nothing a model can classify, however sure it sounds
    (the calibrated heads still put 0.9 on some intent). Japanese and Chinese count a word per 2 characters."""
    words = {w for w in re.findall(r"\w+", text.lower()) if not w.isdigit()}
    return sum(max(1, len(w) // 2) if escalation.unspaced(w) else 1 for w in words) < 2


def run(ticket: Ticket, models: Models, policy: Policy) -> Decision:
    clock = _Clock()
    subject, comments, redactor = clock.time(
        "redact", lambda: _redact_ticket(ticket), lambda r: f"{len(r[2].mapping)} values"
    )
    customer = [c.body for c in comments if c.author_role == "customer"]
    customer_text = "\n".join(customer) or subject
    language, _lang_conf = clock.time(
        "language",
        lambda: models.language.detect(customer_text, ticket.requester_locale),
        lambda r: f"{r[0]} {r[1]:.2f}",
    )
    offer = last_offer(comments)
    # Anger anywhere in the last three customer messages counts: calm words later rarely undo it. Taking
    # what was offered does ("Yes please, that works"): then the latest message is the mood.
    accepted = offer is not None and offer.answer == "accepted" and comments[-1].author_role == "customer"
    mood_texts = customer[-1:] if accepted else (customer or [subject])[-3:]
    emotion = clock.time(
        "emotion",
        lambda: float(models.emotion.scores(mood_texts, english=language == "en").max()),
        lambda s: f"{s:.2f}",
    )
    sentiment = models.emotion.sentiment(
        emotion, customer[-1] if customer else subject, policy.emotion_at_least
    )

    intent_text = _intent_text(subject, customer)

    view = _what_the_transformer_reads(models, language)
    embed_ticket = {name: _reading(embed, view) for name, embed in models.embed_functions(max_tokens=TICKET_TOKENS).items()}

    # A ticket humans own keeps its routing from the fast head: no draft will be written, so the
    # transformer's extra accuracy buys nothing there.
    sticky = escalation.sticky_reason(ticket)
    prediction = clock.time(
        "intent",
        lambda: models.intent.predict(
            [intent_text],
            None if sticky else embed_ticket,
            languages=[models.intent_language.english_or_other(intent_text)] if models.intent_language else None,
        ),
        lambda p: f"{p.labels[0]} {p.confidence[0]:.2f} ({models.intent.stage_names[p.stage[0]]})",
    )
    confidence = float(prediction.confidence[0])
    intent = prediction.labels[0]
    too_short = _too_little_to_go_on(intent_text)
    if confidence < policy.unsure_below or intent in ("oos", UNSURE) or too_short:
        intent = UNSURE

    # The subject too: "Account hacked!" or "Chargeback" is often said there and nowhere else.
    signals = escalation.Signals(
        intent, confidence, emotion, f"{subject}\n{customer_text}", offer, len(customer), "\n".join(mood_texts)
    )
    reasons = clock.time(
        "escalation",
        lambda: ([sticky] if sticky else []) + escalation.reasons(signals, policy) + (["too_short"] if too_short else []),
        lambda r: ",".join(r) or "none",
    )

    noise = not_a_request.detect(subject, customer)
    if noise:  # only a human's own claim on the ticket still stands
        reasons = [r for r in reasons if r in ("already_escalated", "human_agent_replied")]
    notes: list[str] = []
    draft: drafting.Draft | None = None
    draft_redacted: str | None = None
    restored_draft: str | None = None
    if noise and not reasons:
        notes.append(noise.note)
    if not reasons and not noise:
        low_confidence = confidence < policy.low_confidence_below
        hits = clock.time(
            "retrieve",
            lambda: models.knowledge.search(
                models.static.embed([intent_text])[0], intent, confident=not low_confidence
            ),
            lambda h: f"{h[0].section.article.id} {h[0].score:.2f}" if h else "no articles",
        )
        draft = clock.time(
            "draft",
            lambda: drafting.compose(
                # The greeting uses the name's placeholder so the note's copy of the draft stays redacted.
                intent,
                hits,
                policy.min_article_score,
                redactor.redact(ticket.requester_name),
                policy.signature,
                needs_article=intent not in policy.no_article_intents,
                min_score_other_intent=policy.min_article_score_other_intent,
            ),
            lambda d: d.article_id or "ungrounded",
        )
        if not draft.grounded:
            reasons.append("no_article")
        if draft.dropped_money_promises:
            notes.append("Refund/credit wording left out of the draft: the cited article does not allow it.")
        draft_redacted = draft.text
        restored_draft = restore(draft.text, redactor.mapping)
        if language not in policy.draft_languages:
            notes.append(
                f"Customer wrote in '{language}'; the offline draft is in English: translate before sending."
            )

    escalate = bool(reasons)
    summary: HandoffSummary | None = None
    if escalate:
        summary = clock.time(
            "handoff",
            lambda: handoff.summarise(
                intent, sentiment, offer, reasons, emotion, comments, {r.reason: r.next_step for r in policy.phrase_rules}
            ),
            lambda s: s.issue,
        )
    has_native_draft = draft is not None and language in policy.draft_languages
    priority, priority_rule = routing.priority_for(policy, intent, emotion, escalate, reasons, language)
    if noise and not escalate:
        priority, priority_rule = "low", noise.tag
    queue, queue_why = routing.queue_for(policy, intent, escalate, language, has_native_draft, reasons)

    tags = [f"intent__{intent}", f"sentiment__{sentiment}", f"language__{language}"]
    if escalate:
        tags.append(escalation.ESCALATED_TAG)
    if draft is not None and not draft.grounded:
        tags.append("ai_no_article")
    if noise:
        tags.append(noise.tag)
    fields: dict[str, object] = {
        "intent": intent,
        "sentiment": sentiment,
        "confidence": round(confidence, 3),
        "language": language,
        "escalation_reason": ",".join(reasons),
    }
    internal_note = note.render(
        intent=intent,
        confidence=confidence,
        sentiment=sentiment,
        emotion=emotion,
        language=language,
        priority=priority,
        priority_rule=priority_rule,
        queue=queue,
        queue_why=queue_why,
        reasons=reasons,
        handoff=summary,
        draft=draft,
        draft_redacted=draft_redacted,
        notes=notes,
        pii_counts=placeholder_counts(redactor.mapping),
    )
    return Decision(
        intent=intent,
        confidence=round(confidence, 4),
        language=language,
        sentiment=sentiment,
        emotion_score=round(emotion, 4),
        priority=priority,  # type: ignore[arg-type]  # validated against PRIORITIES by the policy loader
        queue=queue,
        escalate=escalate,
        reasons=tuple(reasons),
        tags=tuple(tags),
        internal_note=internal_note,
        assignee=policy.assignee_for(intent, queue),
        fields=fields,
        draft=restored_draft,
        handoff=summary,
        trace=tuple(clock.stages),
        model=f"local:{models.version}",
        policy_version=policy.version,
    )
