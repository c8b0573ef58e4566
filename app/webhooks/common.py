"""What every webhook view shares: metrics, signature rejection, intake and JSON answers."""
from __future__ import annotations

import functools
import time
from typing import Callable

import structlog
from sqlalchemy.exc import OperationalError

from app import metrics
from app.webhooks.http import Intake, Reply, WebhookRequest, json_reply
from app.webhooks.intake import IncomingEvent, accept
from app.webhooks.signature import verify

log = structlog.get_logger("webhooks")
_counters: dict[tuple[str, str], object] = {}


def count(provider: str, result: str) -> None:
    """Bump triage_webhooks_total; the labelled child is looked up once (the webhook path is hot)."""
    child = _counters.get((provider, result))
    if child is None:
        child = _counters[(provider, result)] = metrics.WEBHOOKS.labels(provider=provider, result=result)
    child.inc()


def timed(provider: str) -> Callable:
    """Observe triage_intake_seconds for a webhook view, whatever it answers."""
    histogram = metrics.INTAKE_SECONDS.labels(provider=provider)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            started = time.perf_counter()
            try:
                return view(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return wrapper

    return decorate


def error(request: WebhookRequest, status: int, code: str, message: str, *, provider: str) -> Reply:
    count(provider, code)
    log.warning("webhook.rejected", provider=provider, code=code, status=status, remote=request.remote_addr)
    return json_reply(status, error=code, message=message)


def verify_or_reject(
    request: WebhookRequest, intake: Intake, provider: str, secret: str, timestamp: str | None, signature: str | None, body: bytes
) -> Reply | None:
    result = verify(secret, timestamp, signature, body, tolerance_seconds=intake.settings.WEBHOOK_TOLERANCE_SECONDS)
    if result.ok:
        return None
    return error(request, 401, result.reason, "signature verification failed", provider=provider)


def intake_response(intake: Intake, provider: str, incoming: IncomingEvent | None, *, skipped: str = "") -> Reply:
    if incoming is None:
        count(provider, f"skipped_{skipped}")
        return json_reply(200, status="skipped", reason=skipped)
    try:
        accepted = accept(intake.sessions, incoming, intake.enqueue)
    except OperationalError as exc:
        # Database locked or down: 503 makes the helpdesk retry later, and nothing was half-written.
        log.error("webhook.db_unavailable", provider=provider, error=str(exc)[:200])
        count(provider, "db_unavailable")
        return json_reply(503, (("Retry-After", "5"),), error="unavailable", message="storage unavailable, retry later")
    if not accepted.created:
        count(provider, "duplicate")
        return json_reply(200, status="duplicate", delivery_id=accepted.delivery_id)
    count(provider, "accepted")
    return json_reply(202, status="queued" if accepted.queued else "stored", delivery_id=accepted.delivery_id)
