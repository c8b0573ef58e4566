"""Map HTTP failures from any requests-based SDK (zenpy, simple-salesforce) to IntegrationError."""
from __future__ import annotations

import random

import requests

from app.ports import IntegrationError

PERMANENT_STATUSES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 422: "invalid"}


def parse_retry_after(value: str | None, default: float = 30.0) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default  # HTTP-date form: rare for these APIs; a fixed pause is safe.


def error_for_response(response: requests.Response, provider: str) -> IntegrationError:
    status = response.status_code
    snippet = response.text[:300] if response.text else ""
    message = f"{provider} {response.request.method if response.request else ''} {response.url} -> {status}: {snippet}"
    if status == 429:
        return IntegrationError(
            message, retry_after=parse_retry_after(response.headers.get("Retry-After")), reason="rate_limited", status=status
        )
    if status == 409:
        return IntegrationError(message, conflict=True, reason="conflict", status=status)
    if status in PERMANENT_STATUSES:
        return IntegrationError(message, permanent=True, reason=PERMANENT_STATUSES[status], status=status)
    if status >= 500:
        return IntegrationError(message, reason="server_error", status=status)
    return IntegrationError(message, permanent=True, reason=f"http_{status}", status=status)


def error_for_exception(exc: requests.RequestException, provider: str) -> IntegrationError:
    reason = "timeout" if isinstance(exc, requests.Timeout) else "connection_error"
    return IntegrationError(f"{provider}: {type(exc).__name__}: {exc}", reason=reason)


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter: spreads retries of many workers after a shared outage."""
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt - 1)))) + 1.0
