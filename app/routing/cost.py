"""Cost accounting: the price table, the per-account monthly spend and the budget that caps it.

Spend lives behind `SpendCounter` so the router stays pure: memory for tests and single processes,
Redis (any client with `incrbyfloat`/`get`/`expire`) when many workers share one account's budget.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

DEFAULT_PRICE_FILE = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, Price]
    default: Price
    version: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PriceTable":
        source = Path(path) if path else DEFAULT_PRICE_FILE
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
            default = raw.get("default", {})
            return cls(
                prices={
                    name: Price(float(p["input"]), float(p["output"])) for name, p in raw.get("models", {}).items()
                },
                default=Price(float(default.get("input", 0.0)), float(default.get("output", 0.0))),
                version=str(raw.get("version", "")),
            )
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cannot read LLM price table {source}: {exc!r}") from exc

    def price(self, model: str) -> Price:
        bare = model.split(":", 1)[1] if model.startswith(("openai:", "anthropic:")) else model
        if bare in self.prices:
            return self.prices[bare]
        prefixes = [name for name in self.prices if bare.startswith(name)]
        return self.prices[max(prefixes, key=len)] if prefixes else self.default

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        price = self.price(model)
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


class SpendCounter(Protocol):
    """Running spend per account and period key ("2026-11" for a month, "2026-11-28" for a day)."""

    def add(self, account: str, period: str, usd: float) -> None: ...

    def total(self, account: str, period: str) -> float: ...


class MemorySpendCounter:
    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], float] = {}

    def add(self, account: str, period: str, usd: float) -> None:
        self.totals[(account, period)] = self.totals.get((account, period), 0.0) + usd

    def total(self, account: str, period: str) -> float:
        return self.totals.get((account, period), 0.0)


class RedisSpendCounter:
    """Shared by every worker of the fleet; keys expire on their own after ~2 periods."""

    def __init__(self, redis: object, prefix: str = "triage:llm:spend") -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, account: str, period: str) -> str:
        return f"{self.prefix}:{account}:{period}"

    def add(self, account: str, period: str, usd: float) -> None:
        key = self._key(account, period)
        self.redis.incrbyfloat(key, usd)  # type: ignore[attr-defined]
        self.redis.expire(key, 62 * 86400)  # type: ignore[attr-defined]

    def total(self, account: str, period: str) -> float:
        value = self.redis.get(self._key(account, period))  # type: ignore[attr-defined]
        return float(value) if value else 0.0


def month_key(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m")


def day_key(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d")


@dataclass
class Budget:
    """Monthly cap per account: when reached, new tickets route one tier cheaper (strong -> cheap -> local)."""

    counter: SpendCounter
    monthly_usd: float = 0.0  # 0 = no cap

    def spent(self, account: str, now: datetime | None = None) -> float:
        return self.counter.total(account, month_key(now))

    def exhausted(self, account: str, now: datetime | None = None) -> bool:
        return self.monthly_usd > 0 and self.spent(account, now) >= self.monthly_usd

    def record(self, account: str, usd: float, now: datetime | None = None) -> None:
        if usd > 0:
            self.counter.add(account, month_key(now), usd)
            self.counter.add(account, day_key(now), usd)
