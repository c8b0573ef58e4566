"""POST /webhooks/zendesk through the Flask client, signed like Zendesk signs."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.models import Delivery, DeliveryStatus
from app.replay import sweep
from app.webhooks.signature import zendesk_headers
from tests.conftest import TEST_SECRET

URL = "/webhooks/zendesk"


def post(client, payload: dict | bytes, *, secret: str = TEST_SECRET, invocation: str = "01HANA2B5D5W9XSJS3NE5SQA1J", **kw):  # noqa: ANN001, ANN201
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = zendesk_headers(secret, body, account_id="18525119", invocation_id=invocation)
    headers.update(kw.pop("headers", {}))
    return client.post(URL, data=body, headers=headers)


def deliveries(app) -> list[Delivery]:  # noqa: ANN001
    with app.config["SESSIONS"]() as session:
        return list(session.scalars(select(Delivery)))


def test_created_ticket_is_stored_and_queued(client, app, enqueued) -> None:  # noqa: ANN001
    response = post(client, {"ticket_id": "35436", "event": "created", "subject": "Where is my order?"})
    assert response.status_code == 202
    assert response.json["status"] == "queued"
    [delivery] = deliveries(app)
    assert enqueued == [delivery.id]
    assert (delivery.provider, delivery.account_id, delivery.ticket_id, delivery.event_kind) == ("sandbox", "18525119", "35436", "created")
    assert delivery.invocation_id == "01HANA2B5D5W9XSJS3NE5SQA1J"
    assert len(delivery.body_hash) == 64 and delivery.status == DeliveryStatus.QUEUED


def test_retries_and_duplicate_invocations_make_one_delivery(client, app, enqueued) -> None:  # noqa: ANN001
    payload = {"ticket_id": "35436", "event": "created"}
    assert post(client, payload).status_code == 202
    assert post(client, payload).status_code == 200  # Zendesk retry: same invocation id
    again = post(client, payload, invocation="01HANA2B5D5W9XSJS3NE5ZZZZZ")  # duplicate invocation, new id
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert len(deliveries(app)) == 1 and len(enqueued) == 1


def test_each_update_of_a_ticket_is_its_own_delivery(client, app, enqueued) -> None:  # noqa: ANN001
    post(client, {"ticket_id": "7", "event": "updated", "updated_at": "2026-11-28T10:00:00Z"}, invocation="a")
    post(client, {"ticket_id": "7", "event": "updated", "updated_at": "2026-11-28T10:05:00Z"}, invocation="b")
    assert len(enqueued) == 2


def test_two_replies_in_one_minute_are_two_deliveries(client, app, enqueued) -> None:  # noqa: ANN001
    # {{ticket.updated_at_with_timestamp}} has minutes only: the invocation tells two changes apart.
    payload = {"ticket_id": "8", "event": "updated", "updated_at": "2026-12-02T01:05Z"}
    assert post(client, payload, invocation="first").status_code == 202
    assert post(client, payload, invocation="second").status_code == 202
    assert post(client, payload, invocation="second").status_code == 200  # Zendesk's retry of the second
    assert len(enqueued) == 2


def test_unsigned_bad_and_replayed_requests_get_401(client, app) -> None:  # noqa: ANN001
    body = b'{"ticket_id":"1"}'
    assert client.post(URL, data=body).status_code == 401
    assert post(client, {"ticket_id": "1"}, secret="wrong").status_code == 401
    stale = zendesk_headers(TEST_SECRET, body, timestamp="2021-03-25T05:09:27Z")
    response = client.post(URL, data=body, headers=stale)
    assert response.status_code == 401 and response.json["error"] == "stale_timestamp"
    signed = zendesk_headers(TEST_SECRET, body)
    tampered = client.post(URL, data=b'{"ticket_id":"2"}', headers=signed)
    assert tampered.status_code == 401 and tampered.json["error"] == "bad_signature"
    assert deliveries(app) == []


def test_not_json_or_no_ticket_id_is_400(client, app) -> None:  # noqa: ANN001
    for body in (b"hello", b"[1,2]", b'{"subject":"no id"}', b'{"ticket_id":"abc"}', b""):
        response = post(client, body)
        assert response.status_code == 400, body
        assert response.json["error"] == "bad_payload"
    assert deliveries(app) == []


def test_placeholder_broken_json_still_finds_the_ticket(client, app) -> None:  # noqa: ANN001
    # {{ticket.title}} rendered a quote into the JSON: we only need the id, the worker re-fetches.
    body = b'{"ticket_id":"991","subject":"My "urgent" order","event":"created"}'
    assert post(client, body).status_code == 202
    assert deliveries(app)[0].ticket_id == "991"


def test_body_over_256_kb_is_413(client) -> None:  # noqa: ANN001
    body = json.dumps({"ticket_id": "1", "pad": "x" * 300_000}).encode()
    response = post(client, body)
    assert response.status_code == 413 and response.json["error"] == "too_large"


def test_loop_guard_skips_our_own_updates(client, app, enqueued, settings) -> None:  # noqa: ANN001
    response = post(client, {"ticket_id": "5", "event": "created", "tags": "billing ai_triaged"})
    assert response.status_code == 200 and response.json["status"] == "skipped"
    assert enqueued == [] and deliveries(app) == []


def test_loop_guard_by_api_user(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app
    from tests.conftest import make_settings

    settings = make_settings(var_dir, ZENDESK_BOT_USER_ID="900")
    client = create_app(settings, enqueue=enqueued).test_client()
    response = post(client, {"ticket_id": "5", "event": "updated", "current_user_id": "900", "updated_at": "x"})
    assert response.json["status"] == "skipped" and enqueued == []


def test_event_subscription_envelope_is_understood(client, app) -> None:  # noqa: ANN001
    payload = {"account_id": 18525119, "detail": {"id": "4016", "updated_at": "2026-11-28T10:00:00Z"}, "event": {},
               "id": "0b0d", "subject": "zen:ticket:4016", "time": "2026-11-28T10:00:00Z",
               "type": "zen:event-type:ticket.created", "zendesk_event_version": "2022-11-06"}
    assert post(client, payload).status_code == 202
    assert deliveries(app)[0].ticket_id == "4016"


def test_event_subscription_events_of_one_update_make_one_delivery(client, app, enqueued) -> None:  # noqa: ANN001
    def envelope(event_type: str, event: dict, updated_at: str) -> dict:
        return {"account_id": 18525119, "detail": {"id": "4017", "updated_at": updated_at, "actor_id": "1"},
                "event": event, "id": event_type, "subject": "zen:ticket:4017", "time": updated_at,
                "type": f"zen:event-type:ticket.{event_type}", "zendesk_event_version": "2022-11-06"}

    created = envelope("created", {"meta": {"sequence": 1}, "current": {"status": "new"}}, "2026-12-02T01:00:00Z")
    assert post(client, created, invocation="i1").status_code == 202
    assert post(client, created, invocation="i2").json["status"] == "duplicate"
    comment = envelope("comment_added", {"comment": {"id": "9", "body": "still broken"}}, "2026-12-02T01:07:31Z")
    status = envelope("status_changed", {"current": "open", "previous": "pending"}, "2026-12-02T01:07:31Z")
    assert post(client, comment, invocation="i3").status_code == 202
    assert post(client, status, invocation="i4").json["status"] == "duplicate"  # the same update
    kinds = [d.event_kind for d in deliveries(app)]
    assert kinds == ["created", "comment_added"] and len(enqueued) == 2


def test_a_broken_trigger_body_keeps_the_loop_guard_fields(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.web import create_app
    from tests.conftest import make_settings

    client = create_app(make_settings(var_dir, ZENDESK_BOT_USER_ID="900"), enqueue=enqueued).test_client()
    body = b'{"ticket_id":"12","subject":"My "urgent" order","event":"updated","current_user_id":"900"}'
    assert post(client, body).json["status"] == "skipped" and enqueued == []


def test_broker_outage_loses_nothing(client, app, enqueued, settings) -> None:  # noqa: ANN001
    enqueued.fail = True
    response = post(client, {"ticket_id": "77", "event": "created"})
    assert response.status_code == 202 and response.json["status"] == "stored"
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.RECEIVED
    enqueued.fail = False
    import time

    time.sleep(2.1)
    sent = sweep(app.config["SESSIONS"], enqueued, stuck_seconds=60, lease_seconds=60)
    assert sent == [delivery.id] and enqueued == [delivery.id]
    assert deliveries(app)[0].status == DeliveryStatus.QUEUED


def test_database_unavailable_is_503(client, app, monkeypatch) -> None:  # noqa: ANN001
    from sqlalchemy.exc import OperationalError

    import app.webhooks.common as common

    def locked(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(common, "accept", locked)
    response = post(client, {"ticket_id": "1", "event": "created"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_healthz_and_metrics(client) -> None:  # noqa: ANN001
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["database"] == "ok" and health.json["broker"] == "ok"
    post(client, {"ticket_id": "1", "event": "created"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'triage_webhooks_total{provider="zendesk",result="accepted"}' in text
    assert 'triage_intake_seconds_count{provider="zendesk"}' in text
    assert 'triage_deliveries{provider="sandbox",status="queued"} 1.0' in text


def test_healthz_fails_on_a_database_that_was_never_migrated(var_dir, enqueued) -> None:  # noqa: ANN001
    from app.config import load_settings
    from app.web import create_app
    settings = load_settings(VAR_DIR=var_dir, DATABASE_URL=f"sqlite:///{var_dir / 'empty.db'}", ZENDESK_WEBHOOK_SECRET=TEST_SECRET)
    client = create_app(settings, enqueue=enqueued).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["status"] == "degraded"
    assert health.json["database"] == "error: not migrated (run `triage migrate`)"


def test_broker_that_died_is_answered_at_once_with_the_real_client(var_dir) -> None:  # noqa: ANN001
    """redis-py's default retry backs off ~1 + 2 + 4 s: such a webhook outlasts the helpdesk's ~10 s timeout."""
    import time

    from app.broker import embedded_redis_running, stop_embedded_redis
    from app.web import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(var_dir, REDIS_URL=""))  # the production enqueue: redis-py, embedded Redis
    client = app.test_client()
    try:
        assert post(client, {"ticket_id": "78", "event": "created"}).json["status"] == "queued"
    finally:
        stop_embedded_redis(var_dir)
    while embedded_redis_running(var_dir):  # SIGTERM: the server saves, then exits
        time.sleep(0.05)
    started = time.monotonic()
    response = post(client, {"ticket_id": "79", "event": "created"})
    assert time.monotonic() - started < 1.0
    assert response.status_code == 202 and response.json["status"] == "stored"
    assert [d.status for d in deliveries(app)] == [DeliveryStatus.QUEUED, DeliveryStatus.RECEIVED]
