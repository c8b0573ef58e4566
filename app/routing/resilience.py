"""Calling a model safely: bounded in-call retries honouring Retry-After, and a per-provider circuit breaker
(shared by the fleet through Redis when there is one).

Retries here are short and in-call (a ticket should not wait minutes for one provider); a longer
Retry-After, an open breaker or exhausted retries surface as IntegrationError so the router moves on to
the next model in the chain instead.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from app.ports import Completion, IntegrationError, LanguageModel

log = structlog.get_logger("llm")

Clock = Callable[[], float]
Sleep = Callable[[float], None]

RETRYABLE = frozenset({"rate_limited", "server_error", "timeout", "connection_error"})


class SharedOpenings(Protocol):
    """Where breakers of the whole fleet post that a provider is down, and read it (RedisOpenings)."""

    def opened(self, provider: str) -> tuple[float, str] | None: ...  # (until, on the wall clock; reason)
    def open(self, provider: str, until: float, seconds: float, reason: str) -> None: ...
    def close(self, provider: str) -> None: ...


@dataclass
class CircuitBreaker:
    """Opens after `failures_to_open` transient failures in a row, or at once when the account is out of
    credit or the provider asks for a long pause; after `cooldown` one trial call is let through.

    With `shared`, an opening is posted for every worker of the fleet: the others skip the provider at
    once instead of each spending its own failed calls, in-call retries and timeouts to learn the same
    outage; a successful trial call closes it for all.
    """

    failures_to_open: int = 3
    cooldown: float = 60.0
    out_of_credit_cooldown: float = 900.0
    clock: Clock = time.monotonic
    failures: int = 0
    open_until: float = 0.0
    last_reason: str = ""
    provider: str = ""
    shared: SharedOpenings | None = None
    wall: Clock = time.time  # shared openings cross processes and hosts: the monotonic clock does not

    def allow(self) -> bool:
        if self.clock() < self.open_until:
            return False
        if self.shared is None:
            return True
        opened = self.shared.opened(self.provider)
        if opened is None or opened[0] <= self.wall():
            return True
        self.open_until = self.clock() + (opened[0] - self.wall())
        self.last_reason = opened[1]
        return False

    def record_success(self) -> None:
        was_open = self.failures or self.open_until
        self.failures = 0
        self.open_until = 0.0
        if was_open and self.shared is not None:
            self.shared.close(self.provider)

    def record_failure(self, error: IntegrationError) -> None:
        self.last_reason = error.reason
        if error.reason == "out_of_credit":
            self._open(self.out_of_credit_cooldown)
            return
        if error.reason not in RETRYABLE:
            return  # a bad request says nothing about the provider's health
        self.failures += 1
        pause = error.retry_after or 0.0
        if self.failures >= self.failures_to_open or pause > self.cooldown:
            self._open(max(self.cooldown, pause))

    def _open(self, seconds: float) -> None:
        self.open_until = self.clock() + seconds
        if self.shared is not None:
            self.shared.open(self.provider, self.wall() + seconds, seconds, self.last_reason)

    def seconds_left(self) -> float:
        return max(0.0, self.open_until - self.clock())


@dataclass
class Breakers:
    """One breaker per provider ("openai", "anthropic"): an outage is per provider, not per model."""

    make: Callable[[], CircuitBreaker] = CircuitBreaker
    by_provider: dict[str, CircuitBreaker] = field(default_factory=dict)
    shared: SharedOpenings | None = None

    def for_model(self, model_name: str) -> CircuitBreaker:
        provider = model_name.split(":", 1)[0]
        if provider not in self.by_provider:
            breaker = self.make()
            breaker.provider, breaker.shared = provider, self.shared
            self.by_provider[provider] = breaker
        return self.by_provider[provider]


class RedisOpenings:
    """SharedOpenings in the broker's Redis: one key per provider that expires when the breaker would close.

    Redis trouble never blocks a model call: reads then say "not open" and writes are dropped, which is
    the per-process breaker as it was.
    """

    def __init__(self, redis: Any, prefix: str = "triage:llm:breaker") -> None:
        self.redis = redis
        self.prefix = prefix

    def opened(self, provider: str) -> tuple[float, str] | None:
        try:
            value = self.redis.get(f"{self.prefix}:{provider}")
        except Exception:  # noqa: BLE001 - any Redis failure: act on this process's own view
            return None
        if not value:
            return None
        until, _, reason = (value if isinstance(value, str) else value.decode()).partition(" ")
        return float(until), reason

    def open(self, provider: str, until: float, seconds: float, reason: str) -> None:
        try:
            self.redis.set(f"{self.prefix}:{provider}", f"{until!r} {reason}", px=max(1, int(seconds * 1000)))
        except Exception as exc:  # noqa: BLE001
            log.warning("breaker.share_failed", provider=provider, error=str(exc)[:200])

    def close(self, provider: str) -> None:
        try:
            self.redis.delete(f"{self.prefix}:{provider}")
        except Exception as exc:  # noqa: BLE001
            log.warning("breaker.share_failed", provider=provider, error=str(exc)[:200])


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 4.0
    max_wait: float = 8.0  # longest Retry-After honoured in-call; longer ones go to the next provider

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def call_model(
    model: LanguageModel,
    breaker: CircuitBreaker,
    policy: RetryPolicy,
    system: str,
    prompt: str,
    *,
    max_tokens: int,
    json_mode: bool,
    sleep: Sleep = time.sleep,
    on_retry: Callable[[IntegrationError, float], None] | None = None,
) -> Completion:
    """One completion with retries; raises IntegrationError when the model cannot answer now."""
    if not breaker.allow():
        raise IntegrationError(
            f"{model.name}: circuit open ({breaker.last_reason})",
            reason="circuit_open",
            retry_after=breaker.seconds_left(),
        )
    attempt = 0
    while True:
        try:
            completion = model.complete(system, prompt, max_tokens=max_tokens, json_mode=json_mode)
        except IntegrationError as exc:
            breaker.record_failure(exc)
            if exc.reason not in RETRYABLE or attempt >= policy.max_retries or not breaker.allow():
                raise
            wait = policy.delay(attempt, exc.retry_after)
            if wait > policy.max_wait:
                raise
            if on_retry:
                on_retry(exc, wait)
            sleep(wait)
            attempt += 1
            continue
        breaker.record_success()
        return completion
