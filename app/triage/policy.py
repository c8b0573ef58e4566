"""The triage policy: thresholds, escalation rules, priority rules and queues, read from one TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from app.triage.decision import PRIORITIES

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")


class PolicyError(ValueError):
    """The policy file is malformed; raised at load time so a bad policy stops the worker at boot."""


@dataclass(frozen=True)
class PriorityRule:
    name: str
    priority: str
    intents: frozenset[str] = frozenset()
    min_emotion: float | None = None
    escalated: bool | None = None
    reasons: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PhraseRule:
    """Phrases that send a ticket to a human whatever its intent (a legal threat, an account takeover)."""

    reason: str
    words: tuple[str, ...]
    queue: str = ""  # logical queue for tickets this rule escalates ("" = the usual queue)
    next_step: str = ""  # what the handoff summary tells the agent to do first


@dataclass(frozen=True)
class Policy:
    """Everything configurable about a decision. `helpdesk` holds the raw adapter tables untouched."""

    version: str
    unsure_below: float
    low_confidence_below: float
    emotion_at_least: float
    escalate_intents: frozenset[str]
    anger_words: tuple[str, ...]
    escalate_out_of_scope: bool
    escalate_offer_rejected: bool
    max_customer_turns: int
    default_priority: str
    priority_rules: tuple[PriorityRule, ...]
    queues: dict[str, str]
    default_queue: str
    escalation_queue: str
    language_queues: dict[str, str]
    languages: tuple[str, ...]
    draft_languages: frozenset[str]
    min_article_score: float
    min_article_score_other_intent: float
    signature: str
    no_article_intents: frozenset[str]
    assignees: dict[str, str] = field(default_factory=dict)
    helpdesk: dict[str, dict] = field(default_factory=dict)
    phrase_rules: tuple[PhraseRule, ...] = ()
    escalate_offer_accepted: bool = True
    path: str = ""

    def queue_for(self, intent: str) -> str:
        return self.queues.get(intent, self.default_queue)

    def assignee_for(self, intent: str, queue: str) -> str | None:
        """Logical assignee name (intent first, then queue); adapters map it to a user id."""
        return self.assignees.get(intent) or self.assignees.get(queue)


def _priority(value: object, where: str) -> str:
    if value not in PRIORITIES:
        raise PolicyError(f"{where}: priority {value!r} is not one of {', '.join(PRIORITIES)}")
    return str(value)


def _phrase_rule(raw: dict, index: int) -> PhraseRule:
    where = f"escalation.phrases[{index}]"
    if not raw.get("reason") or not raw.get("words"):
        raise PolicyError(f"{where}: needs a reason and a list of words")
    return PhraseRule(
        reason=str(raw["reason"]),
        words=tuple(str(w).lower() for w in raw["words"]),
        queue=str(raw.get("queue", "")),
        next_step=str(raw.get("next_step", "")),
    )


def _rule(raw: dict, index: int) -> PriorityRule:
    where = f"priority.rules[{index}]"
    min_emotion = raw.get("min_emotion")
    return PriorityRule(
        name=str(raw.get("name", f"rule_{index}")),
        priority=_priority(raw.get("priority"), where),
        intents=frozenset(raw.get("intents", ())),
        min_emotion=float(min_emotion) if min_emotion is not None else None,
        escalated=raw.get("escalated"),
        reasons=frozenset(raw.get("reasons", ())),
        languages=frozenset(raw.get("languages", ())),
    )


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate the policy; `None` means the bundled default `app/triage/policy.toml`."""
    policy_path = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        raw = tomllib.loads(policy_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"cannot read triage policy {policy_path}: {exc}") from exc
    try:
        escalation = raw.get("escalation", {})
        priority = raw.get("priority", {})
        queues_raw = dict(raw.get("queues", {}))
        language_queues = dict(queues_raw.pop("languages", {}))
        default_queue = str(queues_raw.pop("default", "general"))
        escalation_queue = str(queues_raw.pop("escalation", default_queue))
        language = raw.get("language", {})
        drafts = raw.get("drafts", {})
        return Policy(
            version=str(raw["version"]),
            unsure_below=float(raw.get("intent", {}).get("unsure_below", 0.4)),
            low_confidence_below=float(escalation.get("low_confidence_below", 0.85)),
            emotion_at_least=float(escalation.get("emotion_at_least", 0.5)),
            escalate_intents=frozenset(escalation.get("intents", ())),
            anger_words=tuple(str(w).lower() for w in escalation.get("anger_words", ())),
            escalate_out_of_scope=bool(escalation.get("out_of_scope", True)),
            escalate_offer_rejected=bool(escalation.get("offer_rejected", True)),
            escalate_offer_accepted=bool(escalation.get("offer_accepted", True)),
            max_customer_turns=int(escalation.get("max_customer_turns", 0)),
            default_priority=_priority(priority.get("default", "normal"), "priority.default"),
            priority_rules=tuple(_rule(r, i) for i, r in enumerate(priority.get("rules", ()))),
            queues={str(k): str(v) for k, v in queues_raw.items()},
            default_queue=default_queue,
            escalation_queue=escalation_queue,
            language_queues={str(k): str(v) for k, v in language_queues.items()},
            languages=tuple(language.get("supported", ("en",))),
            draft_languages=frozenset(language.get("draft_languages", ("en",))),
            min_article_score=float(drafts.get("min_article_score", 0.65)),
            min_article_score_other_intent=float(drafts.get("min_article_score_other_intent", 0.85)),
            signature=str(drafts.get("signature", "The Support Team")),
            no_article_intents=frozenset(drafts.get("no_article_intents", ("feedback",))),
            assignees={str(k): str(v) for k, v in raw.get("assignees", {}).items()},
            helpdesk={str(k): dict(v) for k, v in raw.get("helpdesk", {}).items()},
            phrase_rules=tuple(_phrase_rule(r, i) for i, r in enumerate(escalation.get("phrases", ()))),
            path=str(policy_path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, PolicyError):
            raise
        raise PolicyError(f"invalid triage policy {policy_path}: {exc!r}") from exc
