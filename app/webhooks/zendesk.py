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

from app.triage.ticket import LOOP_GUARD_TAG
from app.webhooks.common import error, intake_response, timed, verify_or_reject
from app.webhooks.http import Intake, Reply, WebhookRequest
from app.webhooks.intake import IncomingEvent

_TICKET_ID_RE = re.compile(rb'"ticket_id"\s*:\s*"?\s*(\d{1,19})')


@dataclass(frozen=True)
class ZendeskEvent:
    ticket_id: str
    kind: str  # created | updated | <event-subscription type, e.g. comment_added> | unknown
    updated_at: str
    actor_id: str
    tags: tuple[str, ...]
    subscription: bool = False  # a `zen:event-type:ticket.*` envelope, not a trigger body


def parse_event(body: bytes) -> ZendeskEvent | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays nested 100k deep
        return _salvage(body)
    if not isinstance(payload, dict):
        return None
    ticket_id = _ticket_id(payload)
    if not ticket_id:
        return None
    subscription, kind = _kind(payload)
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    updated_at = str(payload.get("updated_at") or detail.get("updated_at") or "").strip()
    actor = str(payload.get("current_user_id") or payload.get("updated_by_id") or detail.get("actor_id") or "").strip()
    raw_tags = payload.get("tags") or detail.get("tags") or ""
    tags = tuple(raw_tags.split() if isinstance(raw_tags, str) else (str(t) for t in raw_tags) if isinstance(raw_tags, list) else ())
    return ZendeskEvent(ticket_id, kind, updated_at, actor, tags, subscription)


def _kind(payload: dict) -> tuple[bool, str]:
    """(from an event subscription?, kind). Event subscriptions name the event in `type` and carry an
    `event` *object* (`{"current": ..., "previous": ...}`); trigger bodies carry whatever the admin wrote."""
    kind = payload.get("type")
    if isinstance(kind, str) and kind.strip().lower().startswith("zen:event-type:ticket."):
        return True, kind.strip().lower().rsplit(".", 1)[-1][:40]
    for value in (payload.get("event"), kind):
        if isinstance(value, (str, int)) and str(value).strip():
            return False, str(value).strip().lower()[:40]
    return False, "unknown"


_FIELD_RE = {name: re.compile(rb'"' + name.encode() + rb'"\s*:\s*"([^"]{0,200})"') for name in ("event", "updated_at", "current_user_id", "tags")}


def _salvage(body: bytes) -> ZendeskEvent | None:
    """A trigger body that placeholders broke (a quote in the subject): the fields we use, one by one."""
    match = _TICKET_ID_RE.search(body) if body.lstrip().startswith(b"{") else None
    if not match:
        return None

    def field(name: str) -> str:
        found = _FIELD_RE[name].search(body)
        return found.group(1).decode("utf-8", "replace").strip() if found else ""

    return ZendeskEvent(
        match.group(1).decode(), field("event").lower()[:40] or "unknown", field("updated_at"), field("current_user_id"),
        tuple(field("tags").split()),
    )


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

    Retries reuse the invocation id; a duplicate *invocation* gets a new one. Creation happens once per
    ticket, so its key is the ticket. One update fires one event-subscription call per changed thing
    (comment, status, tags) with the same second-precision `updated_at`: one delivery for all. A trigger's
    `{{ticket.updated_at_with_timestamp}}` has only minutes, so two replies in one minute would share it:
    trigger updates are keyed by invocation, and a duplicate invocation's extra delivery finds our note
    already there in the worker (`_nothing_new`) and writes nothing.
    """
    if event.kind == "created":
        return f"ticket:{event.ticket_id}:created"
    if event.subscription and event.updated_at:
        return f"ticket:{event.ticket_id}:updated:{event.updated_at}"
    if invocation_id:
        return f"invocation:{invocation_id}"
    return f"body:{body_hash}"


@timed("zendesk")
def zendesk_webhook(request: WebhookRequest, intake: Intake) -> Reply:
    settings = intake.settings
    body = request.body(settings.MAX_WEBHOOK_BYTES)
    rejected = verify_or_reject(
        request,
        intake,
        "zendesk",
        intake.zendesk_secret,
        request.header("X-Zendesk-Webhook-Signature-Timestamp"),
        request.header("X-Zendesk-Webhook-Signature"),
        body,
    )
    if rejected:
        return rejected
    event = parse_event(body)
    if event is None:
        return error(request, 400, "bad_payload", "body must be JSON with a numeric ticket_id", provider="zendesk")
    bot_user = settings.ZENDESK_BOT_USER_ID
    if (bot_user and event.actor_id == bot_user) or (event.kind == "created" and LOOP_GUARD_TAG in event.tags):
        # Caused by our own write-back: acknowledge so Zendesk does not retry, but do nothing.
        return intake_response(intake, "zendesk", None, skipped="loop_guard")
    invocation_id = request.header("X-Zendesk-Webhook-Invocation-Id") or ""
    incoming = IncomingEvent(
        provider=intake.zendesk_provider,
        account_id=request.header("X-Zendesk-Account-Id") or "",
        ticket_id=event.ticket_id,
        event_kind=event.kind,
        dedupe_key=dedupe_key(event, invocation_id, hashlib.sha256(body).hexdigest()),
        invocation_id=invocation_id,
        body=body,
    )
    return intake_response(intake, "zendesk", incoming)
