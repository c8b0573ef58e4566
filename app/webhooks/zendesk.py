"""POST /webhooks/zendesk: verify the signature, store the delivery, enqueue, answer 202.

Zendesk trigger bodies are written by the admin with placeholders that render as plain text, so a
subject with a quote can break the JSON. We only need the ticket id (the worker re-fetches the ticket),
so a body that fails to parse is searched for `"ticket_id"` before it is refused.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from flask import Blueprint, current_app

from app.triage.ticket import LOOP_GUARD_TAG
from app.webhooks.common import error, header, intake_response, read_body, timed, verify_or_reject
from app.webhooks.intake import IncomingEvent

bp = Blueprint("zendesk_webhooks", __name__)

_TICKET_ID_RE = re.compile(rb'"ticket_id"\s*:\s*"?\s*(\d{1,19})')


@dataclass(frozen=True)
class ZendeskEvent:
    ticket_id: str
    kind: str  # created | updated | <event-subscription type> | unknown
    updated_at: str
    actor_id: str
    tags: tuple[str, ...]


def parse_event(body: bytes) -> ZendeskEvent | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays nested 100k deep
        match = _TICKET_ID_RE.search(body) if body.lstrip().startswith(b"{") else None
        return ZendeskEvent(match.group(1).decode(), "unknown", "", "", ()) if match else None
    if not isinstance(payload, dict):
        return None
    ticket_id = _ticket_id(payload)
    if not ticket_id:
        return None
    kind = str(payload.get("event") or payload.get("type") or "unknown").strip().lower()
    if kind.startswith("zen:event-type:ticket."):
        kind = kind.rsplit(".", 1)[-1]
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    updated_at = str(payload.get("updated_at") or detail.get("updated_at") or "").strip()
    actor = str(payload.get("current_user_id") or payload.get("updated_by_id") or detail.get("actor_id") or "").strip()
    raw_tags = payload.get("tags") or detail.get("tags") or ""
    tags = tuple(raw_tags.split() if isinstance(raw_tags, str) else (str(t) for t in raw_tags) if isinstance(raw_tags, list) else ())
    return ZendeskEvent(ticket_id, kind, updated_at, actor, tags)


def _ticket_id(payload: dict) -> str:
    candidates = [payload.get("ticket_id")]
    if isinstance(payload.get("ticket"), dict):
        candidates.append(payload["ticket"].get("id"))
    if str(payload.get("type", "")).startswith("zen:event-type:ticket") and isinstance(payload.get("detail"), dict):
        candidates.append(payload["detail"].get("id"))
    for value in candidates:
        text = str(value).strip() if value is not None else ""
        if text.isdigit() and len(text) <= 19:
            return text
    return ""


def dedupe_key(event: ZendeskEvent, invocation_id: str, body_hash: str) -> str:
    """One delivery per real change, however many times Zendesk sends it.

    Retries reuse the invocation id, but a duplicate *invocation* gets a new one, so the ticket-level
    key wins when the body tells us which change this is: creation happens once per ticket, and an
    update is identified by the ticket's updated_at.
    """
    if event.kind == "created":
        return f"ticket:{event.ticket_id}:created"
    if event.updated_at:
        return f"ticket:{event.ticket_id}:updated:{event.updated_at}"
    if invocation_id:
        return f"invocation:{invocation_id}"
    return f"body:{body_hash}"


@bp.post("/webhooks/zendesk")
@timed("zendesk")
def zendesk_webhook():
    settings = current_app.config["SETTINGS"]
    body = read_body(settings.MAX_WEBHOOK_BYTES)
    rejected = verify_or_reject(
        "zendesk",
        settings.webhook_secret,
        header("HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP"),
        header("HTTP_X_ZENDESK_WEBHOOK_SIGNATURE"),
        body,
    )
    if rejected:
        return rejected
    event = parse_event(body)
    if event is None:
        return error(400, "bad_payload", "body must be JSON with a numeric ticket_id", provider="zendesk")
    bot_user = settings.ZENDESK_BOT_USER_ID
    if (bot_user and event.actor_id == bot_user) or (event.kind == "created" and LOOP_GUARD_TAG in event.tags):
        # Caused by our own write-back: acknowledge so Zendesk does not retry, but do nothing.
        return intake_response("zendesk", None, skipped="loop_guard")
    invocation_id = header("HTTP_X_ZENDESK_WEBHOOK_INVOCATION_ID") or ""
    incoming = IncomingEvent(
        provider=current_app.config["ZENDESK_PROVIDER"],
        account_id=header("HTTP_X_ZENDESK_ACCOUNT_ID") or "",
        ticket_id=event.ticket_id,
        event_kind=event.kind,
        dedupe_key=dedupe_key(event, invocation_id, hashlib.sha256(body).hexdigest()),
        invocation_id=invocation_id,
        body=body,
    )
    return intake_response("zendesk", incoming)
