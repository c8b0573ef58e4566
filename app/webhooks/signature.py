"""HMAC-SHA256 webhook signatures with a timestamp (Zendesk's scheme, reused for Salesforce callouts).

signature = base64(HMAC_SHA256(key=secret bytes, msg=timestamp header + raw body)).
https://developer.zendesk.com/documentation/webhooks/verifying/
"""
from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str = ""  # feeds the metric name webhook.<provider>.error.<reason>


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.digest(secret.encode(), timestamp.encode() + body, "sha256")  # one call into OpenSSL
    return base64.b64encode(digest).decode()


def parse_timestamp(value: str) -> datetime | None:
    """Zendesk sends ISO-8601 UTC (`2021-03-25T05:09:27Z`); unix seconds are accepted for Apex callers."""
    value = value.strip()
    if value.isdigit():
        try:
            return datetime.fromtimestamp(int(value), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):  # "²" is a digit to isdigit(); 10**30 is past any clock
            return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    tolerance_seconds: int,
    now: datetime | None = None,
) -> Verification:
    if not secret:
        return Verification(False, "no_secret_configured")
    if not signature:
        return Verification(False, "missing_signature")
    if not timestamp:
        return Verification(False, "missing_timestamp")
    sent_at = parse_timestamp(timestamp)
    if sent_at is None:
        return Verification(False, "bad_timestamp")
    now = now or datetime.now(timezone.utc)
    # Both directions: an old timestamp is a replay, a future one is a forged attempt to extend the window.
    if abs((now - sent_at).total_seconds()) > tolerance_seconds:
        return Verification(False, "stale_timestamp")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return Verification(False, "bad_signature")
    return Verification(True)


def zendesk_headers(secret: str, body: bytes, *, account_id: str = "", invocation_id: str = "", timestamp: str = "") -> dict[str, str]:
    """The headers Zendesk sends with a signed webhook (for the demo, benchmarks and tests)."""
    timestamp = timestamp or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Zendesk Webhook",
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign(secret, timestamp, body),
    }
    if account_id:
        headers["X-Zendesk-Account-Id"] = account_id
    if invocation_id:
        headers["X-Zendesk-Webhook-Invocation-Id"] = invocation_id
    return headers
