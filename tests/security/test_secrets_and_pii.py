"""Secrets never reach the logs, and ticket text at rest is redacted: one PII-laden ticket goes through the
real web app and a real Celery worker (with failures on the way, so error paths log too), then every log
line and every row of every table is searched for the secret values and the PII."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import MetaData, select

from app.models import DeliveryStatus
from app.supervisor import free_port
from app.webhooks.signature import sign
from tests.conftest import TEST_SECRET, wait_for
from tests.integration.test_webhook_to_put import zendesk  # noqa: F401
from tests.reliability.conftest import make_stack  # noqa: F401

pytestmark = pytest.mark.integration

SECRETS = {
    "ZENDESK_API_TOKEN": "zd-api-token-SECRET-5f1c9a7e2b",
    "ADMIN_TOKEN": "admin-token-SECRET-8d2e4f6a1c",
    "SECRET_KEY": "flask-secret-key-SECRET-3b7d9e1f",
    "OPENAI_API_KEY": "sk-proj-SECRET-a1b2c3d4e5f6g7h8",
    "SALESFORCE_WEBHOOK_SECRET": "sf-webhook-SECRET-0a9b8c7d",
    "SALESFORCE_OUTBOUND_TOKEN": "sf-outbound-SECRET-6e5d4c3b",
}
PII = {
    "email": "jane.doe.pii@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "iban": "GB82 WEST 1234 5698 7654 32",
}
SUBJECT = f"Refund for a double charge on card {PII['card']}"
MESSAGE = (
    f"I was charged twice!! Refund it to {PII['iban']} or the card {PII['card']}. "
    f"Email me at {PII['email']} or call {PII['phone']}. Order #NW-55120."
)


def test_secrets_stay_out_of_logs_and_tables_hold_only_redacted_text(make_stack, redis_server, capfd) -> None:  # noqa: ANN001, F811
    llm = {"OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "LLM_CHEAP_THRESHOLD": "0", "LLM_MAX_RETRIES": "0"}
    stack = make_stack(redis_server.url, LOG_LEVEL="DEBUG", **SECRETS, **llm)
    desk = stack.zendesk.desk
    desk.add_ticket(7001, SUBJECT, [("customer", MESSAGE)])
    desk.add_ticket(7002, "Where is my parcel", [("customer", f"Still waiting, reach me on {PII['phone']}.")])
    desk.faults = {"PUT": [500, "reset", 401]}  # a retry, a dropped connection, then a parked failure
    # The web side: a good webhook, a forged one, an admin call with a wrong token.
    assert stack.send(7001) == 202
    assert stack.send(7002) == 202
    stack.client.post("/webhooks/zendesk", data=b'{"ticket_id":"1"}', headers={
        "X-Zendesk-Webhook-Signature-Timestamp": "2021-03-25T05:09:27Z", "X-Zendesk-Webhook-Signature": sign(TEST_SECRET, "x", b"")})
    assert stack.client.get("/admin", headers={"Authorization": "Bearer wrong"}).status_code == 401
    worker = stack.start_worker(concurrency=1)
    stack.wait_settled(2, timeout=90)
    parked = stack.replay_parked()  # the 401 parked one ticket; replay it
    assert parked, "the injected 401 should have parked a delivery"
    wait_for(lambda: stack.statuses() == {DeliveryStatus.DONE: 2}, 60, message=f"done after replay {stack.statuses()}")
    time.sleep(0.5)
    worker.stop()
    assert len(desk.notes_for(7001)) == 1 and len(desk.notes_for(7002)) == 1

    captured = capfd.readouterr()
    logs = captured.out + captured.err + worker.log()
    assert "delivery.done" in logs and "delivery.failed" in logs  # the paths we meant to exercise did log
    values = {**SECRETS, "ZENDESK_WEBHOOK_SECRET": TEST_SECRET}
    leaked = [name for name, value in values.items() if value in logs]
    assert leaked == [], f"secrets in logs: {leaked}"

    dump = dump_every_table(stack.app.config["SESSIONS"])
    assert dump, "no rows read"
    for name, value in {**PII, **values}.items():
        assert value not in dump, f"{name} stored in the database"
    assert MESSAGE not in dump and SUBJECT not in dump  # no raw ticket text at all
    assert dump.count("outcomes: ") == 2 and dump.count("deliveries: ") == 2  # the rows we searched are there


def dump_every_table(sessions) -> str:  # noqa: ANN001
    """Every column of every row of every table (whatever the migrations created), as one string."""
    engine = sessions.kw["bind"]
    metadata = MetaData()
    metadata.reflect(engine)
    parts: list[str] = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                parts.append(f"{table.name}: " + " | ".join(str(v) for v in row))
    return "\n".join(parts)
