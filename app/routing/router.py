"""The cost-aware router: pick a tier from the local decision, ask that tier's models, validate, merge.

Pure logic: models, the spend counter and the clock are injected. Whatever fails (provider down, output
invalid after one repair, budget), the ticket still gets a decision: the chain ends at the offline engine.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from app.ports import Completion, IntegrationError, LanguageModel
from app.routing.cost import Budget, MemorySpendCounter, PriceTable
from app.routing.difficulty import ESCALATED_TAG, TIER_TAG_PREFIX, TIERS, Thresholds, TierChoice, Weights, choose_tier, ticket_difficulty
from app.routing.privacy import Redacted, redact_ticket
from app.routing.prompts import PromptBook, TaskPrompt
from app.routing.resilience import Breakers, RetryPolicy, call_model
from app.routing.schemas import ALLOWED_INTENTS, Classification, Summary, validate
from app.triage.decision import PRIORITIES, Decision, HandoffSummary, Stage
from app.triage.not_a_request import AUTO_REPLY_TAG, SPAM_TAG
from app.triage.policy import Policy
from app.triage.routing import priority_for, queue_for
from app.triage.taxonomy import UNSURE
from app.triage.ticket import Ticket

log = structlog.get_logger("routing")

# Local reasons a stronger model may clear: they only say the offline classifier was unsure.
UNCERTAINTY_REASONS = frozenset({"low_confidence", "out_of_scope"})
BUDGET_TAG = "ai_llm_budget_capped"


@dataclass
class Usage:
    """Tokens and dollars spent on one ticket, across every call and retry that returned an answer."""

    prices: PriceTable
    tokens: int = 0
    cost_usd: float = 0.0
    models: list[str] = field(default_factory=list)

    def add(self, completion: Completion, fallback_name: str) -> None:
        model = completion.model or fallback_name
        self.tokens += completion.input_tokens + completion.output_tokens
        self.cost_usd += self.prices.cost(model, completion.input_tokens, completion.output_tokens)
        if fallback_name not in self.models:
            self.models.append(fallback_name)


@dataclass
class Router:
    tiers: dict[str, Sequence[LanguageModel]]  # "cheap" and "strong" chains, best first
    policy: Policy
    prompts: PromptBook
    prices: PriceTable
    budget: Budget = field(default_factory=lambda: Budget(MemorySpendCounter()))
    thresholds: Thresholds = Thresholds()
    weights: Weights = Weights()
    retry: RetryPolicy = RetryPolicy()
    breakers: Breakers = field(default_factory=Breakers)
    account: str = "default"
    sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------ tier choice
    def choose(self, ticket: Ticket, local: Decision) -> TierChoice:
        score = ticket_difficulty(ticket, local, self.policy.escalate_intents, self.weights)
        choice = choose_tier(score, self.thresholds, ticket.tags, self.budget.exhausted(self.account_for(ticket)))
        profile = self.prompts.profile_for(local.intent, local.emotion_score)
        if TIERS.index(profile.min_tier) > TIERS.index(choice.tier) and not choice.budget_capped:
            choice = dataclasses.replace(choice, tier=profile.min_tier, why=choice.why + f", {profile.name} profile")
        return choice

    def chain(self, tier: str) -> list[LanguageModel]:
        """The tier's models, then every cheaper tier's (an outage degrades, never stops, triage)."""
        order = ["strong", "cheap"] if tier == "strong" else ["cheap"] if tier == "cheap" else []
        return [m for t in order for m in self.tiers.get(t, ())]

    def account_for(self, ticket: Ticket) -> str:
        return f"{ticket.provider}:{self.account}"

    # ------------------------------------------------------------------ the whole refinement
    def refine(self, ticket: Ticket, local: Decision) -> Decision:
        if {AUTO_REPLY_TAG, SPAM_TAG} & set(local.tags) and not local.escalate:
            return local  # an out-of-office reply or cold outreach: nothing to classify or answer, no spend
        started = time.perf_counter()
        choice = self.choose(ticket, local)
        trace = [Stage("llm.route", 0.0, f"tier={choice.tier} ({choice.why})")]
        account = self.account_for(ticket)
        tags: list[str] = []
        if choice.budget_capped:
            tags.append(BUDGET_TAG)
            log.warning("llm.budget_reached", account=account, monthly_usd=self.budget.monthly_usd)
        chain = self.chain(choice.tier)
        if not chain:
            return self._finish(account, local, trace, tags, None, started)

        redacted = redact_ticket(ticket)
        usage = Usage(self.prices)
        for model in chain:
            try:
                classification = self._classify(model, redacted, local, usage, trace)
                if classification is None:
                    # Invalid twice: the model cannot do this ticket; say so and keep the local decision.
                    trace.append(Stage("llm.fallback", 0.0, f"{model.name}: invalid output after repair -> local"))
                    return self._finish(account, local, trace, tags, usage, started)
                decision = self._merge(ticket, local, classification, model, redacted, usage, trace)
            except IntegrationError as exc:
                trace.append(Stage("llm.fallback", 0.0, f"{model.name}: {exc.reason} -> next"))
                log.warning("llm.call_failed", model=model.name, reason=exc.reason, status=exc.status)
                continue
            tags.append(f"{TIER_TAG_PREFIX}{choice.tier}")
            return self._finish(account, decision, trace, tags, usage, started, model=model.name)
        trace.append(Stage("llm.fallback", 0.0, "every model failed -> local"))
        return self._finish(account, local, trace, tags, usage, started)

    # ------------------------------------------------------------------ steps
    def _ask(self, model: LanguageModel, prompt: TaskPrompt, system: str, user: str, usage: Usage, trace: list[Stage]) -> str:
        t0 = time.perf_counter()
        completion = call_model(
            model,
            self.breakers.for_model(model.name),
            self.retry,
            system,
            user,
            max_tokens=prompt.max_tokens,
            json_mode=prompt.json,
            sleep=self.sleep,
            on_retry=lambda exc, wait: trace.append(Stage("llm.retry", 0.0, f"{model.name}: {exc.reason}, waited {wait:.1f}s")),
        )
        usage.add(completion, model.name)
        trace.append(
            Stage(f"llm.{prompt.task}", (time.perf_counter() - t0) * 1000,
                  f"{model.name} {prompt.version} in={completion.input_tokens} out={completion.output_tokens}")
        )
        return completion.text

    def _structured(self, model, prompt: TaskPrompt, system, user, schema, usage, trace):  # noqa: ANN001, ANN202
        """One answer, validated; one repair attempt that shows the model its error; else None."""
        answer = self._ask(model, prompt, system, user, usage, trace)
        parsed, error = validate(schema, answer)
        if parsed is not None:
            return parsed
        trace.append(Stage(f"llm.{prompt.task}.invalid", 0.0, error[:200]))
        answer = self._ask(model, prompt, system, user + "\n\n" + prompt.render_repair(error, answer), usage, trace)
        parsed, error = validate(schema, answer)
        if parsed is None:
            trace.append(Stage(f"llm.{prompt.task}.invalid", 0.0, f"after repair: {error[:200]}"))
        return parsed

    def _classify(self, model, redacted: Redacted, local: Decision, usage: Usage, trace) -> Classification | None:  # noqa: ANN001
        prompt = self.prompts.tasks["classify"]
        system, user = prompt.render(
            intents=", ".join(ALLOWED_INTENTS),
            priorities=", ".join(PRIORITIES),
            subject=redacted.subject,
            thread=redacted.thread,
            local_intent=local.intent,
            local_confidence=f"{local.confidence:.2f}",
        )
        return self._structured(model, prompt, system, user, Classification, usage, trace)

    def _merge(self, ticket, local: Decision, result: Classification, model, redacted: Redacted, usage, trace) -> Decision:  # noqa: ANN001
        """The model's intent and action over the engine's, within the policy's rules."""
        policy = self.policy
        # Rule-based reasons (anger, legal, sticky, rejected offer) stand; only uncertainty can be cleared.
        reasons = [r for r in local.reasons if r not in UNCERTAINTY_REASONS and not r.startswith("intent_")]
        if result.intent in policy.escalate_intents:
            reasons.append(f"intent_{result.intent}")
        if result.intent == UNSURE and policy.escalate_out_of_scope:
            reasons.append("out_of_scope")
        if result.action == "escalate":
            reasons.append("llm_escalate")
        escalate = bool(reasons)
        priority, rule = priority_for(policy, result.intent, local.emotion_score, escalate, reasons, local.language)
        if rule == "default":
            priority = result.priority
        queue, _ = queue_for(policy, result.intent, escalate, local.language, has_native_draft=not escalate, reasons=reasons)
        profile = self.prompts.profile_for(result.intent, local.emotion_score)
        draft, handoff = None, local.handoff
        if escalate:
            handoff = self._summarise(model, redacted, local, reasons, profile.guidance, usage, trace) or local.handoff
        else:
            draft = self._draft(model, redacted, local, profile.guidance, usage, trace)
        tags = [t for t in local.tags if t != ESCALATED_TAG and not t.startswith("intent__")]
        tags += [f"intent__{result.intent}"] + ([ESCALATED_TAG] if escalate else [])
        fields = {
            **local.fields,
            "intent": result.intent,
            "confidence": round(result.confidence, 3),
            "escalation_reason": ",".join(dict.fromkeys(reasons)),
        }
        note = local.internal_note.rstrip()
        if handoff is not None and handoff is not local.handoff:
            note += f"\nHandoff: {handoff.render()}"
        note += f"\nModel: {model.name} ({result.reason or 'no reason given'})"
        return dataclasses.replace(
            local,
            intent=result.intent,
            confidence=round(result.confidence, 3),
            priority=priority,  # type: ignore[arg-type]
            queue=queue,
            escalate=escalate,
            reasons=tuple(dict.fromkeys(reasons)),
            draft=draft,
            handoff=handoff,
            internal_note=note,
            tags=tuple(tags),
            fields=fields,
        )

    def _draft(self, model, redacted: Redacted, local: Decision, guidance: str, usage, trace) -> str:  # noqa: ANN001
        prompt = self.prompts.tasks["draft"]
        system, user = prompt.render(
            language=local.language,
            guidance=guidance,
            signature=self.policy.signature,
            subject=redacted.subject,
            thread=redacted.thread,
            reference=redacted.text(local.draft or ""),
        )
        text = self._ask(model, prompt, system, user, usage, trace).strip()
        if not text:
            trace.append(Stage("llm.draft.invalid", 0.0, "empty draft -> local draft"))
            return local.draft or ""
        return redacted.restore(text)

    def _summarise(self, model, redacted: Redacted, local, reasons, guidance, usage, trace) -> HandoffSummary | None:  # noqa: ANN001
        prompt = self.prompts.tasks["summarise"]
        system, user = prompt.render(
            guidance=guidance, subject=redacted.subject, thread=redacted.thread, reasons=", ".join(reasons)
        )
        summary = self._structured(model, prompt, system, user, Summary, usage, trace)
        if summary is None:
            return None
        # The summary goes into an internal note in the helpdesk: placeholders stay, agents see the thread.
        return HandoffSummary(
            issue=summary.issue,
            sentiment=summary.sentiment or local.sentiment,
            offered=summary.offered,
            customer_answer=summary.customer_answer,
            suggestion=summary.suggestion,
            reason=summary.reason or ", ".join(reasons),
        )

    def _finish(self, account: str, decision, trace, tags, usage: Usage | None, started: float, model: str | None = None) -> Decision:  # noqa: ANN001
        tokens = usage.tokens if usage else 0
        cost = usage.cost_usd if usage else 0.0
        trace[0] = dataclasses.replace(trace[0], ms=(time.perf_counter() - started) * 1000)
        if usage and cost:
            self.budget.record(account, cost)
        trace.append(Stage("llm.cost", 0.0, f"tokens={tokens} usd={cost:.6f} prompts={self.prompts.versions}"))
        return dataclasses.replace(
            decision,
            model=model or decision.model,
            tokens=decision.tokens + tokens,
            cost_usd=round(decision.cost_usd + cost, 8),
            tags=tuple(dict.fromkeys([*decision.tags, *tags])),
            trace=(*decision.trace, *trace),
        )
