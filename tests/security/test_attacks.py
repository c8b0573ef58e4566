"""Attacks on the way in: forged or replayed signatures, hostile XML, and the admin/replay endpoints
without credentials. Each is refused and leaves no delivery and no queued message behind."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.models import Delivery
from app.webhooks.salesforce import SIGNATURE_HEADER, TIMESTAMP_HEADER
from app.webhooks.signature import sign
from tests.conftest import TEST_SECRET, make_settings

ORG_ID = "00D8c000002JHMDEA4"
SF_SECRET = "sf-callout-secret-for-attacks"
ADMIN_TOKEN = "admin-token-for-attack-tests-0123456789"
BODY = b'{"ticket_id":"4242","event":"created"}'
SF_BODY = json.dumps({"organizationId": ORG_ID, "caseId": "500Ri00000PThftIAD", "eventId": "e-1"}).encode()


@pytest.fixture
def settings(var_dir):  # noqa: ANN001, ANN201
    return make_settings(var_dir, SALESFORCE_ORG_ID=ORG_ID, SALESFORCE_WEBHOOK_SECRET=SF_SECRET, ADMIN_TOKEN=ADMIN_TOKEN)


def stored(app) -> int:  # noqa: ANN001
    with app.config["SESSIONS"]() as session:
        return session.scalar(select(func.count()).select_from(Delivery))


def ts(offset: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def hex_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()


# Each attack: (name, timestamp header or None, signature header or None, body actually sent)
def signature_attacks(secret: str, body: bytes) -> list[tuple[str, str | None, str | None, bytes]]:
    now = ts()
    good = sign(secret, now, body)
    return [
        ("missing signature", now, None, body),
        ("missing timestamp", None, good, body),
        ("both missing", None, None, body),
        ("empty signature", now, "", body),
        ("hex instead of base64", now, hex_signature(secret, now, body), body),
        ("base64url alphabet", now, base64.urlsafe_b64encode(base64.b64decode(good)).decode().replace("=", ""), body),
        ("truncated signature", now, good[:-4], body),
        ("signature of the body alone", now, base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode(), body),
        ("tampered body", now, good, body.replace(b"e", b"E", 1)),
        ("body with trailing byte", now, good, body + b" "),
        ("replayed old timestamp", ts(-301), sign(secret, ts(-301), body), body),
        ("replayed day-old timestamp", ts(-86400), sign(secret, ts(-86400), body), body),
        ("future timestamp", ts(+301), sign(secret, ts(+301), body), body),
        ("timestamp swapped after signing", ts(-1), good, body),
        ("another account's secret", now, sign(secret + "-other-account", now, body), body),
        ("the documented test secret", now, sign(TEST_SECRET if secret != TEST_SECRET else "x", now, body), body),
        ("empty secret", now, sign("", now, body), body),
        ("unparseable timestamp", "yesterday", sign(secret, "yesterday", body), body),
    ]


@pytest.mark.parametrize("attack", [a[0] for a in signature_attacks(TEST_SECRET, BODY)])
def test_zendesk_signature_attacks_are_refused(client, app, enqueued, attack: str) -> None:  # noqa: ANN001
    _, timestamp, signature, body = next(a for a in signature_attacks(TEST_SECRET, BODY) if a[0] == attack)
    headers = {"Content-Type": "application/json"}
    if timestamp is not None:
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Zendesk-Webhook-Signature"] = signature
    response = client.post("/webhooks/zendesk", data=body, headers=headers)
    assert response.status_code == 401, attack
    assert stored(app) == 0 and enqueued == []


@pytest.mark.parametrize("attack", [a[0] for a in signature_attacks(SF_SECRET, SF_BODY)])
def test_salesforce_callout_signature_attacks_are_refused(client, app, enqueued, attack: str) -> None:  # noqa: ANN001
    _, timestamp, signature, body = next(a for a in signature_attacks(SF_SECRET, SF_BODY) if a[0] == attack)
    headers = {"Content-Type": "application/json"}
    if timestamp is not None:
        headers[TIMESTAMP_HEADER] = timestamp
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    response = client.post("/webhooks/salesforce/json", data=body, headers=headers)
    assert response.status_code == 401, attack
    assert stored(app) == 0 and enqueued == []


def test_a_valid_signature_is_accepted_once_and_its_replay_collapses(client, app, enqueued) -> None:  # noqa: ANN001
    now = ts()
    headers = {"X-Zendesk-Webhook-Signature-Timestamp": now, "X-Zendesk-Webhook-Signature": sign(TEST_SECRET, now, BODY)}
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers).status_code == 202
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers).status_code == 200  # replay inside the window
    assert stored(app) == 1 and len(enqueued) == 1


# -- hostile XML on the SOAP endpoint -------------------------------------------------------------------------
class Listener(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY leak "pwned">')

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def listener():  # noqa: ANN201
    Listener.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def envelope(subject: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG_ID}</OrganizationId>'
        '<Notification><Id>04lRi00000SEBI9IAP</Id><sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>500Ri00000PThftIAD</sf:Id><sf:Subject>{subject}</sf:Subject></sObject></Notification>"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def xml_attacks(url: str) -> dict[str, bytes]:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "billion laughs": envelope("&l9;", f'<!DOCTYPE e [<!ENTITY l0 "lol">{lol}]>'),
        "quadratic blowup": envelope("&a;" * 2000, f'<!DOCTYPE e [<!ENTITY a "{"x" * 50_000}">]>'),
        "external entity (file)": envelope("&xxe;", '<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
        "external entity (http, SSRF)": envelope("&xxe;", f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "{url}/xxe">]>'),
        "parameter entity": envelope("&leak;", f'<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}/param"> %p;]>'),
        "external DTD": envelope("x", f'<!DOCTYPE e SYSTEM "{url}/dtd">'),
        "xinclude": envelope(f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/xinclude" parse="text"/>'),
        "nested 30,000 deep": envelope("<a>" * 30_000 + "</a>" * 30_000),
        "utf-7 declared": b'<?xml version="1.0" encoding="UTF-7"?>' + envelope("+ADw-x+AD4-").split(b"?>", 1)[1],
    }


@pytest.mark.parametrize("attack", list(xml_attacks("http://x")))
def test_xml_bombs_and_external_entities_are_refused(client, app, enqueued, listener, attack: str) -> None:  # noqa: ANN001
    body = xml_attacks(listener)[attack]
    started = time.perf_counter()
    response = client.post("/webhooks/salesforce", data=body, headers={"Content-Type": "text/xml; charset=utf-8"})
    assert time.perf_counter() - started < 2, "an entity was expanded"
    assert b"root:" not in response.data and b"pwned" not in response.data
    assert Listener.hits == [], "the parser fetched an external resource"
    if attack == "xinclude":  # harmless text to a parser that ignores XInclude; never fetched (checked above)
        assert response.status_code == 200
    else:
        assert response.status_code == 400, (attack, response.data[:200])
        assert stored(app) == 0 and enqueued == []


# -- authentication on admin and replay ----------------------------------------------------------------------
ADMIN_ROUTES = [("GET", "/admin"), ("GET", "/admin/deliveries/1"), ("POST", "/admin/deliveries/1/replay")]
BAD_CREDENTIALS = {
    "none": {},
    "empty bearer": {"headers": {"Authorization": "Bearer "}},
    "wrong bearer": {"headers": {"Authorization": "Bearer not-the-token"}},
    "token prefix": {"headers": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}},
    "wrong query token": {"query_string": {"token": "nope"}},
    "basic auth": {"headers": {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_TOKEN}x".encode()).decode()}},
    "wrong cookie": {"cookie": "nope"},
}


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
def test_admin_and_replay_require_the_token(client, app, enqueued, method: str, path: str, credentials: str) -> None:  # noqa: ANN001
    headers = {"X-Zendesk-Webhook-Signature-Timestamp": ts()}
    headers["X-Zendesk-Webhook-Signature"] = sign(TEST_SECRET, headers["X-Zendesk-Webhook-Signature-Timestamp"], BODY)
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers).status_code == 202
    kwargs = dict(BAD_CREDENTIALS[credentials])
    if "cookie" in kwargs:
        client.set_cookie("admin_token", kwargs.pop("cookie"))
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == 401
    assert b"ticket" not in response.data.lower() or b"4242" not in response.data
    assert len(enqueued) == 1  # the replay did not run


def test_admin_with_the_token_works(client, app, enqueued) -> None:  # noqa: ANN001
    assert client.get("/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    assert client.get("/admin", headers={"Authorization": f"bearer  {ADMIN_TOKEN}"}).status_code == 200  # scheme is case-insensitive


def test_the_replay_button_says_what_happened(client, app, enqueued) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from app.models import DeliveryStatus

    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "text/html"}
    page = client.post("/admin/deliveries/999/replay", data={"go": "1"}, headers=auth, follow_redirects=True)
    assert page.status_code == 200 and b"Delivery 999 cannot be replayed" in page.data
    timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"X-Zendesk-Webhook-Signature-Timestamp": timestamp, "X-Zendesk-Webhook-Signature": sign(TEST_SECRET, timestamp, BODY)}
    delivery_id = client.post("/webhooks/zendesk", data=BODY, headers=headers).json["delivery_id"]
    with app.config["SESSIONS"]() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=DeliveryStatus.FAILED))
        session.commit()
    page = client.post(f"/admin/deliveries/{delivery_id}/replay", data={"go": "1"}, headers=auth, follow_redirects=True)
    assert f"Delivery {delivery_id} is queued again.".encode() in page.data and enqueued[-1] == delivery_id


def test_production_without_admin_token_has_no_admin_at_all(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app

    settings = make_settings(var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="bot@acme.test",
                             ZENDESK_API_TOKEN="tok")
    client = create_app(settings, enqueue=enqueued).test_client()
    for method, path in ADMIN_ROUTES:
        for kwargs in ({}, {"headers": {"Authorization": "Bearer "}}, {"query_string": {"token": ""}}):
            assert client.open(path, method=method, **kwargs).status_code == 401
    assert client.get("/sandbox").status_code == 404  # the sandbox desk exists only in the embedded default
