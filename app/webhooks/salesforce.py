"""POST /webhooks/salesforce (SOAP Outbound Messages) and /webhooks/salesforce/json (Flow/Apex callouts).

Outbound Messages carry no signature: the sender is checked by OrganizationId (and an optional secret
`?token=` in the endpoint URL). Salesforce retries a message for 24 hours until it gets `<Ack>true</Ack>`,
so the Ack is sent only after every notification in it is stored; a notification it sends again is
collapsed on its `Id`. Outbound Message facts: developer.salesforce.com/docs sforce_api_om_outboundmessaging.
"""
from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, replace
from xml.etree.ElementTree import Element, ParseError, tostring

import structlog
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from app import metrics
from app.webhooks.common import error, timed, verify_or_reject
from app.webhooks.http import BodyTooLarge, Intake, Reply, WebhookRequest, json_reply
from app.webhooks.intake import Accepted, IncomingEvent, accept

log = structlog.get_logger("webhooks")

PROVIDER = "salesforce"
SIGNATURE_HEADER = "X-Triage-Signature"
TIMESTAMP_HEADER = "X-Triage-Timestamp"
MAX_NOTIFICATIONS = 100
MAX_JSON_CASES = 100

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)
# Which field of each sObject type names the Case. An Outbound Message on CaseComment or EmailMessage
# (a customer replied) triages the parent Case; other types are acknowledged and ignored.
CASE_ID_FIELD = {"Case": "Id", "CaseComment": "ParentId", "EmailMessage": "ParentId", "FeedItem": "ParentId"}


class BadMessage(ValueError):
    pass


@dataclass(frozen=True)
class Notification:
    id: str
    sobject_type: str
    case_id: str
    last_modified_by: str
    body: bytes


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: tuple[Notification, ...]


def same_org(configured: str, incoming: str) -> bool:
    """Org Ids compare on their case-sensitive 15-character form; the 18-character one adds a checksum."""
    if len(configured) not in (15, 18) or len(incoming) not in (15, 18):
        return False
    return hmac.compare_digest(configured[:15].encode(), incoming[:15].encode())


