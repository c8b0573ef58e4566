"""Per-account API budgets shared in Redis, so N workers together stay under the helpdesk's limits.

Zendesk allows 200-2,500 requests a minute per account depending on the plan, for all API clients
together; one worker pacing itself is not enough once there are several. Fixed one-minute windows keyed
by account: every HTTP call takes one unit before it is sent; when the window is spent, the call is not
sent and the ticket is retried through Celery after the window turns (no thread sleeps). A 429 (the
account's limit is shared with its other API clients) pauses every worker until its `Retry-After`.

Salesforce counts a daily quota per org instead: `SharedPace` spaces tickets out across the workers and
holds them all after REQUEST_LIMIT_EXCEEDED.
"""
from __future__ import annotations

import time
from typing import Any

import redis
from requests.adapters import HTTPAdapter

from app.ports import IntegrationError
from integrations.http_errors import parse_retry_after

# One unit of this minute's window, and the pause a 429 set: one round trip per API call (a MULTI
# pipeline of GET, INCR, EXPIRE cost twice the client CPU). The window key outlives its minute a little.
_TAKE = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], 120) end
return {used, redis.call('GET', KEYS[2]) or ''}
"""
# Atomically: if the next start is still ahead, say how far; else take this start and move the next one
# `delay` seconds on. One key per org, on the wall clock (shared by processes on different hosts).
_RESERVE = """
local now = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < nxt then return tostring(nxt - now) end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[2])), 'EX', 86400) end
return false
"""
# Push the next start to at least now + seconds (never pull it closer).
_BLOCK = """
local until_ = tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], tostring(until_), 'EX', 86400) end
return 1
"""


class RateBudget:
    def __init__(self, client: redis.Redis, account_key: str, per_minute: int) -> None:
        self.client = client
        self.account_key = account_key
        self.per_minute = per_minute
        self._take = client.register_script(_TAKE)
        self._pause = client.register_script(_BLOCK)
        self.refusal = ""  # why the last take() said wait, for the error an admin reads

    def take(self, now: float | None = None) -> float | None:
        """Spend one call. Returns None if allowed, else the seconds until the next window (or pause end)."""
        now = time.time() if now is None else now
        window = int(now // 60)
        try:
            used, paused_until = self._take(keys=[f"triage:rate:{self.account_key}:{window}", self._pause_key])
        except redis.RedisError:
            return None  # no shared budget without Redis: the provider's own 429 still protects us
        if paused_until and float(paused_until) > now:
            self.refusal = "the account answered 429"
            return float(paused_until) - now
        if used > self.per_minute:
            self.refusal = f"the shared budget of {self.per_minute}/min is spent"
            return 60 - (now % 60) + 0.5
        return None

    def pause(self, seconds: float, now: float | None = None) -> None:
        """The helpdesk answered 429: no worker calls it again before `Retry-After` has passed.

        The limit is the account's, shared with every other API client of it (apps, scripts), so a 429
        can come while our own budget still has room.
        """
        until = (time.time() if now is None else now) + seconds
        try:
            self._pause(keys=[self._pause_key], args=[repr(until)])
        except redis.RedisError:
            pass

    @property
    def _pause_key(self) -> str:
        return f"triage:pause:{self.account_key}"


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
                    f"{self.provider}: {self.budget.refusal}; next call in {wait:.0f} s (shared by all workers)",
                    retry_after=wait,
                    reason="rate_budget",
                )
        response = super().send(request, **kwargs)
        if self.budget is not None and response.status_code == 429:
            self.budget.pause(parse_retry_after(response.headers.get("Retry-After"), default=60.0))
        return response


class SharedPace:
    """Space tickets out across every worker of one org: a Redis key holds when the next one may start.

    Salesforce's daily API quota is per org, so N workers pacing themselves apart would spend it N times
    faster; and when the org answers REQUEST_LIMIT_EXCEEDED, one worker's discovery should stop them all.
    Without Redis (or when it fails) each process keeps its own pace, as a single worker would.
    """

    def __init__(self, client: redis.Redis | None, key: str) -> None:
        self.key = f"triage:pace:{key}"
        self._local_next = 0.0
        self._reserve = client.register_script(_RESERVE) if client is not None else None
        self._block = client.register_script(_BLOCK) if client is not None else None

    def reserve(self, delay: float, now: float | None = None) -> float | None:
        """Start a ticket now and hold the next start `delay` s away; or, if it is too early, the wait."""
        now = time.time() if now is None else now
        if self._reserve is not None:
            try:
                wait = self._reserve(keys=[self.key], args=[repr(now), repr(delay)])
                return float(wait) if wait is not None else None
            except redis.RedisError:
                pass
        if now < self._local_next:
            return self._local_next - now
        if delay > 0:
            self._local_next = now + delay
        return None

    def block(self, seconds: float, now: float | None = None) -> None:
        """No ticket of this org starts for `seconds` (the org is over its limit), in any worker."""
        until = (time.time() if now is None else now) + seconds
        self._local_next = max(self._local_next, until)
        if self._block is not None:
            try:
                self._block(keys=[self.key], args=[repr(until)])
            except redis.RedisError:
                pass
