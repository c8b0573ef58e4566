"""What every webhook view shares: body limits, signature rejection, intake and JSON answers."""
from __future__ import annotations

import functools
import json
import time
from typing import Callable

import structlog
from flask import Response, current_app, request
from sqlalchemy.exc import OperationalError

from app import metrics
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


def answer(http_status: int, /, **fields: object) -> Response:
    """A small JSON response, built without Flask's JSON provider round trip."""
    return Response(json.dumps(fields), http_status, mimetype="application/json")


def header(environ_key: str) -> str | None:
    """A request header straight from the WSGI environ (`HTTP_X_...`): request.headers re-scans them all."""
    return request.environ.get(environ_key)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


def read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(limit)
    return body


def error(status: int, code: str, message: str, *, provider: str) -> Response:
    count(provider, code)
    log.warning("webhook.rejected", provider=provider, code=code, status=status, remote=request.remote_addr)
    return answer(status, error=code, message=message)


def verify_or_reject(provider: str, secret: str, timestamp: str | None, signature: str | None, body: bytes):  # noqa: ANN201
    result = verify(
        secret, timestamp, signature, body, tolerance_seconds=current_app.config["SETTINGS"].WEBHOOK_TOLERANCE_SECONDS
    )
    if result.ok:
        return None
    return error(401, result.reason, "signature verification failed", provider=provider)


def intake_response(provider: str, incoming: IncomingEvent | None, *, skipped: str = ""):  # noqa: ANN201
    if incoming is None:
        count(provider, f"skipped_{skipped}")
        return answer(200, status="skipped", reason=skipped)
    try:
        accepted = accept(current_app.config["SESSIONS"], incoming, current_app.config["ENQUEUE"])
    except OperationalError as exc:
        # Database locked or down: 503 makes the helpdesk retry later, and nothing was half-written.
        log.error("webhook.db_unavailable", provider=provider, error=str(exc)[:200])
        count(provider, "db_unavailable")
        response = answer(503, error="unavailable", message="storage unavailable, retry later")
        response.headers["Retry-After"] = "5"
        return response
    if not accepted.created:
        count(provider, "duplicate")
        return answer(200, status="duplicate", delivery_id=accepted.delivery_id)
    count(provider, "accepted")
    return answer(202, status="queued" if accepted.queued else "stored", delivery_id=accepted.delivery_id)
