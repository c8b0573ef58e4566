"""The router: tier choice, validation with one repair, fallback, breaker, retries, cost and budget."""
from __future__ import annotations

import json

import httpx2
import pytest

from app.routing import build_router, refine
from app.routing.cost import MemorySpendCounter, PriceTable
from app.routing.difficulty import Thresholds, choose_tier, difficulty
from app.routing.resilience import CircuitBreaker, RetryPolicy, call_model
from app.ports import Completion, IntegrationError
from tests.llm.conftest import (
    ANTHROPIC_CREDIT, OPENAI_500, OPENAI_RATE_LIMIT, Recorder, anthropic_message, make_decision, make_ticket,
    openai_chat, timeout,
)

GOOD = {"intent": "refund_request", "priority": "normal", "action": "reply", "confidence": 0.93, "reason": "refund timing question"}
SUMMARY = {"issue": "Wants a refund for a late order", "sentiment": "annoyed", "offered": "", "customer_answer": "",
           "suggestion": "Check eligibility and confirm the timeline", "reason": "refund dispute"}


def router_with(settings, policy, recorder, **overrides):
    router = build_router(settings.model_copy(update=overrides), policy, http_client=recorder.client(), spend=MemorySpendCounter())
    router.sleep = lambda _s: None
    return router


def test_no_llm_configured_keeps_the_offline_default(settings, policy):
    bare = settings.model_copy(update={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OPENAI_BASE_URL": ""})
    assert build_router(bare, policy) is None
    local = make_decision()
    assert refine(make_ticket("hi"), local, None) is local


def test_difficulty_grows_with_each_signal():
    easy = difficulty(0.98, chars=60)
    assert difficulty(0.5, chars=60) > easy
    assert difficulty(0.98, chars=60, out_of_scope=True) > easy
    assert difficulty(0.98, chars=60, emotion=0.9) > easy
    assert difficulty(0.98, chars=3000, customer_turns=5) > easy
    assert difficulty(0.98, chars=60, risky_intent=True) > easy


def test_tier_choice_budget_and_sticky_escalation():
    t = Thresholds(cheap=0.15, strong=0.45)
    assert choose_tier(0.05, t, (), False).tier == "local"
    assert choose_tier(0.2, t, (), False).tier == "cheap"
    assert choose_tier(0.6, t, (), False).tier == "strong"
    capped = choose_tier(0.6, t, (), True)
    assert (capped.tier, capped.budget_capped) == ("cheap", True)
    # Escalated once: a calm, easy follow-up still goes to the strong tier, budget or not.
    assert choose_tier(0.05, t, ("ai_llm_strong",), False).tier == "strong"
    assert choose_tier(0.05, t, ("ai_escalated",), True).tier == "strong"


def test_an_automatic_reply_costs_no_model_call(settings, policy):
    from dataclasses import replace

    recorder = Recorder(openai_chat(json.dumps(GOOD)))
    router = router_with(settings, policy, recorder, LLM_CHEAP_THRESHOLD=0.0, LLM_STRONG_THRESHOLD=0.0)
    local = replace(make_decision("unsure", 0.2, reasons=()), tags=("intent__unsure", "ai_auto_reply"))
    assert refine(make_ticket("I am out of the office until Monday.", subject="Automatic reply"), local, router) is local
    assert recorder.requests == []


def test_easy_ticket_stays_local_without_any_call(settings, policy):
    recorder = Recorder(openai_chat(json.dumps(GOOD)))
    router = router_with(settings, policy, recorder)
    local = make_decision("order_status", 0.99, reasons=(), draft="Your order ships today.")
    decision = refine(make_ticket("Where is my order?", subject="Order"), local, router)
    assert recorder.requests == []
    assert decision.model == "local:test" and decision.cost_usd == 0
    assert any(s.name == "llm.route" and "tier=local" in s.detail for s in decision.trace)


def test_cheap_tier_classifies_drafts_and_costs(settings, policy):
    answer = {**GOOD, "intent": "order_status"}
    recorder = Recorder(openai_chat(json.dumps(answer), prompt_tokens=1000, completion_tokens=100),
                        openai_chat("Hi [CUSTOMER], your order ships today.", prompt_tokens=2000, completion_tokens=200))
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.9)
    decision = refine(make_ticket("Where is my order?"), make_decision("order_status", confidence=0.6), router)
    assert len(recorder.requests) == 2
    assert decision.model == "openai:gpt-4o-mini"
    assert decision.draft == "Hi Maria, your order ships today."  # placeholder restored for the customer only
    assert decision.tokens == 3300
    assert decision.cost_usd == pytest.approx((3000 * 0.15 + 300 * 0.60) / 1e6)
    assert "ai_llm_cheap" in decision.tags and "intent__order_status" in decision.tags
    # low_confidence was the only reason: the model cleared it, so the bot may answer
    assert not decision.escalate and "ai_escalated" not in decision.tags
    assert decision.queue == policy.queue_for("order_status")


def test_invalid_output_gets_one_repair(settings, policy):
    bad = {**GOOD, "intent": "refunds", "priority": "asap"}
    recorder = Recorder(openai_chat(json.dumps(bad)), openai_chat(json.dumps({**GOOD, "intent": "order_status"})),
                        openai_chat("Your parcel is on its way."))
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.9)
    decision = refine(make_ticket("where is it"), make_decision("order_status", 0.6), router)
    repair_prompt = recorder.bodies[1]["messages"][1]["content"]
    assert "not valid" in repair_prompt and "intent" in repair_prompt
    assert decision.intent == "order_status" and decision.draft == "Your parcel is on its way."
    assert any(s.name == "llm.classify.invalid" for s in decision.trace)


