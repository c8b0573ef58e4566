"""Messages that reach the helpdesk but ask for nothing: automatic replies and unsolicited marketing.

Nobody waits for an answer, and answering an out-of-office starts a mail loop, so these get no draft and
no model call: a tag, low priority and a one-line note, for an agent (or a view) to close in bulk.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

AUTO_REPLY_TAG = "ai_auto_reply"
SPAM_TAG = "ai_possible_spam"

_AUTO_REPLY_SUBJECT = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|auto-?reply|autoreply|auto reply|on annual leave|"
    r"abwesenheitsnotiz|automatische antwort|nicht im büro|réponse automatique|absent du bureau|"
    r"respuesta automática|fuera de la oficina|risposta automatica|fuori ufficio|resposta automática|"
    r"ausente do escritório|automatisch antwoord|afwezigheidsbericht|niet op kantoor)\b|自動返信|不在通知",
    re.IGNORECASE,
)
# In the body only first-person announcements count: "I was out of office last week" is a customer.
_AUTO_REPLY_BODY = re.compile(
    r"\b(?:this is an automat(?:ic|ed) (?:reply|response|message)|i am (?:currently )?out of (?:the )?office|"
    r"i'm (?:currently )?out of (?:the )?office|i am (?:currently )?away (?:from|until)|"
    r"ich bin (?:derzeit |zurzeit |bis .{1,30}?)?nicht im büro|je suis (?:actuellement )?absente?|"
    r"estoy (?:actualmente )?fuera de la oficina|sono (?:attualmente )?fuori ufficio|"
    r"estou (?:atualmente )?ausente|ik ben (?:momenteel )?(?:niet op kantoor|afwezig))",
    re.IGNORECASE,
)
# Cold outreach: one of these alone is something a customer might say; two together rarely are.
_SPAM_CUES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bseo\b", r"\bbacklinks?\b", r"\bguest posts?\b", r"first page of google", r"\brank(?:ing)? (?:your|higher)",
        r"\b(?:web ?design|marketing|lead generation|app development) services?\b", r"increase your (?:traffic|sales|revenue)",
        r"dear (?:website|site|business) owner", r"\b(?:business proposal|investment opportunity|partnership opportunity)\b",
        r"\b(?:crypto(?:currency)?|bitcoin|forex)\b", r"\bunsubscribe\b", r"\bfree (?:quote|audit|trial)\b",
        r"\b(?:reply|respond) with (?:yes|interested)\b",
    )
)


@dataclass(frozen=True)
class NotARequest:
    tag: str
    note: str


def detect(subject: str, customer: list[str]) -> NotARequest | None:
    """What kind of non-request this ticket is, from its subject and (only) customer message; else None."""
    opening = customer[0][:300] if len(customer) == 1 else ""
    if _AUTO_REPLY_SUBJECT.search(subject) or (opening and _AUTO_REPLY_BODY.search(opening)):
        return NotARequest(AUTO_REPLY_TAG, "Automatic reply (out of office or similar): no draft, so no mail loop. Close it or merge it.")
    if len(customer) <= 1:
        text = f"{subject}\n{customer[0] if customer else ''}"
        if sum(1 for cue in _SPAM_CUES if cue.search(text)) >= 2:
            return NotARequest(SPAM_TAG, "Looks like unsolicited marketing, not a customer: no draft. Mark it as spam or close it.")
    return None
