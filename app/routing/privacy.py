"""What may leave the machine: the thread with PII replaced by placeholders, names included.

The engine's regex redactor (app.triage.pii) catches emails, phones, cards, IBANs and addresses; names
are not pattern-shaped, so the requester's and authors' names known from the helpdesk are replaced too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.triage.pii import Redactor, restore
from app.triage.ticket import Ticket, is_bot_note

MAX_THREAD_CHARS = 6000


@dataclass
class Redacted:
    """Redacted texts for prompts plus the mapping that puts PII back into the draft only."""

    subject: str
    thread: str
    redactor: Redactor
    names: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def text(self, value: str) -> str:
        """Redact one more text (the engine's draft, its summary) with the same placeholders."""
        return _scrub_names(self.redactor.redact(value), self.names)

    def restore(self, value: str) -> str:
        return restore(value, self.redactor.mapping)


def _name_patterns(ticket: Ticket) -> list[tuple[re.Pattern[str], str]]:
    people: list[tuple[str, str]] = []
    if ticket.requester_name:
        people.append((ticket.requester_name, "[CUSTOMER]"))
    for comment in ticket.comments:
        if comment.author_name:
            people.append((comment.author_name, "[CUSTOMER]" if comment.author_role == "customer" else "[AGENT]"))
    patterns: list[tuple[re.Pattern[str], str]] = []
    for full, placeholder in people:
        parts = [p for p in re.split(r"\s+", full.strip()) if len(p) >= 2]
        for piece in sorted({full.strip(), *parts}, key=len, reverse=True):
            if piece:
                patterns.append((re.compile(rf"(?<!\w){re.escape(piece)}(?!\w)", re.IGNORECASE), placeholder))
    return patterns


def _scrub_names(text: str, names: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, placeholder in names:
        text = pattern.sub(placeholder, text)
    return text


def redact_ticket(ticket: Ticket) -> Redacted:
    """Subject and the whole thread (our own notes left out), oldest first, cut from the start if long."""
    redactor = Redactor()
    names = _name_patterns(ticket)
    redacted = Redacted(subject="", thread="", redactor=redactor, names=names)
    redacted.subject = redacted.text(ticket.subject)
    lines = [f"[{c.author_role}] {redacted.text(c.body.strip())}" for c in ticket.comments if not is_bot_note(c.body)]
    thread = "\n\n".join(lines)
    if len(thread) > MAX_THREAD_CHARS:
        thread = "[...]\n" + thread[-MAX_THREAD_CHARS:]
    redacted.thread = thread
    first_name = ticket.requester_name.split()[0] if ticket.requester_name.strip() else "there"
    redactor.mapping.setdefault("[CUSTOMER]", first_name)
    return redacted
