"""The Celery application (entry point for `celery -A workers.celery_app worker`)."""
from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from app.broker import broker_url
from app.config import Settings, get_settings
from workers import broker_transport


def make_celery(settings: Settings) -> Celery:
    broker_transport.install()
    celery = Celery("triage", broker=broker_url(settings), include=["workers.tasks"])
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # A ticket is acknowledged only after it is written; a killed worker's ticket goes back on the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 900},
        # The web process must answer fast even when Redis is down: the sweeper re-sends what failed here.
        broker_connection_timeout=2,
        # Only the worker's consumer reads this: it must outlive a Redis restart, not exit after one retry.
        broker_connection_max_retries=None,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return celery


celery_app = make_celery(get_settings())

from app.logging import configure_logging  # noqa: E402
from workers import sweeper  # noqa: E402,F401  (connects the sweeper to worker_ready)

configure_logging(get_settings())


@worker_process_init.connect
def _load_models(**_kwargs) -> None:  # noqa: ANN003
    """Load the models when a pool process starts, so the first ticket does not pay for it."""
    import os

    from app.broker import redis_client
    from workers.context import worker_context

    worker_context()
    # Tell local supervisors (triage demo/serve) this pool process can take tickets now.
    redis_client(get_settings()).set(f"triage:pool-ready:{os.getppid()}:{os.getpid()}", 1, ex=86400)
app = celery_app  # `celery -A workers.celery_app` looks for `app` or `celery`
