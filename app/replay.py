"""Send deliveries to the queue again: an admin's replay of parked ones, and the sweeper's safety net."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.models import Delivery, DeliveryStatus, utcnow

log = structlog.get_logger("replay")


def replay(sessions: sessionmaker[Session], delivery_id: int, enqueue: Callable[[int], None]) -> bool:
    """Re-run a finished or parked delivery from scratch. Returns False if it is in flight or missing."""
    with sessions() as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status.in_(DeliveryStatus.FINAL))
            .values(status=DeliveryStatus.QUEUED, attempts=0, error="", enqueued_at=utcnow(), next_attempt_at=None)
        )
        session.commit()
        if result.rowcount != 1:
            return False
    enqueue(delivery_id)
    log.info("delivery.replayed", delivery_id=delivery_id)
    return True


def sweep(
    sessions: sessionmaker[Session],
    enqueue: Callable[[int], None],
    *,
    stuck_seconds: int,
    lease_seconds: int,
    queue_is_empty: Callable[[], bool] = lambda: True,
    limit: int = 500,
) -> list[int]:
    """Re-send deliveries that should be moving but are not.

    - `received`: stored but the enqueue failed (broker down at intake);
    - `processing` past its lease: the worker died mid-task;
    - `retrying` well past its due time, or `queued` for long while the broker queue is empty: the
      broker lost the message (e.g. Redis restarted without persistence).
    A re-sent duplicate is harmless: the claim lets only one run.
    """
    now = utcnow()
    stuck = now - timedelta(seconds=stuck_seconds)
    conditions = [
        and_(Delivery.status == DeliveryStatus.RECEIVED, Delivery.received_at < now - timedelta(seconds=2)),
        and_(Delivery.status == DeliveryStatus.PROCESSING, Delivery.claimed_at < now - timedelta(seconds=lease_seconds)),
        and_(Delivery.status == DeliveryStatus.RETRYING, Delivery.next_attempt_at < stuck),
    ]
    if queue_is_empty():
        conditions.append(and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.enqueued_at < stuck))
    else:
        conditions.append(and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.enqueued_at < now - timedelta(seconds=stuck_seconds * 10)))
    sent: list[int] = []
    with sessions() as session:
        candidates = session.scalars(select(Delivery.id).where(or_(*conditions)).order_by(Delivery.id).limit(limit)).all()
        for delivery_id in candidates:
            # Stamp first so two sweepers do not both send it (the loser's UPDATE matches no row).
            moved = session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, or_(*conditions))
                .values(
                    enqueued_at=now,
                    next_attempt_at=None,
                    status=case_status(),
                )
            )
            session.commit()
            if moved.rowcount == 1:
                sent.append(delivery_id)
    for delivery_id in sent:
        try:
            enqueue(delivery_id)
        except Exception as exc:  # still down: leave it for the next sweep
            log.warning("sweep.enqueue_failed", delivery_id=delivery_id, error=str(exc)[:200])
            with sessions() as session:
                session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=DeliveryStatus.RECEIVED))
                session.commit()
    if sent:
        log.info("sweep.resent", count=len(sent), delivery_ids=sent[:20])
    return sent


def case_status():  # noqa: ANN201
    """received -> queued when re-sent; processing/retrying/queued keep their status for the claim."""
    from sqlalchemy import case

    return case((Delivery.status == DeliveryStatus.RECEIVED, DeliveryStatus.QUEUED), else_=Delivery.status)
