"""Shared fixtures: the default models and policy are loaded once per test session (about 2 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.triage import Comment, Models, Policy, Ticket, load_models, load_policy

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
GOLDEN = Path(__file__).with_name("golden_threads.json")


@pytest.fixture(scope="session")
def models() -> Models:
    return load_models()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


def make_ticket(case: dict) -> Ticket:
    comments = tuple(
        Comment(id=str(i), author_role=role, body=body, author_name="")
        for i, (role, body) in enumerate(case["thread"], start=1)
    )
    return Ticket(
        provider="sandbox",
        id=case["id"],
        subject=case["subject"],
        comments=comments,
        requester_name=case.get("requester_name", ""),
        requester_locale=case.get("locale", ""),
        tags=tuple(case.get("tags", ())),
    )


def golden_cases() -> list[dict]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))
