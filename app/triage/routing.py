"""Priority and queue from the policy: the one place that maps an outcome to where a ticket goes."""

from __future__ import annotations

from collections.abc import Sequence

from app.triage.policy import Policy


def priority_for(
    policy: Policy, intent: str, emotion: float, escalated: bool, reasons: list[str], language: str
) -> tuple[str, str]:
    """(priority, name of the rule that set it, or "default")."""
    for rule in policy.priority_rules:
        if rule.intents and intent not in rule.intents:
            continue
        if rule.min_emotion is not None and emotion < rule.min_emotion:
            continue
        if rule.escalated is not None and rule.escalated != escalated:
            continue
        if rule.reasons and not rule.reasons.intersection(reasons):
            continue
        if rule.languages and language not in rule.languages:
            continue
        return rule.priority, rule.name
    return policy.default_priority, "default"


def queue_for(
    policy: Policy, intent: str, escalated: bool, language: str, has_native_draft: bool, reasons: Sequence[str] = ()
) -> tuple[str, str]:
    """(logical queue, why). A phrase rule's queue first (a legal threat goes to legal in any language),
    then language queues, then intent queues; a general-intent escalation goes to the escalation queue."""
    for rule in policy.phrase_rules:
        if rule.queue and rule.reason in reasons:
            return rule.queue, f"queue for {rule.reason.replace('_', ' ')}"
    if language in policy.language_queues and not has_native_draft:
        return policy.language_queues[language], f"language queue for {language}"
    queue = policy.queue_for(intent)
    if escalated and queue == policy.default_queue:
        return policy.escalation_queue, "escalation queue"
    return queue, f"queue for intent {intent}"
