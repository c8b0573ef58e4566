"""Store a webhook event as a Delivery (deduplicated), commit, then enqueue its id.

The Delivery row is the source of truth: if the enqueue fails, the row stays `received` and the sweeper
sends it later, so a broker outage never loses a ticket.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.models import Delivery, DeliveryStatus, utcnow

log = structlog.get_logger("intake")

Enqueue = Callable[[int], None]


@dataclass(frozen=True)
class IncomingEvent:
    provider: str
    account_id: str
    ticket_id: str
    event_kind: str
    dedupe_key: str
    invocation_id: str
    body: bytes

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class Accepted:
    delivery_id: int
    created: bool  # False: a duplicate of a delivery we already have
    queued: bool


def accept(sessions: sessionmaker[Session], event: IncomingEvent, enqueue: Enqueue) -> Accepted:
    with sessions() as session:
        delivery = Delivery(
            provider=event.provider,
            account_id=event.account_id,
            dedupe_key=event.dedupe_key[:200],
            invocation_id=event.invocation_id[:100],
            ticket_id=event.ticket_id,
            event_kind=event.event_kind[:40],
            body_hash=event.body_hash,
            status=DeliveryStatus.QUEUED,
            enqueued_at=utcnow(),
        )
        session.add(delivery)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = session.scalar(
                select(Delivery.id).where(
                    Delivery.provider == event.provider,
                    Delivery.account_id == event.account_id,
                    Delivery.dedupe_key == event.dedupe_key[:200],
                )
            )
            if existing is None:  # the constraint fired on something else: let the caller answer 5xx
                raise
            return Accepted(existing, created=False, queued=False)
        delivery_id = delivery.id
    try:
        enqueue(delivery_id)
    except Exception as exc:  # broker down: the row is committed, the sweeper will send it
        log.warning("intake.enqueue_failed", delivery_id=delivery_id, error=str(exc)[:200])
        with sessions() as session:
            session.query(Delivery).filter(Delivery.id == delivery_id).update({"status": DeliveryStatus.RECEIVED})
            session.commit()
        return Accepted(delivery_id, created=True, queued=False)
    return Accepted(delivery_id, created=True, queued=True)
