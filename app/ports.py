"""Ports: the small interfaces the worker needs from the outside world, and the one error they raise."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from app.triage.decision import Decision
from app.triage.ticket import Ticket


class IntegrationError(Exception):
    """An outside system refused or failed a call.

    `permanent` errors (404, 401, 403, validation) are not retried: the delivery is parked for replay.
    Transient ones are retried by Celery, after `retry_after` seconds when the provider said so (429).
    `conflict` marks an optimistic-concurrency failure (Zendesk safe_update 409): refetch and reapply.
    `reason` is a short dotted-metric-friendly code (``not_found``, ``rate_limited``, ``server_error``).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        reason: str = "error",
        conflict: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.reason = reason
        self.conflict = conflict
        self.status = status


@runtime_checkable
class Helpdesk(Protocol):
    """A ticketing system: read one ticket with its thread, write one decision back in one safe update."""

    name: str

    def fetch(self, ticket_id: str) -> Ticket:
        """Return the ticket with its full comment thread. Raises IntegrationError."""
        ...

    def apply(self, ticket: Ticket, decision: Decision, marker: str) -> None:
        """Write priority, queue, assignee, merged tags, fields and the internal note in one update.

        `ticket` is the state just fetched (its tags are merged, its `updated_stamp` guards the write).
        `marker` goes into the internal note so a redelivered task can see the note is already there.
        Raises IntegrationError(conflict=True) when the ticket changed since `ticket` was read.
        """
        ...


@runtime_checkable
class LanguageModel(Protocol):
    """A text model used for classification with structured output, drafting and summarising."""

    name: str

    def complete(self, system: str, prompt: str, *, max_tokens: int = 512, json_mode: bool = False) -> "Completion":
        ...


class Completion:
    """A model answer with the token usage needed for cost accounting."""

    __slots__ = ("text", "input_tokens", "output_tokens", "model")

    def __init__(self, text: str, input_tokens: int = 0, output_tokens: int = 0, model: str = "") -> None:
        self.text = text
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.model = model
