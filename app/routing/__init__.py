"""LLM routing: refine the offline engine's decision with a cheap or strong model when it is worth it.

Contract used by the worker:
    router = build_router(settings, policy)            # once per process; None = no LLM configured
    decision = triage.run(ticket, models, policy)
    if router is not None:
        decision = refine(ticket, decision, router)     # never raises for a provider failure
"""
from __future__ import annotations

from typing import Any

from app.config import Settings
from app.routing.cost import Budget, MemorySpendCounter, PriceTable, RedisSpendCounter, SpendCounter
from app.routing.difficulty import Thresholds
from app.routing.prompts import load_prompts
from app.routing.resilience import Breakers, RedisOpenings, RetryPolicy
from app.routing.router import Router
from app.triage.decision import Decision
from app.triage.policy import Policy
from app.triage.ticket import Ticket

__all__ = ["Router", "build_router", "refine"]


def refine(ticket: Ticket, local_decision: Decision, router: Router | None) -> Decision:
    """The decision to write back: the local one, or the routed model's within the policy's rules."""
    if router is None:
        return local_decision
    return router.refine(ticket, local_decision)


def build_router(
    settings: Settings,
    policy: Policy,
    *,
    spend: SpendCounter | None = None,
    redis: Any = None,
    http_client: Any = None,
) -> Router | None:
    """The router for this process, or None when no LLM key or OPENAI_BASE_URL is set.

    `redis` (a redis-py client) shares the monthly spend and open circuit breakers across the fleet; `spend` overrides it (tests);
    `http_client` (an httpx2.Client) is handed to both SDKs (tests, proxies).
    """
    from integrations.llm import build_model, configured_refs  # composition root: the only app->integrations edge

    cheap_refs, strong_refs = configured_refs(settings)
    if not cheap_refs and not strong_refs:
        return None
    counter = spend or (RedisSpendCounter(redis) if redis is not None else MemorySpendCounter())
    account = settings.ZENDESK_SUBDOMAIN or settings.SALESFORCE_ORG_ID or "default"
    return Router(
        tiers={
            "cheap": [build_model(ref, settings, http_client) for ref in cheap_refs],
            "strong": [build_model(ref, settings, http_client) for ref in strong_refs],
        },
        policy=policy,
        prompts=load_prompts(),
        prices=PriceTable.load(settings.LLM_PRICE_FILE or None),
        budget=Budget(counter, settings.LLM_MONTHLY_BUDGET_USD),
        thresholds=Thresholds(cheap=settings.LLM_CHEAP_THRESHOLD, strong=settings.LLM_STRONG_THRESHOLD),
        retry=RetryPolicy(max_retries=settings.LLM_MAX_RETRIES, max_wait=settings.LLM_MAX_RETRY_WAIT_SECONDS),
        breakers=Breakers(shared=RedisOpenings(redis) if redis is not None else None),
        account=account,
    )