def _text(parent: Element, tag: str) -> str:
    child = parent.find(tag)
    return (child.text or "").strip() if child is not None else ""


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """Parse with DTDs forbidden: no entities, no external references, so XXE and billion laughs fail."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:  # LookupError: encoding="bogus"
        raise BadMessage(f"unparseable XML: {type(exc).__name__}") from exc
    message = root.find(f"{{{SOAP_ENV}}}Body/{{{OUTBOUND}}}notifications")
    if message is None:
        raise BadMessage("no soapenv:Body/notifications element")
    organization_id = _text(message, f"{{{OUTBOUND}}}OrganizationId")
    if not organization_id:
        raise BadMessage("no OrganizationId")
    elements = message.findall(f"{{{OUTBOUND}}}Notification")
    if not 1 <= len(elements) <= MAX_NOTIFICATIONS:
        raise BadMessage(f"{len(elements)} notifications (Salesforce sends 1 to {MAX_NOTIFICATIONS})")
    notifications = []
    for element in elements:
        notification_id = _text(element, f"{{{OUTBOUND}}}Id")
        sobject = element.find(f"{{{OUTBOUND}}}sObject")
        if not notification_id or sobject is None:
            raise BadMessage("a Notification without Id or sObject")
        sobject_type = sobject.get(XSI_TYPE, "").rpartition(":")[2]
        fields = {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in sobject}
        try:
            serialized = tostring(element)
        except RecursionError as exc:  # ElementTree serializes recursively; no real sObject nests this deep
            raise BadMessage("a Notification nested too deeply") from exc
        notifications.append(
            Notification(
                id=notification_id,
                sobject_type=sobject_type,
                case_id=fields.get(CASE_ID_FIELD.get(sobject_type, ""), ""),
                last_modified_by=fields.get("LastModifiedById", ""),
                body=serialized,
            )
        )
    return OutboundMessage(organization_id, _text(message, f"{{{OUTBOUND}}}ActionId"), tuple(notifications))


def store_all(intake: Intake, events: list[IncomingEvent]) -> list[Accepted]:
    """Store every event (each commit is durable) before anyone is told they are safe.

    A failure part-way raises: the sender retries the whole batch, and the ones already stored collapse
    on their dedupe key.
    """
    return [accept(intake.sessions, event, intake.enqueue) for event in events]


XML = "text/xml; charset=utf-8"


def _soap_fault(request: WebhookRequest, status: int, code: str, message: str) -> Reply:
    metrics.WEBHOOKS.labels(provider=PROVIDER, result=code).inc()
    log.warning("webhook.rejected", provider=PROVIDER, code=code, status=status, remote=request.remote_addr)
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
        f"<soapenv:Fault><faultcode>soapenv:{'Client' if status < 500 else 'Server'}</faultcode>"
        f"<faultstring>{code}: {message}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Reply(status, body.encode(), XML, (("Retry-After", "30"),) if status == 503 else ())


def _is_own_write(intake: Intake, last_modified_by: str) -> bool:
    api_user = intake.settings.SALESFORCE_API_USER_ID
    return bool(api_user and last_modified_by and last_modified_by[:15] == api_user[:15])


@timed(PROVIDER)
def salesforce_outbound_message(request: WebhookRequest, intake: Intake) -> Reply:
    settings = intake.settings
    token = settings.SALESFORCE_OUTBOUND_TOKEN
    if token and not hmac.compare_digest(request.query("token").encode(), token.encode()):
        return _soap_fault(request, 401, "bad_token", "the endpoint URL must carry the configured ?token=")
    try:
        body = request.body(settings.SALESFORCE_MAX_MESSAGE_BYTES)
    except BodyTooLarge:  # a fault Salesforce shows in its Outbound Message queue, not our JSON
        return _soap_fault(request, 413, "too_large", f"message over {settings.SALESFORCE_MAX_MESSAGE_BYTES} bytes")
    try:
        message = parse_outbound_message(body)
    except BadMessage as exc:
        return _soap_fault(request, 400, "bad_payload", str(exc))
    if not settings.SALESFORCE_ORG_ID:
        return _soap_fault(request, 403, "org_not_configured", "set SALESFORCE_ORG_ID to accept Outbound Messages")
    if not same_org(settings.SALESFORCE_ORG_ID, message.organization_id):
        return _soap_fault(request, 403, "wrong_org", "OrganizationId does not match SALESFORCE_ORG_ID")
    events = []
    for notification in message.notifications:
        if not notification.case_id:
            log.info("webhook.ignored", provider=PROVIDER, sobject=notification.sobject_type, notification=notification.id)
            metrics.WEBHOOKS.labels(provider=PROVIDER, result="ignored").inc()
        elif _is_own_write(intake, notification.last_modified_by):
            metrics.WEBHOOKS.labels(provider=PROVIDER, result="skipped_loop_guard").inc()
        else:
            events.append(
                IncomingEvent(
                    provider=PROVIDER,
                    account_id=message.organization_id,
                    ticket_id=notification.case_id,
                    event_kind=f"om_{notification.sobject_type.lower()}",
                    dedupe_key=f"notification:{notification.id}",
                    invocation_id=message.action_id,
                    body=notification.body,
                )
            )
    try:
        accepted = store_all(intake, events)
    except Exception as exc:  # storage down or locked: no Ack, so Salesforce sends the message again
        log.error("webhook.store_failed", provider=PROVIDER, error=str(exc)[:200])
        return _soap_fault(request, 503, "unavailable", "storage unavailable, retry later")
    for result in accepted:
        metrics.WEBHOOKS.labels(provider=PROVIDER, result="accepted" if result.created else "duplicate").inc()
    return Reply(200, ACK.encode(), XML)


def parse_callout(body: bytes) -> tuple[str, list[dict]]:
    """{"organizationId", "caseId" | "cases": [{"caseId", "eventId"?, "lastModifiedDate"?, ...}]}"""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadMessage("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise BadMessage("body must be a JSON object")
    cases = payload.get("cases") if "cases" in payload else [payload]
    if not isinstance(cases, list) or not 1 <= len(cases) <= MAX_JSON_CASES:
        raise BadMessage(f"'cases' must list 1 to {MAX_JSON_CASES} cases")
    for case in cases:
        case_id = str(case.get("caseId") or "") if isinstance(case, dict) else ""
        if not (case_id.isalnum() and len(case_id) in (15, 18)):
            raise BadMessage("every case needs a 15- or 18-character caseId")
    return str(payload.get("organizationId") or ""), cases


@timed(PROVIDER)
def salesforce_callout(request: WebhookRequest, intake: Intake) -> Reply:
    settings = intake.settings
    body = request.body(settings.SALESFORCE_MAX_MESSAGE_BYTES)
    rejected = verify_or_reject(
        request, intake, PROVIDER, settings.SALESFORCE_WEBHOOK_SECRET, request.header(TIMESTAMP_HEADER), request.header(SIGNATURE_HEADER), body
    )
    if rejected:
        return rejected
    try:
        organization_id, cases = parse_callout(body)
    except BadMessage as exc:
        return error(request, 400, "bad_payload", str(exc), provider=PROVIDER)
    if organization_id and settings.SALESFORCE_ORG_ID and not same_org(settings.SALESFORCE_ORG_ID, organization_id):
        return error(request, 403, "wrong_org", "organizationId does not match SALESFORCE_ORG_ID", provider=PROVIDER)
    account_id = organization_id or settings.SALESFORCE_ORG_ID
    events = []
    for case in cases:
        if _is_own_write(intake, str(case.get("lastModifiedById") or "")):
            continue
        case_id, event = str(case["caseId"]), str(case.get("event") or "updated")[:40]
        incoming = IncomingEvent(PROVIDER, account_id, case_id, event, "", str(case.get("eventId") or "")[:100], json.dumps(case, sort_keys=True).encode())
        if case.get("eventId"):  # per Case: a Flow may send one event id for every Case of a batch
            key = f"event:{case_id[:15]}:{case['eventId']}"
        elif case.get("lastModifiedDate"):
            key = f"case:{case_id}:{event}:{case['lastModifiedDate']}"
        else:
            key = f"body:{incoming.body_hash}"
        events.append(replace(incoming, dedupe_key=key))
    if not events:
        metrics.WEBHOOKS.labels(provider=PROVIDER, result="skipped_loop_guard").inc()
        return json_reply(200, status="skipped", reason="loop_guard")
    try:
        accepted = store_all(intake, events)
    except Exception as exc:
        log.error("webhook.store_failed", provider=PROVIDER, error=str(exc)[:200])
        return json_reply(503, (("Retry-After", "5"),), error="unavailable", message="storage unavailable, retry later")
    created = [a for a in accepted if a.created]
    metrics.WEBHOOKS.labels(provider=PROVIDER, result="accepted" if created else "duplicate").inc()
    return json_reply(
        202 if created else 200, status="queued" if created else "duplicate", delivery_ids=[a.delivery_id for a in accepted]
    )
