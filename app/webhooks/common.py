"""What every webhook view shares: body limits, signature rejection, intake and JSON answers."""
from __future__ import annotations

import structlog
from flask import current_app, jsonify, request
from sqlalchemy.exc import OperationalError

from app import metrics
from app.webhooks.intake import IncomingEvent, accept
from app.webhooks.signature import verify

log = structlog.get_logger("webhooks")


class BodyTooLarge(Exception):
    pass


def read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge()
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge()
    return body


def error(status: int, code: str, message: str, *, provider: str):  # noqa: ANN201
    metrics.WEBHOOKS.labels(provider=provider, result=code).inc()
    log.warning("webhook.rejected", provider=provider, code=code, status=status, remote=request.remote_addr)
    return jsonify(error=code, message=message), status


def verify_or_reject(provider: str, secret: str, timestamp: str | None, signature: str | None, body: bytes):  # noqa: ANN201
    result = verify(
        secret, timestamp, signature, body, tolerance_seconds=current_app.config["SETTINGS"].WEBHOOK_TOLERANCE_SECONDS
    )
    if result.ok:
        return None
    return error(401, result.reason, "signature verification failed", provider=provider)


def intake_response(provider: str, incoming: IncomingEvent | None, *, skipped: str = ""):  # noqa: ANN201
    if incoming is None:
        metrics.WEBHOOKS.labels(provider=provider, result=f"skipped_{skipped}").inc()
        return jsonify(status="skipped", reason=skipped), 200
    try:
        accepted = accept(current_app.config["SESSIONS"], incoming, current_app.config["ENQUEUE"])
    except OperationalError as exc:
        # Database locked or down: 503 makes the helpdesk retry later, and nothing was half-written.
        log.error("webhook.db_unavailable", provider=provider, error=str(exc)[:200])
        metrics.WEBHOOKS.labels(provider=provider, result="db_unavailable").inc()
        response = jsonify(error="unavailable", message="storage unavailable, retry later")
        response.headers["Retry-After"] = "5"
        return response, 503
    if not accepted.created:
        metrics.WEBHOOKS.labels(provider=provider, result="duplicate").inc()
        return jsonify(status="duplicate", delivery_id=accepted.delivery_id), 200
    metrics.WEBHOOKS.labels(provider=provider, result="accepted").inc()
    return jsonify(status="queued" if accepted.queued else "stored", delivery_id=accepted.delivery_id), 202
