"""Process one delivery: claim it, fetch the ticket, triage, write back once, record the outcome.

Celery-free on purpose: the task is a thin shell around `process_delivery`, which returns what to do next
(done, or retry in N seconds). Exactly-once effects come from three guards:
1. the claim is a conditional UPDATE, so two workers never hold one delivery;
2. the note carries a per-delivery marker, checked on the fetched thread before writing, so a task
   redelivered after its PUT landed (worker killed before it recorded success) never writes twice;
3. the write is a safe update (Zendesk `safe_update` + `updated_stamp`), so a concurrent human edit is
   re-read and merged, never clobbered.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from app import routing, triage
from app.models import Delivery, DeliveryStatus, Outcome, utcnow
from app.ports import IntegrationError
from app.triage.decision import Decision
from app.triage.ticket import Ticket, bot_marker, is_bot_note
from integrations.http_errors import backoff_seconds
from workers.context import WorkerContext

log = structlog.get_logger("worker")

MAX_CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class Result:
    status: str
    retry_in: float | None = None
    detail: str = ""


# Core statements on the tables, built once, not ORM objects: the unit of work (identity map, flush,
# expiry) and building statements per call cost ~3 ms a ticket for four plain statements, a third of a
# worker's CPU once the helpdesk calls were lean. An UPDATE without .values() sets the columns named by
# the parameters it is executed with.
_DELIVERIES = Delivery.__table__
_OUTCOMES = Outcome.__table__
_CLAIM = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("claim_id"),
        or_(
            _DELIVERIES.c.status.in_(DeliveryStatus.CLAIMABLE),
            (_DELIVERIES.c.status == DeliveryStatus.PROCESSING) & (_DELIVERIES.c.claimed_at < bindparam("lease_cutoff")),
        ),
    )
    .values(status=DeliveryStatus.PROCESSING, claimed_at=bindparam("claim_at"), attempts=_DELIVERIES.c.attempts + 1)
    .returning(_DELIVERIES.c.id, _DELIVERIES.c.provider, _DELIVERIES.c.ticket_id, _DELIVERIES.c.attempts)
)
_UPDATE_DELIVERY = update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("delivery_key"))
_UPDATE_OUTCOME = update(_OUTCOMES).where(_OUTCOMES.c.delivery_id == bindparam("delivery_key"))
_INSERT_OUTCOME = insert(_OUTCOMES)
_HOLDER = select(_DELIVERIES.c.status, _DELIVERIES.c.claimed_at).where(_DELIVERIES.c.id == bindparam("delivery_key"))


@dataclass(frozen=True)
class Claim:
    """A delivery as the worker holding it sees it."""

    id: int
    provider: str
    ticket_id: str
    attempts: int


def claim(db: Session | Connection, delivery_id: int, lease_seconds: int) -> Claim | None:
    """Take the delivery if nobody holds it (or the holder's lease ran out). Returns None if not ours."""
    now = utcnow()
    row = db.execute(_CLAIM, {"claim_id": delivery_id, "claim_at": now, "lease_cutoff": now - timedelta(seconds=lease_seconds)}).first()
    db.commit()
    return Claim(*row) if row is not None else None


def process_delivery(delivery_id: int, ctx: WorkerContext) -> Result:
    settings = ctx.settings
    with ctx.sessions.kw["bind"].connect() as db:
        delivery = claim(db, delivery_id, settings.DELIVERY_LEASE_SECONDS)
        if delivery is None:
            return _not_claimed(db, delivery_id, settings.DELIVERY_LEASE_SECONDS)
        log.info("delivery.claimed", delivery_id=delivery_id, ticket_id=delivery.ticket_id, attempt=delivery.attempts)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            status, decision, ticket = _triage_and_apply(delivery, ctx, timings)
        except IntegrationError as exc:
            return _fail_or_retry(db, delivery, exc, settings)
        except Exception as exc:  # a bug or bad data in the engine: retried a few times, then parked
            log.exception("delivery.crashed", delivery_id=delivery_id)
            error = IntegrationError(f"{type(exc).__name__}: {exc}", reason="internal_error")
            error.permanent = delivery.attempts >= 3
            return _fail_or_retry(db, delivery, error, settings)
        timings["total"] = (time.perf_counter() - started) * 1000
        _record(db, delivery, status, decision, ticket, timings, error="")
        log.info("delivery.done", delivery_id=delivery_id, status=status, ms=round(timings["total"], 1))
        return Result(status)


def _not_claimed(db: Connection, delivery_id: int, lease_seconds: int) -> Result:
    row = db.execute(_HOLDER, {"delivery_key": delivery_id}).first()
    db.rollback()
    if row is None:
        return Result("missing", detail="no such delivery")
    status, claimed_at = row
    if status == DeliveryStatus.PROCESSING and claimed_at is not None:
        # Someone holds it: maybe alive, maybe killed. Come back when the lease runs out.
        remaining = lease_seconds - (utcnow() - claimed_at).total_seconds()
        return Result("held", retry_in=max(1.0, remaining + 1.0))
    return Result(status, detail="already handled")


def _triage_and_apply(delivery: Claim, ctx: WorkerContext, timings: dict[str, float]) -> tuple[str, Decision | None, Ticket]:
    helpdesk = ctx.helpdesk(delivery.provider)
    marker = bot_marker(delivery.id)
    for attempt in range(MAX_CONFLICT_RETRIES + 1):
        t0 = time.perf_counter()
        ticket = helpdesk.fetch(delivery.ticket_id)
        timings["fetch"] = timings.get("fetch", 0.0) + (time.perf_counter() - t0) * 1000
        if ticket.contains_marker(marker):
            return DeliveryStatus.DONE, None, ticket  # our note landed before a crash: nothing more to write
        if _nothing_new(ticket):
            return DeliveryStatus.SKIPPED, None, ticket
        t0 = time.perf_counter()
        decision = triage.run(ticket, ctx.models, ctx.policy)
        # With an LLM configured, hard tickets go up a tier; provider failures fall back to `decision`.
        decision = routing.refine(ticket, decision, ctx.router)
        timings["triage"] = (time.perf_counter() - t0) * 1000
        for stage in decision.trace:
            timings[f"triage.{stage.name}"] = stage.ms
        t0 = time.perf_counter()
        try:
            helpdesk.apply(ticket, decision, marker)
        except IntegrationError as exc:
            timings["apply"] = timings.get("apply", 0.0) + (time.perf_counter() - t0) * 1000
            if exc.conflict and attempt < MAX_CONFLICT_RETRIES:
                log.info("delivery.conflict_refetch", delivery_id=delivery.id, attempt=attempt + 1)
                continue
            raise
        timings["apply"] = timings.get("apply", 0.0) + (time.perf_counter() - t0) * 1000
        return DeliveryStatus.DONE, decision, ticket
    raise AssertionError("unreachable")


def _nothing_new(ticket: Ticket) -> bool:
    """Loop guard on the thread itself: our last note is newer than the customer's last message.

    Our own write fires the helpdesk's "ticket updated" trigger again; that delivery arrives here and must
    not triage the ticket a second time. A human agent's change after our note is not new customer input.
    """
    last_bot = max((i for i, c in enumerate(ticket.comments) if is_bot_note(c.body)), default=-1)
    if last_bot < 0:
        return False
    return not any(c.author_role == "customer" for c in ticket.comments[last_bot + 1 :])


def _fail_or_retry(db: Connection, delivery: Claim, exc: IntegrationError, settings: Any) -> Result:
    reason = f"{exc.reason}: {exc}"[:2000]
    exhausted = delivery.attempts >= settings.MAX_ATTEMPTS
    if exc.permanent or exhausted:
        why = reason if exc.permanent else f"retries exhausted after {delivery.attempts} attempts; last: {reason}"
        _record(db, delivery, DeliveryStatus.FAILED, None, None, {}, error=why)
        log.warning("delivery.failed", delivery_id=delivery.id, reason=exc.reason, permanent=exc.permanent)
        return Result(DeliveryStatus.FAILED, detail=why)
    delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(delivery.attempts, cap=settings.RETRY_BACKOFF_MAX_SECONDS)
    db.execute(_UPDATE_DELIVERY, {
        "delivery_key": delivery.id, "status": DeliveryStatus.RETRYING, "error": reason,
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
    })
    db.commit()
    log.info("delivery.retry", delivery_id=delivery.id, reason=exc.reason, retry_in=round(delay, 1))
    return Result(DeliveryStatus.RETRYING, retry_in=delay, detail=reason)


def _record(
    db: Connection,
    delivery: Claim,
    status: str,
    decision: Decision | None,
    ticket: Ticket | None,
    timings: dict[str, float],
    error: str,
) -> None:
    """The delivery's final status and its Outcome (one per delivery, replaced on a replay), in one commit."""
    now = utcnow()
    db.execute(_UPDATE_DELIVERY, {"delivery_key": delivery.id, "status": status, "error": error, "finished_at": now, "next_attempt_at": None})
    outcome = _outcome_values(status, decision, ticket, timings, error, now)
    if not db.execute(_UPDATE_OUTCOME, {"delivery_key": delivery.id, **outcome}).rowcount:
        db.execute(_INSERT_OUTCOME, {
            "delivery_id": delivery.id, "provider": delivery.provider, "ticket_id": delivery.ticket_id, "started_at": now, **outcome
        })
    db.commit()


def _outcome_values(
    status: str, decision: Decision | None, ticket: Ticket | None, timings: dict[str, float], error: str, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
        "duration_ms": round(timings.get("total", 0.0), 2),
        "finished_at": now,
    }
    if ticket is not None:
        # A hash, not the text: lets an export prove which input a decision was made on.
        text = "\n".join([ticket.subject, *(c.body for c in ticket.comments)])
        values["input_hash"] = hashlib.sha256(text.encode()).hexdigest()
    if decision is not None:
        record = decision.to_record()
        record["draft"] = None  # the draft holds restored PII; it lives in the helpdesk, not in our tables
        values.update(
            intent=decision.intent, confidence=decision.confidence, priority=decision.priority, queue=decision.queue,
            escalated=decision.escalate, model=decision.model, policy_version=decision.policy_version,
            tokens=decision.tokens, cost_usd=decision.cost_usd, decision=record,
        )
    return values