def test_malformed_json_twice_falls_back_to_local_and_says_so(settings, policy):
    recorder = Recorder(openai_chat("Sure! The intent is refund."), openai_chat('{"intent": "refund_request",'))
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.9)
    local = make_decision(confidence=0.6)
    decision = refine(make_ticket("refund?"), local, router)
    assert len(recorder.requests) == 2
    assert (decision.intent, decision.escalate, decision.model) == (local.intent, local.escalate, local.model)
    assert any(s.name == "llm.fallback" and "invalid output after repair -> local" in s.detail for s in decision.trace)
    assert decision.tokens > 0  # the failed calls still cost money and are counted


def test_retries_honour_retry_after_then_succeed():
    waits: list[float] = []
    calls = iter([IntegrationError("429", reason="rate_limited", retry_after=2.0),
                  IntegrationError("500", reason="server_error"), Completion("ok", 1, 1, "m")])

    class Flaky:
        name = "openai:m"

        def complete(self, *_a, **_k):
            item = next(calls)
            if isinstance(item, Exception):
                raise item
            return item

    result = call_model(Flaky(), CircuitBreaker(), RetryPolicy(max_retries=2, max_wait=5), "s", "p",
                        max_tokens=10, json_mode=False, sleep=waits.append)
    assert result.text == "ok" and waits[0] == 2.0 and len(waits) == 2


def test_long_retry_after_is_not_slept_in_call():
    class Limited:
        name = "openai:m"

        def complete(self, *_a, **_k):
            raise IntegrationError("429", reason="rate_limited", retry_after=120.0)

    waits: list[float] = []
    with pytest.raises(IntegrationError) as caught:
        call_model(Limited(), CircuitBreaker(), RetryPolicy(max_wait=8), "s", "p", max_tokens=1, json_mode=False, sleep=waits.append)
    assert caught.value.retry_after == 120.0 and waits == []


def test_breaker_opens_and_cools_down():
    now = [0.0]
    breaker = CircuitBreaker(failures_to_open=3, cooldown=60, clock=lambda: now[0])
    for _ in range(3):
        breaker.record_failure(IntegrationError("x", reason="server_error"))
    assert not breaker.allow()
    now[0] = 61
    assert breaker.allow()
    breaker.record_failure(IntegrationError("x", reason="out_of_credit", permanent=True))
    now[0] = 61 + 899
    assert not breaker.allow()



def test_an_opening_is_shared_by_the_fleet_and_a_good_trial_closes_it(redis_server):
    from app.routing.resilience import Breakers, RedisOpenings

    now = [1000.0]
    make = lambda: CircuitBreaker(failures_to_open=2, cooldown=60, clock=lambda: now[0], wall=lambda: now[0])
    one = Breakers(make=make, shared=RedisOpenings(redis_server.client())).for_model("openai:gpt-4o-mini")
    other = Breakers(make=make, shared=RedisOpenings(redis_server.client())).for_model("openai:gpt-4o")  # another worker
    anthropic = Breakers(make=make, shared=RedisOpenings(redis_server.client())).for_model("anthropic:claude-3-5-haiku")
    assert other.allow()
    for _ in range(2):
        one.record_failure(IntegrationError("x", reason="server_error"))
    assert not other.allow() and other.last_reason == "server_error" and 59 <= other.seconds_left() <= 60
    assert anthropic.allow()  # per provider
    now[0] += 61
    assert other.allow()  # cooled down everywhere: a trial call may go
    one.record_failure(IntegrationError("x", reason="out_of_credit", permanent=True))
    assert not other.allow() and other.last_reason == "out_of_credit"
    assert redis_server.client().exists("triage:llm:breaker:openai")  # expires with the opening (real time)
    now[0] += 901
    assert other.allow()  # the trial call
    other.record_success()  # it worked: closed for the whole fleet at once
    assert not redis_server.client().exists("triage:llm:breaker:openai")


