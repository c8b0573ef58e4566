"""What triage decided for one ticket: the single update written back, plus the why and the cost."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Priority = Literal["urgent", "high", "normal", "low"]
PRIORITIES: tuple[str, ...] = ("urgent", "high", "normal", "low")


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline in the trace: name, milliseconds, and a short detail for the note."""

    name: str
    ms: float
    detail: str = ""


@dataclass(frozen=True)
class HandoffSummary:
    issue: str
    sentiment: str
    offered: str
    customer_answer: str
    suggestion: str
    reason: str

    def render(self) -> str:
        parts = [self.issue.rstrip(".") + "."]
        if self.offered:
            parts.append(self.offered.rstrip(".") + ".")
        if self.customer_answer:
            parts.append(self.customer_answer.rstrip(".") + ".")
        parts.append(f"Suggest: {self.suggestion.rstrip('.')}.")
        return " ".join(parts)


@dataclass(frozen=True)
class Decision:
    """The outcome of triage. Queue names are logical (`billing`); adapters map them to group/queue ids."""

    intent: str
    confidence: float
    language: str
    sentiment: str
    emotion_score: float
    priority: Priority
    queue: str
    escalate: bool
    reasons: tuple[str, ...]
    tags: tuple[str, ...]
    internal_note: str
    assignee: str | None = None
    fields: dict[str, object] = field(default_factory=dict)
    draft: str | None = None
    handoff: HandoffSummary | None = None
    trace: tuple[Stage, ...] = ()
    model: str = "local"
    policy_version: str = ""
    cost_usd: float = 0.0
    tokens: int = 0

    def to_record(self) -> dict:
        """JSON-safe form for the Outcome row and exports (no raw ticket text in here)."""
        record = asdict(self)
        record["trace"] = [asdict(s) for s in self.trace]
        return record
