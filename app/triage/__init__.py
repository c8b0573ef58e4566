"""The triage engine: a pure function from a Ticket to a Decision, plus the policy and models it needs.

Contract used by the worker:
    policy = load_policy(path)          # TOML; None = the bundled app/triage/policy.toml
    models = load_models(model_dir)     # once per process; None = the committed default models
    decision = run(ticket, models, policy)
"""

from __future__ import annotations

from app.triage.bundle import Models, load_models
from app.triage.decision import Decision, HandoffSummary, Stage
from app.triage.pipeline import run
from app.triage.policy import Policy, PolicyError, load_policy
from app.triage.ticket import Comment, Ticket

__all__ = [
    "Comment",
    "Decision",
    "HandoffSummary",
    "Models",
    "Policy",
    "PolicyError",
    "Stage",
    "Ticket",
    "load_models",
    "load_policy",
    "run",
]
