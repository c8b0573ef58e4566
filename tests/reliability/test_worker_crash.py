"""SIGKILL the Celery worker (parent and pool) with ~100 tickets queued or in flight: every ticket one note."""
from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

RERUN = "pytest tests/reliability/test_worker_crash.py"


def test_sigkill_with_100_tickets_in_flight_gives_one_note_each(make_stack, redis_server) -> None:  # noqa: ANN001
    stack = make_stack(redis_server.url)
    tickets = stack.add_tickets(100)
    stack.zendesk.desk.put_delay = 0.1  # PUTs are slow enough that some are in flight at the kill
    started = time.monotonic()
    assert {stack.send(t) for t in tickets} == {202}
    first = stack.start_worker(concurrency=2)
    wait_for(lambda: len(stack.zendesk.desk.puts) >= 20, 90, message=f"20 PUTs\n{first.log()[-3000:]}")
    first.kill()
    puts_at_first_kill = len(stack.zendesk.desk.puts)
    second = stack.start_worker(concurrency=2)
    wait_for(lambda: len(stack.zendesk.desk.puts) >= puts_at_first_kill + 20, 90, message=f"20 more PUTs\n{second.log()[-3000:]}")
    second.kill()  # a second crash, this time with the sweeper's re-sends in the queue too
    stack.zendesk.desk.put_delay = 0.0
    stack.start_worker(concurrency=2)
    stack.wait_settled(len(tickets), timeout=120)
    tally = stack.tally("worker SIGKILL x2 mid-batch", "100 tickets queued, 2 pool processes",
                        "SIGKILL worker parent+pool twice while PUTs in flight", started, RERUN,
                        detail={"puts": len(stack.zendesk.desk.puts), "statuses": stack.statuses()})
    assert (tally.written_once, tally.lost, tally.duplicated) == (100, 0, 0)
    assert len(stack.zendesk.desk.puts) == 100
