"""The provider-neutral ticket the triage engine reads: subject, thread with author roles, requester."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AuthorRole = Literal["customer", "agent", "bot", "system"]

# Every internal note this product writes ends with a marker line starting with this prefix; it is how a
# redelivered task sees its note is already there, and how adapters tell our notes from a human agent's.
BOT_MARKER_PREFIX = "[ai-triage "
# Every ticket this product wrote to carries this tag: triggers exclude it, and the intake skips our echoes.
LOOP_GUARD_TAG = "ai_triaged"


def bot_marker(delivery_id: int | str) -> str:
    return f"{BOT_MARKER_PREFIX}delivery={delivery_id}]"


def is_bot_note(body: str) -> bool:
    return BOT_MARKER_PREFIX in body


@dataclass(frozen=True)
class Comment:
    id: str
    author_role: AuthorRole
    body: str
    public: bool = True
    author_name: str = ""
    created_at: str = ""


@dataclass(frozen=True)
class Ticket:
    """A helpdesk ticket (Zendesk ticket, Salesforce Case, sandbox ticket) as the engine sees it.

    `updated_stamp` is the provider's optimistic-concurrency token (Zendesk `updated_at`,
    Salesforce `LastModifiedDate`) handed back on write so a concurrent edit is detected, not overwritten.
    """

    provider: str
    id: str
    subject: str
    comments: tuple[Comment, ...] = ()
    requester_name: str = ""
    requester_locale: str = ""
    status: str = "new"
    priority: str | None = None
    group: str | None = None
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    fields: dict[str, object] = field(default_factory=dict)
    updated_stamp: str = ""
    url: str = ""

    @property
    def customer_comments(self) -> tuple[Comment, ...]:
        return tuple(c for c in self.comments if c.author_role == "customer")

    @property
    def latest_customer_text(self) -> str:
        customer = self.customer_comments
        return customer[-1].body if customer else ""

    @property
    def first_text(self) -> str:
        """Subject plus the first customer message: what the ticket is about."""
        customer = self.customer_comments
        body = customer[0].body if customer else (self.comments[0].body if self.comments else "")
        return f"{self.subject}\n{body}".strip()

    def has_human_agent_reply(self) -> bool:
        return any(c.author_role == "agent" for c in self.comments)

    def contains_marker(self, marker: str) -> bool:
        """True when one of our own notes carrying `marker` is already on the ticket."""
        return any(marker in c.body for c in self.comments)
