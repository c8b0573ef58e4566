"""Anthropic Messages API through the official SDK; JSON output comes back as a forced tool call.

https://docs.anthropic.com/en/api/messages
"""
from __future__ import annotations

import json
from typing import Any

import anthropic

from app.config import Settings
from app.ports import Completion
from integrations.llm import sdk_errors

# Forcing a tool is Anthropic's reliable way to get one JSON object back; its `input` is the answer.
JSON_TOOL = {
    "name": "answer",
    "description": "Return the answer as the JSON object the instructions describe.",
    "input_schema": {"type": "object", "additionalProperties": True},
}


class AnthropicModel:
    """One Claude model. `http_client` (an httpx2.Client) is the test seam."""

    def __init__(self, client: anthropic.Anthropic, model: str) -> None:
        self.client = client
        self.model = model
        self.name = f"anthropic:{model}"

    @classmethod
    def from_settings(cls, settings: Settings, model: str, http_client: Any = None) -> "AnthropicModel":
        client = anthropic.Anthropic(
            api_key=settings.ANTHROPIC_API_KEY,
            timeout=settings.LLM_TIMEOUT_SECONDS,
            max_retries=0,  # app.routing.resilience retries, with the breaker's knowledge
            http_client=http_client,
        )
        return cls(client, model)

    def complete(self, system: str, prompt: str, *, max_tokens: int = 512, json_mode: bool = False) -> Completion:
        kwargs: dict[str, Any] = {}
        if json_mode:
            kwargs = {"tools": [JSON_TOOL], "tool_choice": {"type": "tool", "name": JSON_TOOL["name"]}}
        with sdk_errors("anthropic", anthropic):
            response = self.client.messages.create(
                model=self.model,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                **kwargs,
            )
        text = ""
        for block in response.content:
            if block.type == "tool_use":
                text = json.dumps(block.input, ensure_ascii=False)
                break
            if block.type == "text":
                text += block.text
        return Completion(
            text=text,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            model=response.model or self.model,
        )

