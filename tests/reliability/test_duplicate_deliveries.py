"""Each signed webhook delivered three times at once (two retries of one invocation and one duplicate
invocation) to gunicorn with several processes and threads: one delivery, one note per ticket."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import start_gunicorn, worker_env

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

RERUN = "pytest tests/reliability/test_duplicate_deliveries.py"


def test_each_webhook_three_times_concurrently_gives_one_delivery_one_note(make_stack, redis_server, tmp_path) -> None:  # noqa: ANN001
    stack = make_stack(redis_server.url)
    tickets = stack.add_tickets(50)
    proc, url = start_gunicorn(worker_env(stack.settings, redis_server.url, **stack.env), tmp_path / "web.log")
    started = time.monotonic()
    codes: list[int] = []
    try:
        stack.start_worker(concurrency=2)
        with requests.Session() as http, ThreadPoolExecutor(max_workers=3) as pool:
            for ticket_id in tickets:
                gate = threading.Barrier(3)
                copies = [stack.webhook(ticket_id), stack.webhook(ticket_id), stack.webhook(ticket_id, f"dup-{ticket_id}")]

                def post(copy: tuple[bytes, dict[str, str]]) -> int:
                    gate.wait()
                    return requests.post(f"{url}/webhooks/zendesk", data=copy[0], headers=copy[1], timeout=15).status_code

                codes.extend(pool.map(post, copies))
        stack.wait_settled(50, timeout=120)
    finally:
        proc.terminate()
        proc.wait(15)
    deliveries = stack.deliveries()
    tally = stack.tally("Each webhook 3x concurrently", "50 tickets x 3 copies, gunicorn 2x4 threads",
                        "2 retries of one invocation + 1 duplicate invocation, sent at once", started, RERUN,
                        detail={"answers": {str(c): codes.count(c) for c in set(codes)}, "deliveries": len(deliveries)})
    assert sorted(set(codes)) == [200, 202] and codes.count(202) == 50 and codes.count(200) == 100
    assert len(deliveries) == 50 and len({d.ticket_id for d in deliveries}) == 50
    assert (tally.written_once, tally.lost, tally.duplicated) == (50, 0, 0)
    assert len(stack.zendesk.desk.puts) == 50
