"""A per-account API budget shared in Redis, so N workers together stay under the helpdesk's rate limit.

Zendesk allows 200-2,500 requests a minute per account depending on the plan, for all API clients
together; one worker pacing itself is not enough once there are several. Fixed one-minute windows keyed
by account: every HTTP call takes one unit before it is sent; when the window is spent, the call is not
sent and the ticket is retried through Celery after the window turns (no thread sleeps).
"""
from __future__ import annotations

import time
from typing import Any

import redis
from requests.adapters import HTTPAdapter

from app.ports import IntegrationError


class RateBudget:
    def __init__(self, client: redis.Redis, account_key: str, per_minute: int) -> None:
        self.client = client
        self.account_key = account_key
        self.per_minute = per_minute

    def take(self, now: float | None = None) -> float | None:
        """Spend one call. Returns None if allowed, else the seconds until the next window."""
        now = time.time() if now is None else now
        window = int(now // 60)
        key = f"triage:rate:{self.account_key}:{window}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            used, _ = pipe.execute()
        except redis.RedisError:
            return None  # no shared budget without Redis: the provider's own 429 still protects us
        if used > self.per_minute:
            return 60 - (now % 60) + 0.5
        return None


class BudgetedAdapter(HTTPAdapter):
    """An HTTPAdapter that spends the shared budget before each request and refuses when it is empty."""

    def __init__(self, budget: RateBudget | None, provider: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget
        self.provider = provider

    def send(self, request, **kwargs):  # noqa: ANN001, ANN003, ANN201
        if self.budget is not None:
            wait = self.budget.take()
            if wait is not None:
                raise IntegrationError(
                    f"{self.provider}: shared API budget of {self.budget.per_minute}/min spent",
                    retry_after=wait,
                    reason="rate_budget",
                )
        return super().send(request, **kwargs)
