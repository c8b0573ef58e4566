"""One signed webhook -> real Redis -> real Celery worker process -> one PUT on a Zendesk API on loopback."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.models import Delivery, DeliveryStatus
from app.webhooks.signature import zendesk_headers
from bench.mock_zendesk import MockServer
from tests.conftest import TEST_SECRET, WorkerProcess, make_settings, wait_for, worker_env

pytestmark = pytest.mark.integration


@pytest.fixture
def zendesk():  # noqa: ANN201
    server = MockServer().start()
    yield server
    server.shutdown()


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {}


@pytest.fixture
def stack(var_dir, redis_server, zendesk, tmp_path, extra_env):  # noqa: ANN001, ANN201
    zendesk_env = {**extra_env, 
        "HELPDESK": "zendesk", "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "tok",
        "ZENDESK_BASE_URL": zendesk.url, "ZENDESK_RATE_LIMIT_PER_MINUTE": "100000", "DELIVERY_LEASE_SECONDS": "4", "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_STUCK_SECONDS": "5",
    }
    settings = make_settings(var_dir, REDIS_URL=redis_server.url, **{k: v for k, v in zendesk_env.items()})
    from app.web import create_app

    app = create_app(settings)  # the production enqueue: a Celery message pushed straight to Redis
    workers: list[WorkerProcess] = []

    def start_worker() -> WorkerProcess:
        worker = WorkerProcess(worker_env(settings, redis_server.url, **zendesk_env), tmp_path / f"worker{len(workers)}.log").start()
        workers.append(worker)
        return worker

    yield app, settings, start_worker
    for worker in workers:
        worker.stop()


def send(client, ticket_id: int, invocation: str = "01HANA2B5D5W9XSJS3NE5SQA1J"):  # noqa: ANN001, ANN201
    body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
    return client.post("/webhooks/zendesk", data=body, headers=zendesk_headers(TEST_SECRET, body, account_id="18525119", invocation_id=invocation))


def delivery_status(app, delivery_id: int) -> str:  # noqa: ANN001
    with app.config["SESSIONS"]() as session:
        return session.scalar(select(Delivery.status).where(Delivery.id == delivery_id))


def test_signed_webhook_becomes_one_put_with_expected_body(stack, zendesk) -> None:  # noqa: ANN001
    app, _settings, start_worker = stack
    zendesk.desk.add_ticket(101, "Refund still not received", [("customer", "Third time I'm asking for my refund!! Order #NW-48213.")], tags=["vip"])
    worker = start_worker()
    response = send(app.test_client(), 101)
    assert response.status_code == 202
    delivery_id = response.json["delivery_id"]
    wait_for(lambda: delivery_status(app, delivery_id) == DeliveryStatus.DONE, 90, message=f"delivery done\n{worker.log()[-3000:]}")
    [put] = zendesk.desk.puts
    body = put["body"]["ticket"]
    assert put["ticket_id"] == 101
    assert body["safe_update"] is True and body["updated_stamp"] == "2026-11-01T00:00:01Z"
    assert body["priority"] in ("high", "urgent")
    assert body["tags"][0] == "vip" and "ai_triaged" in body["tags"] and "intent__refund_request" in body["tags"]
    assert body["comment"]["public"] is False and f"delivery={delivery_id}]" in body["comment"]["body"]


def test_three_deliveries_and_a_sigkill_still_one_note(stack, zendesk) -> None:  # noqa: ANN001
    app, _settings, start_worker = stack
    zendesk.desk.add_ticket(202, "Cancel my subscription", [("customer", "Please cancel Northwind Plus, I keep getting charged.")])
    zendesk.desk.put_delay = 3.0  # the PUT is in flight when the worker dies, and lands anyway
    client = app.test_client()
    codes = [send(client, 202).status_code for _ in range(3)]
    assert codes == [202, 200, 200]
    worker = start_worker()
    wait_for(lambda: _put_in_flight(zendesk), 90, message=f"PUT in flight\n{worker.log()[-3000:]}")
    worker.kill()  # SIGKILL the whole worker (parent and pool child) mid-task
    wait_for(lambda: len(zendesk.desk.puts) == 1, 30, message="the in-flight PUT to land")
    zendesk.desk.put_delay = 0.0
    start_worker()  # the replacement finds the delivery stuck past its lease and finishes it without a 2nd write
    with app.config["SESSIONS"]() as session:
        delivery_id = session.scalar(select(Delivery.id).where(Delivery.ticket_id == "202"))
    wait_for(lambda: delivery_status(app, delivery_id) == DeliveryStatus.DONE, 90, message="delivery done after restart")
    assert len(zendesk.desk.puts) == 1
    notes = zendesk.desk.notes_for(202)
    assert len(notes) == 1 and f"delivery={delivery_id}]" in notes[0]


def _put_in_flight(zendesk) -> bool:  # noqa: ANN001
    return zendesk.desk.put_started > 0


@pytest.fixture
def openai_server():  # noqa: ANN201
    import threading
    from http.server import ThreadingHTTPServer

    from tests.llm.test_compatible_server import FakeOpenAI

    FakeOpenAI.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", FakeOpenAI.seen
    httpd.shutdown()


def test_openai_compatible_server_drives_the_whole_path(var_dir, redis_server, zendesk, tmp_path, openai_server) -> None:  # noqa: ANN001
    url, seen = openai_server
    llm_env = {"OPENAI_BASE_URL": url, "LLM_CHEAP_MODEL": "openai:llama3.1:8b", "LLM_STRONG_MODEL": "openai:llama3.1:70b",
               "LLM_CHEAP_THRESHOLD": "0", "LLM_STRONG_THRESHOLD": "1.01"}
    zendesk_env = {"HELPDESK": "zendesk", "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.test",
                   "ZENDESK_API_TOKEN": "tok", "ZENDESK_BASE_URL": zendesk.url, **llm_env}
    settings = make_settings(var_dir, REDIS_URL=redis_server.url, **zendesk_env)
    from app.web import create_app

    app = create_app(settings)
    zendesk.desk.add_ticket(303, "Where is my order", [("customer", "Hi, where is my parcel? It was due Monday.")])
    worker = WorkerProcess(worker_env(settings, redis_server.url, **zendesk_env), tmp_path / "llm-worker.log").start()
    try:
        response = send(app.test_client(), 303)
        delivery_id = response.json["delivery_id"]
        wait_for(lambda: delivery_status(app, delivery_id) == DeliveryStatus.DONE, 90, message=f"done\n{worker.log()[-3000:]}")
    finally:
        worker.stop()
    assert seen and all(s["path"] == "/v1/chat/completions" for s in seen)
    assert seen[0]["body"]["model"] == "llama3.1:8b"
    [note] = zendesk.desk.notes_for(303)
    assert "openai:llama3.1:8b" in note
