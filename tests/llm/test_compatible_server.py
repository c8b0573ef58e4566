"""OPENAI_BASE_URL pointing at an OpenAI-compatible server (vLLM, Ollama, llama.cpp): a fake one on loopback."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import triage
from app.routing import build_router, refine
from app.routing.cost import MemorySpendCounter
from tests.llm.conftest import make_ticket, openai_chat


class FakeOpenAI(BaseHTTPRequestHandler):
    """Speaks POST /v1/chat/completions: JSON mode gets a classification, anything else a reply draft."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length))
        FakeOpenAI.seen.append({"path": self.path, "auth": self.headers.get("authorization"), "body": body})
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        if body.get("response_format", {}).get("type") == "json_object":
            content = json.dumps({"intent": "order_status", "priority": "normal", "action": "reply",
                                  "confidence": 0.97, "reason": "asks where the parcel is"})
        else:
            content = "Hi [CUSTOMER], your parcel left our warehouse today. The Support Team"
        payload = json.dumps(openai_chat(content, model=body["model"], prompt_tokens=300, completion_tokens=40)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def server():
    FakeOpenAI.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_local_server_through_openai_base_url(settings, policy, server):
    local_settings = settings.model_copy(update={
        "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OPENAI_BASE_URL": server,
        "LLM_CHEAP_MODEL": "openai:llama3.1:8b", "LLM_STRONG_MODEL": "openai:llama3.1:70b", "LLM_STRONG_THRESHOLD": 1.01,
    })
    router = build_router(local_settings, policy, spend=MemorySpendCounter())
    ticket = make_ticket("Hi, where is my parcel? It was due Monday.", subject="Where is my order")
    local = triage.run(ticket, triage.load_models(), policy)
    forced = local.__class__(**{**local.__dict__, "confidence": 0.5})  # make sure the router sends it out
    decision = refine(ticket, forced, router)
    assert [s["path"] for s in FakeOpenAI.seen] == ["/v1/chat/completions"] * 2
    assert FakeOpenAI.seen[0]["body"]["model"] == "llama3.1:8b"
    assert decision.model == "openai:llama3.1:8b"
    assert decision.intent == "order_status" and not decision.escalate
    assert decision.draft.startswith("Hi Maria, your parcel left")
    assert decision.cost_usd == 0.0 and decision.tokens == 680  # self-hosted: tokens counted, no price
    assert "Model: openai:llama3.1:8b" in decision.internal_note
