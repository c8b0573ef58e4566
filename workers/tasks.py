"""Celery tasks. They take ids, never objects, and leave all logic to workers.processing."""
from __future__ import annotations

import structlog

from workers.celery_app import celery_app
from workers.context import worker_context
from workers.processing import process_delivery

log = structlog.get_logger("worker")


@celery_app.task(
    bind=True,
    name="triage",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded by MAX_ATTEMPTS on the delivery row, which survives broker restarts
)
def triage(self, delivery_id: int) -> str:  # noqa: ANN001
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id, task_id=self.request.id)
    try:
        result = process_delivery(int(delivery_id), worker_context())
        if result.retry_in is not None:
            # Celery waits, not the worker thread: 429 Retry-After and backoff never block a slot.
            raise self.retry(countdown=result.retry_in)
        return result.status
    finally:
        structlog.contextvars.clear_contextvars()


def enqueue(delivery_id: int) -> None:
    """Publish one delivery id to the broker (what the web view, the sweeper and `triage replay` call)."""
    triage.apply_async(args=[delivery_id])
