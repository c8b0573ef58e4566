"""Tables: Delivery (one per webhook event, the source of truth), Outcome (what triage did), sandbox desk."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class DeliveryStatus:
    RECEIVED = "received"  # stored, not yet handed to the broker (enqueue failed): the sweeper re-sends
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRYING = "retrying"
    DONE = "done"
    SKIPPED = "skipped"  # loop guard or nothing new to triage
    FAILED = "failed"  # parked: permanent error or retries exhausted; `triage replay` sends it again

    CLAIMABLE = (RECEIVED, QUEUED, RETRYING)
    FINAL = (DONE, SKIPPED, FAILED)


class Delivery(Base):
    """One webhook event from a helpdesk. Unique on (provider, account, dedupe key) so retries collapse."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("provider", "account_id", "dedupe_key", name="uq_delivery_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[str] = mapped_column(String(64), default="")
    dedupe_key: Mapped[str] = mapped_column(String(200))
    invocation_id: Mapped[str] = mapped_column(String(100), default="")
    ticket_id: Mapped[str] = mapped_column(String(64))  # not indexed: no query reads deliveries by ticket (0002)
    event_kind: Mapped[str] = mapped_column(String(40), default="")
    body_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")

    outcome: Mapped["Outcome | None"] = relationship(back_populates="delivery", uselist=False)


class Outcome(Base):
    """What triage decided and wrote for one delivery. Holds redacted text only, never the raw ticket."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    intent: Mapped[str] = mapped_column(String(60), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[str] = mapped_column(String(10), default="")
    queue: Mapped[str] = mapped_column(String(60), default="")
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    model: Mapped[str] = mapped_column(String(80), default="")
    policy_version: Mapped[str] = mapped_column(String(40), default="")
    input_hash: Mapped[str] = mapped_column(String(64), default="")
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    decision: Mapped[dict] = mapped_column(JSON, default=dict)
    timings_ms: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)

    delivery: Mapped[Delivery] = relationship(back_populates="outcome")


class SandboxTicket(Base):
    """A ticket in the built-in sandbox helpdesk (the embedded default's stand-in for Zendesk)."""

    __tablename__ = "sandbox_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    requester_name: Mapped[str] = mapped_column(String(120), default="")
    requester_email: Mapped[str] = mapped_column(String(200), default="")
    requester_locale: Mapped[str] = mapped_column(String(10), default="")
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str | None] = mapped_column(String(10), nullable=True)
    group: Mapped[str | None] = mapped_column(String(60), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(120), nullable=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    update_count: Mapped[int] = mapped_column(Integer, default=0)

    comments: Mapped[list["SandboxComment"]] = relationship(
        back_populates="ticket", order_by="SandboxComment.id", cascade="all, delete-orphan"
    )


class SandboxComment(Base):
    __tablename__ = "sandbox_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("sandbox_tickets.id"), index=True)
    author_role: Mapped[str] = mapped_column(String(20))
    author_name: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    ticket: Mapped[SandboxTicket] = relationship(back_populates="comments")
