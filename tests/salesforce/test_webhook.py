"""POST /webhooks/salesforce (SOAP Outbound Messages) and /webhooks/salesforce/json, replaying fixtures."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from app.models import Delivery
from app.webhooks.salesforce import ACK, SIGNATURE_HEADER, TIMESTAMP_HEADER, same_org
from app.webhooks.signature import sign
from tests.conftest import make_settings
from tests.salesforce.conftest import CASE_ID, LOGIN, ORG_ID, WEBHOOK_SECRET, fixture_bytes

SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def post_om(client, name: str, query: str = ""):  # noqa: ANN001, ANN201
    return client.post(f"/webhooks/salesforce{query}", data=fixture_bytes(f"{name}.xml"), headers=SOAP)


def deliveries(app) -> list[Delivery]:  # noqa: ANN001
    with app.config["SESSIONS"]() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_one_case_is_stored_queued_and_acked(client, app, enqueued) -> None:  # noqa: ANN001
    response = post_om(client, "outbound__one_case")
    assert response.status_code == 200
    assert response.content_type.startswith("text/xml")
    assert response.data.decode() == ACK
    [delivery] = deliveries(app)
    assert (delivery.provider, delivery.account_id, delivery.ticket_id) == ("salesforce", ORG_ID, CASE_ID)
    assert delivery.dedupe_key == "notification:04lRi00000SEBI1IAP"
    assert enqueued == [delivery.id]


def test_many_notifications_in_one_message_get_one_ack(client, app, enqueued) -> None:  # noqa: ANN001
    response = post_om(client, "outbound__many_cases")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    assert [d.ticket_id for d in deliveries(app)] == ["500Ri00000PThfuIAD", "500Ri00000PThfvIAD", "500Ri00000PThfwIAD"]
    assert len(enqueued) == 3


def test_redelivered_notification_is_acked_but_stored_once(client, app, enqueued) -> None:  # noqa: ANN001
    assert post_om(client, "outbound__one_case").status_code == 200
    response = post_om(client, "outbound__duplicate")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    assert len(deliveries(app)) == 1
    assert len(enqueued) == 1


def test_wrong_org_is_refused_without_ack(client, app, enqueued) -> None:  # noqa: ANN001
    response = post_om(client, "outbound__wrong_org")
    assert response.status_code == 403
    assert b"Ack" not in response.data and b"wrong_org" in response.data
    assert deliveries(app) == [] and enqueued == []


@pytest.mark.parametrize("name", ["outbound__malformed", "outbound__xxe", "outbound__billion_laughs", "outbound__no_notifications"])
def test_malformed_and_entity_attacks_are_400_and_store_nothing(client, app, enqueued, name: str) -> None:  # noqa: ANN001
    started = time.perf_counter()
    response = post_om(client, name)
    assert time.perf_counter() - started < 2  # entities are refused, never expanded
    assert response.status_code == 400
    assert b"Ack" not in response.data
    assert b"root:" not in response.data  # nothing of /etc/passwd
    assert deliveries(app) == [] and enqueued == []


def test_case_comment_triages_parent_case_and_unknown_types_are_acked(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app

    settings = make_settings(var_dir, **{**LOGIN, "SALESFORCE_ORG_ID": ORG_ID[:15]})  # 15-char form configured
    app = create_app(settings, enqueue=enqueued)
    response = post_om(app.test_client(), "outbound__case_comment_15_char_org")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    [delivery] = deliveries(app)
    assert (delivery.ticket_id, delivery.event_kind) == (CASE_ID, "om_casecomment")


def test_own_write_back_is_acked_and_skipped(client, app, enqueued) -> None:  # noqa: ANN001
    response = post_om(client, "outbound__own_write")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    assert deliveries(app) == [] and enqueued == []


def test_outbound_token_is_required_when_configured(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app

    settings = make_settings(var_dir, SALESFORCE_ORG_ID=ORG_ID, SALESFORCE_OUTBOUND_TOKEN="t0k3n-in-the-url")
    client = create_app(settings, enqueue=enqueued).test_client()
    assert post_om(client, "outbound__one_case").status_code == 401
    assert post_om(client, "outbound__one_case", "?token=wrong").status_code == 401
    assert enqueued == []
    response = post_om(client, "outbound__one_case", "?token=t0k3n-in-the-url")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data


def test_unconfigured_org_refuses_messages(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app

    client = create_app(make_settings(var_dir), enqueue=enqueued).test_client()
    assert post_om(client, "outbound__one_case").status_code == 403


def test_storage_failure_part_way_gives_503_and_no_ack_then_retry_completes(app, enqueued, monkeypatch) -> None:  # noqa: ANN001
    from app.webhooks import salesforce as view
    from sqlalchemy.exc import OperationalError

    real_accept = view.accept
    calls = {"n": 0}

    def flaky_accept(sessions, event, enqueue):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real_accept(sessions, event, enqueue)

    monkeypatch.setattr(view, "accept", flaky_accept)
    client = app.test_client()
    response = post_om(client, "outbound__many_cases")
    assert response.status_code == 503 and b"Ack" not in response.data
    assert len(deliveries(app)) == 1
    # Salesforce sends the whole message again: the stored one collapses, the rest are stored.
    response = post_om(client, "outbound__many_cases")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    assert len(deliveries(app)) == 3 and len(enqueued) == 3


def test_broker_down_still_acks_because_the_row_is_durable(client, app, enqueued) -> None:  # noqa: ANN001
    enqueued.fail = True
    response = post_om(client, "outbound__one_case")
    assert response.status_code == 200
    [delivery] = deliveries(app)
    assert delivery.status == "received"  # the sweeper sends it when the broker is back


def test_same_org_accepts_15_and_18_char_forms() -> None:
    assert same_org(ORG_ID, ORG_ID) and same_org(ORG_ID[:15], ORG_ID) and same_org(ORG_ID, ORG_ID[:15])
    assert not same_org(ORG_ID, ORG_ID.lower())  # 15-char Ids are case-sensitive
    assert not same_org(ORG_ID, "00D5e000000XyZwEAK") and not same_org(ORG_ID, "")


# -- JSON callouts (Flow / Apex) ---------------------------------------------------------------------------
def signed(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def test_json_callout_is_verified_stored_and_deduplicated(client, app, enqueued) -> None:  # noqa: ANN001
    body = fixture_bytes("callout__one_case.json")
    response = client.post("/webhooks/salesforce/json", data=body, headers=signed(body))
    assert response.status_code == 202, response.json
    [delivery] = deliveries(app)
    assert (delivery.ticket_id, delivery.account_id, delivery.event_kind) == (CASE_ID, ORG_ID, "created")
    again = client.post("/webhooks/salesforce/json", data=body, headers=signed(body))
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert len(enqueued) == 1


def test_json_batch_of_cases(client, app, enqueued) -> None:  # noqa: ANN001
    body = fixture_bytes("callout__batch.json")
    response = client.post("/webhooks/salesforce/json", data=body, headers=signed(body))
    assert response.status_code == 202
    assert len(response.json["delivery_ids"]) == 2 and len(enqueued) == 2


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "missing_signature"),
        ({"secret": "wrong"}, "bad_signature"),
        ({"timestamp": str(int(time.time()) - 3600)}, "stale_timestamp"),
    ],
)
def test_json_callout_signature_rules_match_zendesk(client, app, enqueued, headers, reason) -> None:  # noqa: ANN001
    body = fixture_bytes("callout__one_case.json")
    sent = {"Content-Type": "application/json"} if not headers else signed(body, headers.get("secret", WEBHOOK_SECRET), headers.get("timestamp"))
    response = client.post("/webhooks/salesforce/json", data=body, headers=sent)
    assert response.status_code == 401 and response.json["error"] == reason
    assert deliveries(app) == []


def test_json_callout_wrong_org_and_bad_payload(client, app) -> None:  # noqa: ANN001
    body = json.dumps({"organizationId": "00D5e000000XyZwEAK", "caseId": CASE_ID}).encode()
    assert client.post("/webhooks/salesforce/json", data=body, headers=signed(body)).status_code == 403
    body = json.dumps({"caseId": "not-an-id"}).encode()
    assert client.post("/webhooks/salesforce/json", data=body, headers=signed(body)).status_code == 400
    assert deliveries(app) == []


def test_one_event_id_for_a_batch_of_cases_still_stores_every_case(client, app, enqueued) -> None:  # noqa: ANN001
    # A Flow that stamps one event id on every Case it sends must not lose all but the first.
    other = "500Ri00000PThgAIAD"
    body = json.dumps({"cases": [{"caseId": CASE_ID, "eventId": "e1"}, {"caseId": other, "eventId": "e1"}]}).encode()
    response = client.post("/webhooks/salesforce/json", data=body, headers=signed(body))
    assert response.status_code == 202 and len(set(response.json["delivery_ids"])) == 2
    assert sorted(d.ticket_id for d in deliveries(app)) == sorted([CASE_ID, other]) and len(enqueued) == 2


def _big_outbound_message(cases: int, description_bytes: int) -> bytes:
    """An Outbound Message with `cases` notifications whose Case carries a long Description."""
    template = fixture_bytes("outbound__one_case.xml").decode()
    start, end = template.index("   <Notification>"), template.index("  </notifications>")
    notification = template[start:end]
    parts = []
    for i in range(cases):
        case_id = f"500Ri00000P{i:04d}AAD"
        parts.append(
            notification.replace("04lRi00000SEBI1IAP", f"04lRi00000S{i:04d}AAP").replace(CASE_ID, case_id)
            .replace("<sf:Subject>", f"<sf:Description>{'x' * description_bytes}</sf:Description><sf:Subject>")
        )
    return (template[:start] + "".join(parts) + template[end:]).encode()


def test_a_full_outbound_message_of_long_cases_is_acked(client, app, enqueued) -> None:  # noqa: ANN001
    body = _big_outbound_message(100, 20_000)  # ~2 MB: 100 Cases, each with a 20 KB Description
    assert len(body) > 2_000_000
    response = client.post("/webhooks/salesforce", data=body, headers=SOAP)
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    assert len(deliveries(app)) == 100 and len(enqueued) == 100


def test_a_message_over_the_limit_gets_a_soap_fault(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app

    settings = make_settings(var_dir, **{**LOGIN, "SALESFORCE_ORG_ID": ORG_ID, "SALESFORCE_MAX_MESSAGE_BYTES": 100_000})
    response = create_app(settings, enqueue=enqueued).test_client().post(
        "/webhooks/salesforce", data=_big_outbound_message(10, 20_000), headers=SOAP
    )
    assert response.status_code == 413 and response.content_type.startswith("text/xml")
    assert b"<faultstring>too_large: message over 100000 bytes" in response.data and enqueued == []
