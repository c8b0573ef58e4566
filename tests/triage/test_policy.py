from __future__ import annotations

from pathlib import Path

import pytest

from app.triage import load_policy
from app.triage.policy import DEFAULT_POLICY_PATH, PolicyError
from app.triage.routing import priority_for, queue_for
from app.triage.taxonomy import INTENTS


def test_default_policy_contract() -> None:
    policy = load_policy()
    assert policy.version
    assert set(policy.helpdesk) == {"zendesk", "salesforce", "sandbox"}
    assert {"groups", "fields"} <= set(policy.helpdesk["zendesk"])
    assert policy.helpdesk["sandbox"]["fields"]["intent"] == "intent"
    assert policy.low_confidence_below == 0.85
    assert {"refund_request", "legal_privacy", "account_suspended"} <= policy.escalate_intents
    # every intent routes to a queue the helpdesk tables know about
    queues = {policy.queue_for(i) for i in INTENTS} | {policy.escalation_queue}
    assert queues <= set(policy.helpdesk["sandbox"]["groups"])


def test_bad_priority_fails_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_POLICY_PATH.read_text().replace('priority = "urgent"', 'priority = "asap"'))
    with pytest.raises(PolicyError, match="asap"):
        load_policy(bad)


def test_missing_version_fails(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("[intent]\nunsure_below = 0.4\n")
    with pytest.raises(PolicyError):
        load_policy(bad)


def test_priority_rules_first_match_wins() -> None:
    policy = load_policy()
    assert priority_for(policy, "legal_privacy", 0.0, True, [], "en") == ("urgent", "legal_request")
    assert priority_for(policy, "refund_request", 0.9, True, [], "en")[0] == "high"
    assert priority_for(policy, "refund_request", 0.1, True, [], "en")[0] == "normal"
    assert priority_for(policy, "feedback", 0.1, False, [], "en")[0] == "low"


def test_queue_escalation_and_language_queue(tmp_path: Path) -> None:
    policy = load_policy()
    assert queue_for(policy, "refund_request", True, "en", False)[0] == "billing"
    assert queue_for(policy, "other", True, "en", False)[0] == "tier2"
    assert queue_for(policy, "other", False, "en", True)[0] == "general"
    custom = tmp_path / "policy.toml"
    custom.write_text(DEFAULT_POLICY_PATH.read_text().replace('# de = "german"', 'de = "german"'))
    assert queue_for(load_policy(custom), "order_status", False, "de", False)[0] == "german"


def test_assignee_is_a_logical_name(tmp_path: Path) -> None:
    custom = tmp_path / "policy.toml"
    custom.write_text(
        DEFAULT_POLICY_PATH.read_text().replace(
            '# legal_privacy = "privacy_officer"', 'legal_privacy = "privacy_officer"'
        )
    )
    policy = load_policy(custom)
    assert policy.assignee_for("legal_privacy", "legal") == "privacy_officer"
    assert policy.assignee_for("order_status", "orders") is None
    assert load_policy().assignee_for("legal_privacy", "legal") is None
