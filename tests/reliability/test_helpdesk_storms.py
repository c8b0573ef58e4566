"""The helpdesk misbehaves for a while: 429 with Retry-After, 409, 500/503, timeouts, connection resets, and
writes that land but whose answer is lost. Every ticket is written once, or parked with a reason and then
written once by a replay."""
from __future__ import annotations

import time

import pytest

from app.models import DeliveryStatus

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

RERUN = "pytest tests/reliability/test_helpdesk_storms.py"
FAULTS = [429, 409, 500, 503, "reset", "timeout", "late"]


def test_storm_of_every_fault_then_each_ticket_written_once(make_stack, redis_server) -> None:  # noqa: ANN001
    stack = make_stack(redis_server.url)
    desk = stack.zendesk.desk
    desk.timeout_sleep = 1.5  # longer than ZENDESK_TIMEOUT_SECONDS=1
    tickets = stack.add_tickets(60)
    started = time.monotonic()
    desk.start_storm(seconds=10, rate=0.5, faults=FAULTS, methods=["PUT", "GET"])
    stack.start_worker(concurrency=2)
    assert {stack.send(t) for t in tickets} == {202}
    stack.wait_settled(60, timeout=150)
    statuses = stack.statuses()
    assert set(statuses) <= {DeliveryStatus.DONE, DeliveryStatus.FAILED}
    tally = stack.tally("Helpdesk storm: 429/409/5xx/timeout/reset/late", "60 tickets, 2 pool processes",
                        "50% of GETs and PUTs fail for 10 s: " + ", ".join(map(str, FAULTS)), started, RERUN,
                        detail={"injected": dict(desk.fault_counts), "statuses": statuses, "puts": len(desk.puts)})
    assert tally.duplicated == 0
    assert tally.written_once + tally.lost == 60 and tally.lost == statuses.get(DeliveryStatus.FAILED, 0)
    assert all(desk.fault_counts.get(str(f), 0) > 0 for f in FAULTS), desk.fault_counts
    assert max(desk.put_counts().values()) == 1  # no ticket got a second PUT, even after a lost answer


def test_retries_exhausted_are_parked_with_a_reason_and_replay_writes_once(make_stack, redis_server) -> None:  # noqa: ANN001
    stack = make_stack(redis_server.url, MAX_ATTEMPTS="3")
    desk = stack.zendesk.desk
    desk.timeout_sleep = 1.5
    tickets = stack.add_tickets(30)
    started = time.monotonic()
    # Every request fails until all deliveries have used their 3 attempts and are parked.
    desk.start_storm(seconds=600, rate=1.0, faults=[429, 500, 503, "reset", "timeout"], methods=["PUT", "GET"])
    stack.start_worker(concurrency=2)
    assert {stack.send(t) for t in tickets} == {202}
    stack.wait_settled(30, timeout=120)
    parked = [d for d in stack.deliveries() if d.status == DeliveryStatus.FAILED]
    assert parked and all(d.error for d in parked)
    assert all("retries exhausted" in d.error for d in parked), [d.error for d in parked][:3]
    assert len(parked) == 30
    desk.storm = {}  # the helpdesk recovers
    replayed = stack.replay_parked()
    stack.wait_settled(30, timeout=90)
    tally = stack.tally("Parked after retries, then replayed", "30 tickets, 2 pool processes, MAX_ATTEMPTS=3",
                        "100% of GETs and PUTs fail (429/500/503/reset/timeout) until all are parked; then replay",
                        started, RERUN, parked_then_replayed=len(replayed),
                        detail={"injected": dict(desk.fault_counts), "reasons": sorted({d.error.split(';')[-1][:80] for d in parked})[:5]})
    assert (tally.written_once, tally.lost, tally.duplicated) == (30, 0, 0)
    assert max(desk.put_counts().values()) == 1
