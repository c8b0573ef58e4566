"""Offline reply drafts: a template around the best help-center passage, citing the article.

Never an invented policy: without a passage above the policy's similarity bar the draft says a colleague
will follow up, and the ticket is flagged. A refund or credit is only mentioned when the cited article
`allows` it; otherwise sentences promising one are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.triage.handoff import topic_of
from app.triage.knowledge import Hit

_MONEY_PROMISE = re.compile(r"\b(?:refund|reimburs|credit|money back|compensat)\w*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Draft:
    text: str  # with placeholders; the pipeline restores PII in this text only
    article_id: str | None
    article_title: str | None
    score: float
    grounded: bool
    dropped_money_promises: int = 0


def _blocks(markdown: str) -> list[str]:
    """Paragraphs and bullet items as single lines: articles wrap lines, drafts must not cut sentences."""
    text = re.sub(r"\*\*?|__|`", "", markdown)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    blocks: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            blocks.append("")
            continue
        heading = re.match(r"^#{1,6}\s+(.*)", stripped)
        bullet = re.match(r"^(?:[-*]|\d+\.)\s+(.*)", stripped)
        if heading:  # a sub-heading inside the section: its words, as a line of their own
            title = heading.group(1).strip().rstrip(":")
            blocks.extend([f"{title}:", ""] if title else [])
        elif bullet:
            blocks.append("- " + bullet.group(1))
        elif blocks and blocks[-1]:
            blocks[-1] += " " + stripped
        else:
            blocks.append(stripped)
    return [b for b in blocks if b]


def _excerpt(text: str, allow_money: bool, limit: int = 700) -> tuple[str, int]:
    kept: list[str] = []
    dropped = 0
    size = 0
    for block in _blocks(text):
        bullet = block.startswith("- ")
        sentences = [s for s in _SENTENCE.split(block[2:] if bullet else block) if s.strip()]
        if not allow_money:
            clean = [s for s in sentences if not _MONEY_PROMISE.search(s)]
            dropped += len(sentences) - len(clean)
            sentences = clean
        if not sentences:
            continue
        if size + sum(map(len, sentences)) > limit:
            if kept:
                break
            # The first block alone is too long: keep whole sentences up to the limit.
            fitted: list[str] = []
            for sentence in sentences:
                if fitted and size + len(sentence) > limit:
                    break
                fitted.append(sentence)
                size += len(sentence)
            sentences = fitted
        piece = " ".join(sentences)
        kept.append(("- " if bullet else "") + piece)
        size += len(piece)
    return "\n".join(kept), dropped


def _grounds(hit: Hit, intent: str, min_score: float, min_score_other_intent: float) -> bool:
    if hit.via == "intent":
        return True
    bar = min_score if intent in hit.section.article.intents else min_score_other_intent
    return hit.score >= bar


def first_name(requester_name: str) -> str:
    name = requester_name.strip().split()
    return name[0] if name else ""


def compose(
    intent: str,
    hits: list[Hit],
    min_score: float,
    requester_name: str,
    signature: str,
    needs_article: bool = True,
    min_score_other_intent: float = 0.85,
) -> Draft:
    name = first_name(requester_name)
    greeting = f"Hi {name}," if name else "Hello,"
    # The agent-facing topic ("access to their account") said to the customer: "access to your account".
    topic = re.sub(r"\btheir\b", "your", topic_of(intent)).split(" (")[0]
    if not needs_article:
        # Thanks for feedback states no policy, so it needs no article to be grounded in.
        body = "Thank you for taking the time to write to us. I have passed your message on to the team."
        return Draft(f"{greeting}\n\n{body}\n\nBest regards,\n{signature}", None, None, 1.0, True)
    grounding = [h for h in hits if _grounds(h, intent, min_score, min_score_other_intent)]
    # A passage found by similarity beats the intent's default article; the intent's article beats nothing.
    grounding.sort(key=lambda h: h.via != "similarity")
    best = grounding[0] if grounding else (hits[0] if hits else None)
    if not grounding or best is None:
        body = (
            f"Thank you for contacting us about {topic}. I could not find an answer to your question in our "
            "help center, so a colleague will look into it personally and get back to you shortly."
        )
        return Draft(
            f"{greeting}\n\n{body}\n\nBest regards,\n{signature}",
            None,
            None,
            best.score if best else 0.0,
            False,
        )
    article = best.section.article
    excerpt, dropped = _excerpt(best.section.text, allow_money="refund" in article.allows)
    if not excerpt:
        body = (
            f"Thank you for contacting us about {topic}. A colleague will look into it and get back to you."
        )
        return Draft(
            f"{greeting}\n\n{body}\n\nBest regards,\n{signature}", None, None, best.score, False, dropped
        )
    text = (
        f"{greeting}\n\nThank you for contacting us about {topic}. Here is what our help center says "
        f"({best.section.heading}):\n\n{excerpt}\n\n"
        f'You can read the full article here: "{article.title}" ({article.id}).\n\n'
        "If this does not solve it, just reply to this message and we will take it from there.\n\n"
        f"Best regards,\n{signature}"
    )
    return Draft(text, article.id, article.title, best.score, True, dropped)
