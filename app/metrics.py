"""Prometheus metrics: intake counters of this process, plus pipeline figures read from the database.

The worker runs in other processes (often other machines), so its figures are read from the Delivery and
Outcome tables at scrape time rather than from in-process counters: one scrape of any web process shows
the whole fleet.
"""
from __future__ import annotations

import os
import time
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import Delivery, Outcome

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS = Counter(
    "triage_webhooks_total", "Webhook requests by provider and result", ["provider", "result"], registry=REGISTRY
)
INTAKE_SECONDS = Histogram(
    "triage_intake_seconds",
    "Time to verify, store and enqueue one webhook",
    ["provider"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)


class PipelineCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session] | None = None, ttl: float = 5.0) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self._cached: tuple[float, list] = (0.0, [])

    def bind(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._cached = (0.0, [])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.monotonic()
        if now - self._cached[0] > self.ttl:
            self._cached = (now, self._read())
        yield from self._cached[1]

    def _read(self) -> list:
        if self.sessions is None:
            return []
        deliveries = GaugeMetricFamily("triage_deliveries", "Deliveries by provider and status", labels=["provider", "status"])
        outcomes = GaugeMetricFamily("triage_outcomes", "Triaged tickets by intent and escalation", labels=["intent", "escalated"])
        cost = GaugeMetricFamily("triage_cost_usd", "Model cost of all triage so far", labels=["provider"])
        try:
            with self.sessions() as session:
                for provider, status, count in session.execute(
                    select(Delivery.provider, Delivery.status, func.count()).group_by(Delivery.provider, Delivery.status)
                ):
                    deliveries.add_metric([provider, status], count)
                for intent, escalated, count in session.execute(
                    select(Outcome.intent, Outcome.escalated, func.count())
                    .where(Outcome.intent != "")
                    .group_by(Outcome.intent, Outcome.escalated)
                ):
                    outcomes.add_metric([intent, str(bool(escalated)).lower()], count)
                for provider, total in session.execute(
                    select(Outcome.provider, func.coalesce(func.sum(Outcome.cost_usd), 0.0)).group_by(Outcome.provider)
                ):
                    cost.add_metric([provider], float(total))
        except Exception:  # a scrape must never fail because the database blinked
            return []
        return [deliveries, outcomes, cost]


PIPELINE = PipelineCollector()
REGISTRY.register(PIPELINE)


def scrape_registry() -> CollectorRegistry:
    """What /metrics reports: this process's registry, or, under gunicorn (gunicorn.conf.py sets
    PROMETHEUS_MULTIPROC_DIR), the counters of every worker process summed, plus the pipeline figures."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(PIPELINE)
    return registry
