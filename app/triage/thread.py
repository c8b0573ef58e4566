"""Reading a thread: who offered what, and whether the customer turned it down."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.triage.ticket import Comment

_OFFER = re.compile(
    r"(?P<what>\d{1,3}\s?%\s?(?:discount|off|de descuento|de réduction|rabatt|sconto)"
    r"|(?:a |an )?(?:partial |full )?refund|store credit"
    r"|(?:a |an )?(?:voucher|coupon|gift card)(?: of [^\s.,]+)?"
    r"|(?:a |an )?(?:free )?replacement|free (?:shipping|delivery|return)|(?:a |an )?reshipment"
    r"|re-?send(?:ing)? the (?:order|item|parcel)"
    r"|(?:a |an )?(?:exchange|repair|callback|credit of [^\s.,]+)"
    r"|reembolso|remboursement|erstattung|gutschein|descuento|réduction)",
    re.IGNORECASE,
)
_OFFER_VERB = re.compile(
    r"\b(?:offer|we can|we could|i can|i could|happy to|would you like|how about|propose|as a gesture|"
    r"podemos|ofrecer|ofrecemos|nous pouvons|proposer|wir können|anbieten|possiamo|offrire)\b",
    re.IGNORECASE,
)
_REJECT = re.compile(
    r"\b(?:no thanks?|no,? (?:i|that|this)|not (?:good |enough|acceptable|interested|what i)"
    r"|don't want|do not want|won't accept|will not accept|refuse|reject|that's not|that is not"
    r"|i want (?:my money|a (?:full )?refund|the refund)|"
    r"useless|not ok(?:ay)?|no quiero|no acepto|no me sirve|non merci|je ne veux pas|je refuse|nein danke|"
    r"will ich nicht|nicht akzeptabel|akzeptiere (?:ich )?nicht|non voglio|non accetto)\b",
    re.IGNORECASE,
)
_ACCEPT = re.compile(
    r"\b(?:yes,? please|that works|sounds good|ok(?:ay)?,? (?:thanks|thank you|great)|i accept|deal\b"
    r"|perfect|"
    r"sí,? por favor|d'accord|einverstanden|va bene)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class OfferExchange:
    offered_by: str  # "bot" or "agent"
    offer: str  # short phrase, e.g. "10% discount"
    answer: str  # "rejected", "accepted" or "" (no answer yet)


def last_offer(comments: tuple[Comment, ...]) -> OfferExchange | None:
    """The most recent offer by the bot or an agent, and the customer's reply to it."""
    for index in range(len(comments) - 1, -1, -1):
        comment = comments[index]
        if comment.author_role not in ("bot", "agent"):
            continue
        match = _OFFER.search(comment.body)
        if not match or not _OFFER_VERB.search(comment.body):
            continue
        replies = [c.body for c in comments[index + 1 :] if c.author_role == "customer"]
        answer = ""
        if replies:
            reply = replies[0]
            if _REJECT.search(reply):
                answer = "rejected"
            elif _ACCEPT.search(reply):
                answer = "accepted"
        offer = re.sub(r"^(?:a|an)\s+", "", match.group("what").strip(), flags=re.IGNORECASE)
        return OfferExchange(comment.author_role, offer, answer)
    return None


@dataclass(frozen=True)
class StaffStep:
    role: str  # "bot" or "agent"
    said: str  # the first sentence of the latest bot/agent message that says something
    customer_replies: int  # customer messages after it


# Sentence ends, except after titles and abbreviations ("Dear Mrs. Okonkwo", "e.g. the app").
_SENTENCE_END = re.compile(
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bNo\.)"
    r"(?<=[.!?])\s+"
)
# Openers that carry nothing an agent needs: "Hi Robert,", "Sorry about that!", "Thanks for waiting."
_SMALL_TALK = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|sorry|apologies|thanks?|thank you|hallo|bonjour|"
    r"hola|ciao|olá|danke|merci|gracias|grazie|obrigad[oa])\b.{0,60}$",
    re.IGNORECASE,
)
_TRIED = re.compile(
    r"\b(?:already|tried|i've tried|have tried|bereits|schon|versucht|déjà|essayé|ya (?:he|lo|la)|probé|intenté|"
    r"già|provato|já|tentei|geprobeerd)\b",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip().replace("\n", " ")) if s.strip()]


def _clip(sentence: str, limit: int) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def last_staff_step(comments: tuple[Comment, ...], limit: int = 140) -> StaffStep | None:
    """The latest bot/agent message: what was tried when nothing was offered."""
    for index in range(len(comments) - 1, -1, -1):
        comment = comments[index]
        if comment.author_role in ("bot", "agent") and comment.body.strip():
            parts = sentences(comment.body)
            said = next((s for s in parts if not _SMALL_TALK.match(s)), parts[0])
            replies = sum(1 for c in comments[index + 1 :] if c.author_role == "customer")
            return StaffStep(comment.author_role, _clip(said, limit), replies)
    return None


def already_tried(comments: tuple[Comment, ...], limit: int = 140) -> str:
    """The customer's latest sentence about what they already did ("I cleared the cache and reinstalled
    twice"): the agent must not suggest it again. "" when they said none."""
    for comment in reversed(comments):
        if comment.author_role == "customer":
            found = [s for s in sentences(comment.body) if _TRIED.search(s)]
            if found:
                return _clip(found[0], limit)
    return ""
