"""Fuzz every webhook endpoint (hypothesis, 10,200 cases by default): no 5xx and no unhandled exception.

Half of the Zendesk and Salesforce JSON cases carry a valid signature, so the parsers behind the
signature check are fuzzed too, not only the rejection path. The app runs with TESTING=True, so an
unhandled exception surfaces here instead of turning into a 500 page. FUZZ_SCALE=0.1 for a quick run.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.webhooks.salesforce import SIGNATURE_HEADER, TIMESTAMP_HEADER
from app.webhooks.signature import sign
from tests.conftest import TEST_SECRET, Enqueued, make_settings

ORG_ID = "00D8c000002JHMDEA4"
SF_SECRET = "sf-callout-secret-for-fuzz"
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
CASES = {"zendesk": 3400, "salesforce_soap": 3400, "salesforce_json": 3400}  # 10,200 in all


def fuzz_settings(endpoint: str):  # noqa: ANN201
    return settings(
        max_examples=max(10, int(CASES[endpoint] * SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory):  # noqa: ANN001, ANN201
    from app.web import create_app

    var = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        make_settings(var, SALESFORCE_ORG_ID=ORG_ID, SALESFORCE_WEBHOOK_SECRET=SF_SECRET, LOG_LEVEL="ERROR"),
        enqueue=Enqueued(),
    )
    app.config["TESTING"] = True  # exceptions propagate to the test instead of becoming a 500
    return app.test_client()


# -- strategies ---------------------------------------------------------------------------------------------
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
digits = st.from_regex(r"\A[0-9]{1,25}\Z")
deep_nesting = st.integers(500, 120_000).map(lambda n: ("[" * n + "]" * n).encode())


def now_iso(offset_seconds: int = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


timestamps = st.one_of(
    st.integers(-400, 400).map(now_iso),  # inside and just outside the 5-minute window
    st.integers(-400, 400).map(lambda s: str(int(datetime.now(timezone.utc).timestamp()) + s)),
    digits,
    header_text,
    st.sampled_from(["", " ", "²", "٣٣٣", "9" * 40, "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "nan"]),
)
zendesk_payloads = st.fixed_dictionaries(
    {"ticket_id": st.one_of(digits, json_values, st.integers())},
    optional={
        "event": json_values, "type": st.one_of(json_values, st.just("zen:event-type:ticket.created")),
        "detail": json_values, "tags": json_values, "updated_at": json_values, "current_user_id": json_values,
        "ticket": json_values,
    },
).map(lambda d: json.dumps(d).encode())
json_bodies = st.one_of(
    zendesk_payloads,
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    deep_nesting,
)
signing = st.sampled_from(["valid", "valid", "none", "garbage", "other_secret"])


def signed_headers(mode: str, secret: str, timestamp: str, body: bytes, signature_garbage: str) -> tuple[str, str]:
    if mode == "valid":
        return timestamp, sign(secret, timestamp, body)
    if mode == "other_secret":
        return timestamp, sign(secret + "x", timestamp, body)
    if mode == "garbage":
        return timestamp, signature_garbage
    return "", ""


def assert_handled(response) -> None:  # noqa: ANN001
    assert response.status_code < 500, (response.status_code, response.data[:300])
    assert response.status_code in (200, 202, 400, 401, 403, 413), response.status_code


# -- Zendesk ------------------------------------------------------------------------------------------------
@fuzz_settings("zendesk")
@given(body=json_bodies, mode=signing, timestamp=timestamps, garbage=header_text,
       account=header_text, invocation=header_text, content_type=header_text)
@example(body=b'{"ticket_id":"1","tags":5}', mode="valid", timestamp=now_iso(), garbage="", account="", invocation="", content_type="")
@example(body=b"[" * 100_000, mode="valid", timestamp=now_iso(), garbage="", account="", invocation="", content_type="")
@example(body=b"{}", mode="garbage", timestamp="\xb2", garbage="x", account="", invocation="", content_type="")
@example(body=b"{}", mode="garbage", timestamp="9" * 30, garbage="x", account="", invocation="", content_type="")
def test_fuzz_zendesk_webhook(client, body, mode, timestamp, garbage, account, invocation, content_type) -> None:  # noqa: ANN001
    ts, signature = signed_headers(mode, TEST_SECRET, timestamp, body, garbage)
    headers = {"Content-Type": content_type, "X-Zendesk-Account-Id": account, "X-Zendesk-Webhook-Invocation-Id": invocation}
    if ts:
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = ts
    if signature:
        headers["X-Zendesk-Webhook-Signature"] = signature
    assert_handled(client.post("/webhooks/zendesk", data=body, headers=headers))


# -- Salesforce JSON callout --------------------------------------------------------------------------------
callout_bodies = st.one_of(
    st.fixed_dictionaries(
        {"caseId": st.one_of(st.from_regex(r"\A500[A-Za-z0-9]{12}([A-Za-z0-9]{3})?\Z"), json_values)},
        optional={"organizationId": st.one_of(st.just(ORG_ID), json_values), "eventId": json_values,
                  "lastModifiedDate": json_values, "event": json_values, "lastModifiedById": json_values},
    ).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(st.just("cases"), st.lists(json_values, max_size=5)).map(lambda d: json.dumps(d).encode()),
    json_bodies,
)


@fuzz_settings("salesforce_json")
@given(body=callout_bodies, mode=signing, timestamp=timestamps, garbage=header_text)
@example(body=b'{"cases": [' * 50_000, mode="valid", timestamp=now_iso(), garbage="")
def test_fuzz_salesforce_json_callout(client, body, mode, timestamp, garbage) -> None:  # noqa: ANN001
    ts, signature = signed_headers(mode, SF_SECRET, timestamp, body, garbage)
    headers = {"Content-Type": "application/json"}
    if ts:
        headers[TIMESTAMP_HEADER] = ts
    if signature:
        headers[SIGNATURE_HEADER] = signature
    assert_handled(client.post("/webhooks/salesforce/json", data=body, headers=headers))


# -- Salesforce SOAP Outbound Message -----------------------------------------------------------------------
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
xml_text = st.text(max_size=40).map(lambda t: escape("".join(c for c in t if c.isprintable())))


@st.composite
def outbound_messages(draw) -> bytes:  # noqa: ANN001
    notifications = []
    for _ in range(draw(st.integers(0, 4))):
        fields = draw(st.dictionaries(st.sampled_from(["Id", "ParentId", "LastModifiedById", "Subject", "CaseNumber"]), xml_text, max_size=4))
        sobject_type = draw(st.sampled_from(["sf:Case", "sf:CaseComment", "sf:EmailMessage", "sf:Account", "", "x:y:z"]))
        inner = "".join(f"<sf:{k}>{v}</sf:{k}>" for k, v in fields.items())
        notifications.append(
            f'<Notification><Id>{draw(xml_text)}</Id><sObject xsi:type="{sobject_type}" '
            f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{inner}</sObject></Notification>'
        )
    org = draw(st.one_of(st.just(ORG_ID), st.just(ORG_ID[:15]), xml_text))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="{OUTBOUND}">'
        f'<OrganizationId>{org}</OrganizationId><ActionId>{draw(xml_text)}</ActionId>{"".join(notifications)}'
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _mutate(data: tuple[bytes, int, bytes]) -> bytes:
    message, cut, junk = data
    cut = cut % (len(message) + 1)
    return message[:cut] + junk + message[cut:]


soap_bodies = st.one_of(
    outbound_messages(),
    st.tuples(outbound_messages(), st.integers(0, 10_000), st.binary(max_size=20)).map(_mutate),
    st.binary(max_size=600),
    st.integers(500, 60_000).map(lambda n: outbound_nested(n)),
)


def outbound_nested(depth: int) -> bytes:
    return (
        f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body><notifications xmlns="{OUTBOUND}"><OrganizationId>{ORG_ID}'
        f"</OrganizationId><Notification><Id>x</Id><sObject>{'<a>' * depth}{'</a>' * depth}</sObject>"
        "</Notification></notifications></e:Body></e:Envelope>"
    ).encode()


@fuzz_settings("salesforce_soap")
@given(body=soap_bodies, token=st.one_of(st.none(), header_text))
@example(body=outbound_nested(50_000), token=None)
@example(body=b'<?xml version="" encoding="A"?>', token=None)
def test_fuzz_salesforce_outbound_message(client, body, token) -> None:  # noqa: ANN001
    query = {"token": token} if token is not None else None
    response = client.post("/webhooks/salesforce", data=body, query_string=query,
                           headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    assert_handled(response)
