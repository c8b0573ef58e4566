"""OpenAI chat completions through the official SDK; OPENAI_BASE_URL reaches vLLM, Ollama or llama.cpp too.

https://platform.openai.com/docs/api-reference/chat/create
"""
from __future__ import annotations

from typing import Any

import openai

from app.config import Settings
from app.ports import Completion, IntegrationError
from integrations.llm import sdk_errors


class OpenAIModel:
    """One model on one OpenAI-compatible endpoint. `http_client` (an httpx2.Client) is the test seam."""

    def __init__(self, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model = model
        self.name = f"openai:{model}"

    @classmethod
    def from_settings(cls, settings: Settings, model: str, http_client: Any = None) -> "OpenAIModel":
        client = openai.OpenAI(
            # Local servers accept any key; the SDK refuses to start without one.
            api_key=settings.OPENAI_API_KEY or "not-needed",
            base_url=settings.OPENAI_BASE_URL or None,
            timeout=settings.LLM_TIMEOUT_SECONDS,
            max_retries=0,  # app.routing.resilience retries, with the breaker's knowledge
            http_client=http_client,
        )
        return cls(client, model)

    def complete(self, system: str, prompt: str, *, max_tokens: int = 512, json_mode: bool = False) -> Completion:
        kwargs: dict[str, Any] = {}
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        with sdk_errors("openai", openai):
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0,
                **kwargs,
            )
        if not response.choices:
            raise IntegrationError("openai: response without choices", reason="bad_response")
        message = response.choices[0].message
        text = message.content or ""
        if not text and message.tool_calls:  # some compatible servers answer JSON mode with a tool call
            text = message.tool_calls[0].function.arguments
        usage = response.usage
        return Completion(
            text=text,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=response.model or self.model,
        )

