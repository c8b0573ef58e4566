"""Background sweeper inside each worker process: re-sends deliveries that stopped moving (see app.replay.sweep)."""
from __future__ import annotations

import threading

import structlog
from celery.signals import worker_ready, worker_shutdown

from app.broker import redis_client
from app.config import get_settings
from app.db import session_factory
from app.replay import sweep

log = structlog.get_logger("sweeper")
_stop = threading.Event()


def _queue_is_empty() -> bool:
    try:
        return redis_client(get_settings()).llen("celery") == 0
    except Exception:
        return False  # cannot tell: only the long timeout applies


def _loop() -> None:
    settings = get_settings()
    sessions = session_factory(settings.database_url)
    from workers.tasks import enqueue

    while not _stop.wait(settings.SWEEP_INTERVAL_SECONDS):
        try:
            sweep(
                sessions,
                enqueue,
                stuck_seconds=settings.SWEEP_STUCK_SECONDS,
                lease_seconds=settings.DELIVERY_LEASE_SECONDS,
                queue_is_empty=_queue_is_empty,
            )
        except Exception:
            log.exception("sweep.failed")


@worker_ready.connect
def start_sweeper(**_kwargs) -> None:  # noqa: ANN003
    threading.Thread(target=_loop, name="delivery-sweeper", daemon=True).start()
    log.info("sweeper.started")


@worker_shutdown.connect
def stop_sweeper(**_kwargs) -> None:  # noqa: ANN003
    _stop.set()
