"""Both SDK adapters against mocked HTTP answers in the shapes the real APIs send."""
from __future__ import annotations

import json

import httpx2
import pytest

from app.ports import IntegrationError, LanguageModel
from integrations.llm import build_model, configured_refs, parse_model_ref
from tests.llm.conftest import (
    ANTHROPIC_500, ANTHROPIC_CREDIT, ANTHROPIC_OVERLOADED, ANTHROPIC_RATE_LIMIT, OPENAI_500, OPENAI_QUOTA,
    OPENAI_RATE_LIMIT, Recorder, anthropic_message, openai_chat, timeout,
)


def _openai(settings, recorder):
    return build_model("openai:gpt-4o-mini", settings, recorder.client())


def _anthropic(settings, recorder):
    return build_model("anthropic:claude-sonnet-4-5", settings, recorder.client())


def test_adapters_implement_the_port(settings):
    for model in (_openai(settings, Recorder({})), _anthropic(settings, Recorder({}))):
        assert isinstance(model, LanguageModel)


def test_openai_success_json_mode_and_usage(settings):
    recorder = Recorder(openai_chat('{"intent": "refund_request"}', prompt_tokens=111, completion_tokens=22))
    completion = _openai(settings, recorder).complete("sys", "hello", max_tokens=50, json_mode=True)
    assert completion.text == '{"intent": "refund_request"}'
    assert (completion.input_tokens, completion.output_tokens) == (111, 22)
    assert completion.model == "gpt-4o-mini-2024-07-18"
    body = recorder.bodies[0]
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert recorder.requests[0].url.path.endswith("/chat/completions")


def test_openai_tool_call_answer_is_read(settings):
    recorder = Recorder(openai_chat(None, tool_arguments='{"intent": "other"}'))
    assert _openai(settings, recorder).complete("s", "p", json_mode=True).text == '{"intent": "other"}'


def test_anthropic_forced_tool_output_and_usage(settings):
    recorder = Recorder(anthropic_message(tool_input={"intent": "complaint", "priority": "high"}))
    completion = _anthropic(settings, recorder).complete("sys", "hello", json_mode=True)
    assert json.loads(completion.text) == {"intent": "complaint", "priority": "high"}
    assert (completion.input_tokens, completion.output_tokens) == (200, 40)
    body = recorder.bodies[0]
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}
    assert body["system"] == "sys"
    assert recorder.requests[0].url.path == "/v1/messages"


def test_anthropic_text_answer(settings):
    recorder = Recorder(anthropic_message(text="Hi [CUSTOMER], your refund is on its way."))
    assert _anthropic(settings, recorder).complete("s", "p").text.startswith("Hi [CUSTOMER]")


@pytest.mark.parametrize(
    ("provider", "response", "reason", "retry_after", "permanent"),
    [
        ("openai", httpx2.Response(429, json=OPENAI_RATE_LIMIT, headers={"retry-after": "3"}), "rate_limited", 3.0, False),
        ("openai", httpx2.Response(429, json=OPENAI_RATE_LIMIT, headers={"retry-after-ms": "1500"}), "rate_limited", 1.5, False),
        ("openai", httpx2.Response(500, json=OPENAI_500), "server_error", None, False),
        ("openai", httpx2.Response(429, json=OPENAI_QUOTA), "out_of_credit", None, True),
        ("openai", httpx2.Response(401, json={"error": {"message": "Incorrect API key", "code": "invalid_api_key"}}), "unauthorized", None, True),
        ("anthropic", httpx2.Response(429, json=ANTHROPIC_RATE_LIMIT, headers={"retry-after": "20"}), "rate_limited", 20.0, False),
        ("anthropic", httpx2.Response(529, json=ANTHROPIC_OVERLOADED), "server_error", None, False),
        ("anthropic", httpx2.Response(500, json=ANTHROPIC_500), "server_error", None, False),
        ("anthropic", httpx2.Response(400, json=ANTHROPIC_CREDIT), "out_of_credit", None, True),
        ("anthropic", httpx2.Response(402, json=ANTHROPIC_CREDIT), "out_of_credit", None, True),
    ],
)
def test_http_errors_become_integration_errors(settings, provider, response, reason, retry_after, permanent):
    model = (_openai if provider == "openai" else _anthropic)(settings, Recorder(response))
    with pytest.raises(IntegrationError) as caught:
        model.complete("s", "p")
    assert caught.value.reason == reason
    assert caught.value.retry_after == retry_after
    assert caught.value.permanent is permanent


@pytest.mark.parametrize("factory", [_openai, _anthropic])
def test_timeout_is_transient(settings, factory):
    recorder = Recorder(timeout)
    with pytest.raises(IntegrationError) as caught:
        factory(settings, recorder).complete("s", "p")
    assert caught.value.reason == "timeout" and not caught.value.permanent
    assert len(recorder.requests) == 1  # the SDK's own retries are off: ours know about the breaker


@pytest.mark.parametrize("factory", [_openai, _anthropic])
def test_malformed_http_body_is_a_bad_response(settings, factory):
    recorder = Recorder(httpx2.Response(200, content=b'{"id": "chatcmpl-1", "choices": [', headers={"content-type": "application/json"}))
    with pytest.raises(IntegrationError) as caught:
        factory(settings, recorder).complete("s", "p")
    assert caught.value.reason == "bad_response"


def test_model_refs_and_defaults(settings):
    assert parse_model_ref("openai:llama3.1:8b") == ("openai", "llama3.1:8b")
    with pytest.raises(ValueError):
        parse_model_ref("gpt-4o")
    assert configured_refs(settings) == (["openai:gpt-4o-mini"], ["anthropic:claude-sonnet-4-5"])
    assert configured_refs(settings.model_copy(update={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""})) == ([], [])
    local_only = settings.model_copy(update={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1",
                                             "LLM_CHEAP_MODEL": "", "LLM_STRONG_MODEL": ""})
    assert configured_refs(local_only) == (["openai:gpt-4o-mini"], ["openai:gpt-4o"])
