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
from datetime import timedelta

import structlog
from sqlalchemy import or_, select, update
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


def claim(session: Session, delivery_id: int, lease_seconds: int) -> Delivery | None:
    """Take the delivery if nobody holds it (or the holder's lease ran out). Returns None if not ours."""
    now = utcnow()
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            or_(
                Delivery.status.in_(DeliveryStatus.CLAIMABLE),
                (Delivery.status == DeliveryStatus.PROCESSING)
                & (Delivery.claimed_at < now - timedelta(seconds=lease_seconds)),
            ),
        )
        .values(status=DeliveryStatus.PROCESSING, claimed_at=now, attempts=Delivery.attempts + 1)
    )
    session.commit()
    if result.rowcount != 1:
        return None
    return session.get(Delivery, delivery_id)


def process_delivery(delivery_id: int, ctx: WorkerContext) -> Result:
    settings = ctx.settings
    with ctx.sessions() as session:
        delivery = claim(session, delivery_id, settings.DELIVERY_LEASE_SECONDS)
        if delivery is None:
            return _not_claimed(session, delivery_id, settings.DELIVERY_LEASE_SECONDS)
        log.info("delivery.claimed", delivery_id=delivery_id, ticket_id=delivery.ticket_id, attempt=delivery.attempts)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            status, decision, ticket = _triage_and_apply(delivery, ctx, timings)
        except IntegrationError as exc:
            return _fail_or_retry(session, delivery, exc, settings)
        except Exception as exc:  # a bug or bad data in the engine: retried a few times, then parked
            log.exception("delivery.crashed", delivery_id=delivery_id)
            error = IntegrationError(f"{type(exc).__name__}: {exc}", reason="internal_error")
            error.permanent = delivery.attempts >= 3
            return _fail_or_retry(session, delivery, error, settings)
        timings["total"] = (time.perf_counter() - started) * 1000
        _record(session, delivery, status, decision, ticket, timings, error="")
        log.info("delivery.done", delivery_id=delivery_id, status=status, ms=round(timings["total"], 1))
        return Result(status)


def _not_claimed(session: Session, delivery_id: int, lease_seconds: int) -> Result:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return Result("missing", detail="no such delivery")
    if delivery.status == DeliveryStatus.PROCESSING and delivery.claimed_at is not None:
        # Someone holds it: maybe alive, maybe killed. Come back when the lease runs out.
        remaining = lease_seconds - (utcnow() - delivery.claimed_at).total_seconds()
        return Result("held", retry_in=max(1.0, remaining + 1.0))
    return Result(delivery.status, detail="already handled")


def _triage_and_apply(delivery: Delivery, ctx: WorkerContext, timings: dict[str, float]) -> tuple[str, Decision | None, Ticket]:
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


def _fail_or_retry(session: Session, delivery: Delivery, exc: IntegrationError, settings) -> Result:  # noqa: ANN001
    reason = f"{exc.reason}: {exc}"[:2000]
    exhausted = delivery.attempts >= settings.MAX_ATTEMPTS
    if exc.permanent or exhausted:
        why = reason if exc.permanent else f"retries exhausted after {delivery.attempts} attempts; last: {reason}"
        _record(session, delivery, DeliveryStatus.FAILED, None, None, {}, error=why)
        log.warning("delivery.failed", delivery_id=delivery.id, reason=exc.reason, permanent=exc.permanent)
        return Result(DeliveryStatus.FAILED, detail=why)
    delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(delivery.attempts, cap=settings.RETRY_BACKOFF_MAX_SECONDS)
    delivery.status = DeliveryStatus.RETRYING
    delivery.error = reason
    delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
    session.commit()
    log.info("delivery.retry", delivery_id=delivery.id, reason=exc.reason, retry_in=round(delay, 1))
    return Result(DeliveryStatus.RETRYING, retry_in=delay, detail=reason)


def _record(
    session: Session,
    delivery: Delivery,
    status: str,
    decision: Decision | None,
    ticket: Ticket | None,
    timings: dict[str, float],
    error: str,
) -> None:
    delivery.status = status
    delivery.error = error
    delivery.finished_at = utcnow()
    delivery.next_attempt_at = None
    outcome = session.scalar(select(Outcome).where(Outcome.delivery_id == delivery.id)) or Outcome(
        delivery_id=delivery.id, provider=delivery.provider, ticket_id=delivery.ticket_id
    )
    outcome.status = status
    outcome.error = error
    outcome.timings_ms = {k: round(v, 2) for k, v in timings.items()}
    outcome.duration_ms = round(timings.get("total", 0.0), 2)
    outcome.finished_at = utcnow()
    if ticket is not None:
        # A hash, not the text: lets an export prove which input a decision was made on.
        text = "\n".join([ticket.subject, *(c.body for c in ticket.comments)])
        outcome.input_hash = hashlib.sha256(text.encode()).hexdigest()
    if decision is not None:
        outcome.intent = decision.intent
        outcome.confidence = decision.confidence
        outcome.priority = decision.priority
        outcome.queue = decision.queue
        outcome.escalated = decision.escalate
        outcome.model = decision.model
        outcome.policy_version = decision.policy_version
        outcome.tokens = decision.tokens
        outcome.cost_usd = decision.cost_usd
        record = decision.to_record()
        record["draft"] = None  # the draft holds restored PII; it lives in the helpdesk, not in our tables
        outcome.decision = record
    session.add(outcome)
    session.commit()
