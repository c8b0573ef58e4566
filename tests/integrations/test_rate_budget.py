"""The per-account API budget is shared by every client through Redis."""
from __future__ import annotations

import pytest
import responses

from app.broker import redis_client
from app.ports import IntegrationError
from integrations.rate_budget import RateBudget, SharedPace
from integrations.zendesk import ZendeskHelpdesk
from tests.conftest import make_settings


def test_budget_is_shared_and_resets_each_minute(redis_server) -> None:  # noqa: ANN001
    first = RateBudget(redis_server.client(), "zendesk:acme", per_minute=3)
    second = RateBudget(redis_server.client(), "zendesk:acme", per_minute=3)  # another worker
    t = 1_800_000_030.0  # 30 s into a minute
    assert [first.take(t), second.take(t), first.take(t)] == [None, None, None]
    wait = second.take(t + 10)
    assert wait is not None and 19 < wait <= 21
    assert first.take(t + 40) is None  # next window
    assert RateBudget(redis_server.client(), "zendesk:other", per_minute=3).take(t) is None  # per account


@responses.activate
def test_zendesk_calls_stop_before_the_limit_and_retry_later(var_dir, redis_server) -> None:  # noqa: ANN001
    settings = make_settings(var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="b@acme.test",
                             ZENDESK_API_TOKEN="t", ZENDESK_RATE_LIMIT_PER_MINUTE=2)
    desk = ZendeskHelpdesk.from_settings(settings, redis=redis_server.client())
    responses.add(responses.GET, "https://acme.zendesk.com/api/v2/tickets/1.json", status=404,
                  json={"error": "RecordNotFound", "description": "Not found"})
    for _ in range(2):
        with pytest.raises(IntegrationError) as sent:
            desk.fetch("1")
        assert sent.value.reason == "not_found"
    with pytest.raises(IntegrationError) as refused:
        desk.fetch("1")
    assert refused.value.reason == "rate_budget" and not refused.value.permanent and refused.value.retry_after > 0
    assert "budget of 2/min is spent" in str(refused.value)
    assert len(responses.calls) == 2  # the third call never left the process


def test_shared_pace_spaces_starts_across_workers_and_blocks_all(redis_server) -> None:  # noqa: ANN001
    first = SharedPace(redis_server.client(), "salesforce:acme")
    second = SharedPace(redis_server.client(), "salesforce:acme")  # another worker
    t = 1_800_000_000.0
    assert first.reserve(0, t) is None and second.reserve(0, t) is None  # no pace: everyone goes
    assert first.reserve(30, t) is None  # starts now, holds the next start 30 s away
    assert second.reserve(30, t + 10) == pytest.approx(20)
    assert second.reserve(30, t + 31) is None
    second.block(600, t + 40)
    assert first.reserve(0, t + 41) == pytest.approx(599)
    first.block(5, t + 42)  # a shorter block never pulls the pause closer
    assert second.reserve(0, t + 100) == pytest.approx(540)
    assert SharedPace(redis_server.client(), "salesforce:other").reserve(0, t + 100) is None  # per org


def test_shared_pace_without_redis_paces_this_process(var_dir) -> None:  # noqa: ANN001
    down = redis_client(make_settings(var_dir, REDIS_URL=f"unix://{var_dir}/no-redis-here.sock"))
    for pace in (SharedPace(None, "salesforce:acme"), SharedPace(down, "salesforce:acme")):
        t = 1_800_000_000.0
        assert pace.reserve(30, t) is None
        assert pace.reserve(30, t + 5) == pytest.approx(25)
        pace.block(100, t + 40)
        assert pace.reserve(0, t + 50) == pytest.approx(90)


@responses.activate
def test_a_429_seen_by_one_worker_pauses_every_worker(var_dir, redis_server) -> None:  # noqa: ANN001
    settings = make_settings(var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="b@acme.test",
                             ZENDESK_API_TOKEN="t", ZENDESK_RATE_LIMIT_PER_MINUTE=700)
    first = ZendeskHelpdesk.from_settings(settings, redis=redis_server.client())
    second = ZendeskHelpdesk.from_settings(settings, redis=redis_server.client())  # another worker
    responses.add(responses.GET, "https://acme.zendesk.com/api/v2/tickets/1.json", status=429,
                  headers={"Retry-After": "45"}, json={"error": "APIRateLimitExceeded"})
    with pytest.raises(IntegrationError) as limited:
        first.fetch("1")
    assert limited.value.reason == "rate_limited" and limited.value.retry_after == 45
    with pytest.raises(IntegrationError) as paused:
        second.fetch("1")
    assert paused.value.reason == "rate_budget" and 40 < paused.value.retry_after <= 45
    assert "answered 429" in str(paused.value)
    assert len(responses.calls) == 1  # the second worker never called Zendesk
