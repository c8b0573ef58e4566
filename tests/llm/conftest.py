"""Helpers for the LLM tests: real response shapes of both APIs, a capturing mock transport, a local decision."""
from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest

from app.config import load_settings
from app.triage.decision import Decision
from app.triage.policy import load_policy
from app.triage.ticket import Comment, Ticket


def openai_chat(content: str | None, *, model: str = "gpt-4o-mini-2024-07-18", prompt_tokens: int = 120,
                completion_tokens: int = 30, tool_arguments: str | None = None) -> dict:
    """A chat.completion object as api.openai.com returns it."""
    message: dict = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if tool_arguments is not None:
        message["tool_calls"] = [{"id": "call_abc123", "type": "function",
                                  "function": {"name": "answer", "arguments": tool_arguments}}]
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if tool_arguments else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }


def anthropic_message(*, text: str | None = None, tool_input: dict | None = None,
                      model: str = "claude-sonnet-4-5-20250929", input_tokens: int = 200, output_tokens: int = 40) -> dict:
    """A Messages API response as api.anthropic.com returns it (text or forced tool_use)."""
    content: list[dict] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if tool_input is not None:
        content.append({"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "answer", "input": tool_input})
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tool_input is not None else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


OPENAI_RATE_LIMIT = {"error": {"message": "Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 500, Used 500, Requested 1.", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
OPENAI_QUOTA = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}
OPENAI_500 = {"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": None, "code": None}}
ANTHROPIC_RATE_LIMIT = {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}
ANTHROPIC_CREDIT = {"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}
ANTHROPIC_OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
ANTHROPIC_500 = {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}


class Recorder:
    """An httpx2 transport that answers from a queue of handlers and keeps every request body."""

    def __init__(self, *answers: Callable[[httpx2.Request], httpx2.Response] | httpx2.Response | dict) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            return answer(request)
        if isinstance(answer, dict):
            return httpx2.Response(200, json=answer)
        return answer

    @property
    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))


def timeout(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


@pytest.fixture
def policy():
    return load_policy()


@pytest.fixture
def settings(tmp_path):
    return load_settings(VAR_DIR=tmp_path, OPENAI_API_KEY="sk-test", ANTHROPIC_API_KEY="sk-ant-test",
                         LLM_CHEAP_MODEL="openai:gpt-4o-mini", LLM_STRONG_MODEL="anthropic:claude-sonnet-4-5")


def make_ticket(*bodies: str, subject: str = "Refund for order 4411", tags: tuple[str, ...] = (),
                requester: str = "Maria Lopez") -> Ticket:
    comments = tuple(Comment(str(i), "customer", body, author_name=requester) for i, body in enumerate(bodies))
    return Ticket(provider="zendesk", id="77", subject=subject, comments=comments, requester_name=requester, tags=tags)


def make_decision(intent: str = "refund_request", confidence: float = 0.5, *, emotion: float = 0.1,
                  reasons: tuple[str, ...] = ("low_confidence",), draft: str | None = None) -> Decision:
    return Decision(
        intent=intent, confidence=confidence, language="en", sentiment="neutral", emotion_score=emotion,
        priority="normal", queue="billing", escalate=bool(reasons), reasons=reasons,
        tags=(f"intent__{intent}", "ai_escalated") if reasons else (f"intent__{intent}",),
        internal_note="Intent: refund_request (0.50)", draft=draft, model="local:test", policy_version="t",
        fields={"intent": intent},
    )


# LLM_* settings of the machine running the tests must not change what the router does in them.
for _name in [n for n in __import__("os").environ if n.startswith("LLM_")]:
    del __import__("os").environ[_name]