def test_two_workers_one_outage_the_second_makes_no_call(settings, policy, redis_server):
    recorder = Recorder(lambda request: httpx2.Response(500, json=OPENAI_500))
    routers = []
    for _ in range(2):
        router = build_router(settings.model_copy(update={"LLM_STRONG_THRESHOLD": 0.99, "LLM_MAX_RETRIES": 2}), policy,
                              http_client=recorder.client(), spend=MemorySpendCounter(), redis=redis_server.client())
        router.sleep = lambda _s: None
        routers.append(router)
    local = make_decision(confidence=0.3)
    refine(make_ticket("refund??"), local, routers[0])
    calls = len(recorder.requests)
    assert calls == 3  # one call and two retries, then this worker's breaker opens, for the fleet
    decision = refine(make_ticket("refund again"), local, routers[1])
    assert len(recorder.requests) == calls and decision.intent == local.intent


def test_outage_falls_through_the_chain_and_opens_the_breaker(settings, policy):
    # strong (anthropic) out of credit -> cheap (openai) 500s and timeouts -> local, and next time no calls
    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "api.anthropic.com":
            return httpx2.Response(400, json=ANTHROPIC_CREDIT)
        if len(recorder.requests) % 2:
            return httpx2.Response(500, json=OPENAI_500)
        return timeout(request)

    recorder = Recorder(answer)
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.2, LLM_MAX_RETRIES=2)
    local = make_decision(confidence=0.3)
    decision = refine(make_ticket("refund??"), local, router)
    hosts = [r.url.host for r in recorder.requests]
    assert hosts == ["api.anthropic.com", "api.openai.com", "api.openai.com", "api.openai.com"]
    assert decision.intent == local.intent and decision.model == local.model
    details = [s.detail for s in decision.trace if s.name == "llm.fallback"]
    assert details[0].endswith("out_of_credit -> next") and details[-1] == "every model failed -> local"
    # both breakers are open now: the next ticket makes no HTTP call at all
    refine(make_ticket("refund again"), local, router)
    assert len(recorder.requests) == 4


def test_strong_tier_summarises_escalations_with_anthropic_tool_output(settings, policy):
    classify = {**GOOD, "intent": "complaint", "priority": "high", "action": "escalate"}
    recorder = Recorder(anthropic_message(tool_input=classify), anthropic_message(tool_input=SUMMARY))
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.2)
    decision = refine(make_ticket("This is the THIRD time!! Unacceptable."), make_decision(confidence=0.3, emotion=0.9), router)
    assert decision.escalate and "llm_escalate" in decision.reasons and "ai_escalated" in decision.tags
    assert decision.handoff.suggestion == SUMMARY["suggestion"] and decision.draft is None
    assert decision.model == "anthropic:claude-sonnet-4-5" and "ai_llm_strong" in decision.tags
    assert decision.cost_usd == pytest.approx(2 * (200 * 3.0 + 40 * 15.0) / 1e6)


def test_budget_reached_moves_traffic_down_and_is_tagged(settings, policy):
    recorder = Recorder(openai_chat(json.dumps(GOOD)), openai_chat("Refunds take 5 days."))
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.2, LLM_MONTHLY_BUDGET_USD=1.0)
    router.budget.record(router.account_for(make_ticket("x")), 1.5)
    decision = refine(make_ticket("refund?"), make_decision(confidence=0.3), router)
    assert {r.url.host for r in recorder.requests} == {"api.openai.com"}  # cheap, not strong
    assert "ai_llm_budget_capped" in decision.tags


def test_spend_is_recorded_per_account_month_and_day(settings, policy):
    recorder = Recorder(openai_chat(json.dumps(GOOD)), openai_chat("ok"))
    router = router_with(settings, policy, recorder, LLM_STRONG_THRESHOLD=0.9)
    decision = refine(make_ticket("refund?"), make_decision(confidence=0.6), router)
    totals = router.budget.counter.totals
    assert len(totals) == 2 and all(v == pytest.approx(decision.cost_usd) for v in totals.values())


def test_price_table_matches_dated_model_names():
    prices = PriceTable.load()
    assert prices.price("gpt-4o-mini-2024-07-18").input == 0.15
    assert prices.price("anthropic:claude-sonnet-4-5-20250929").output == 15.0
    assert prices.cost("llama3.1:8b", 10**6, 10**6) == 0.0  # self-hosted
