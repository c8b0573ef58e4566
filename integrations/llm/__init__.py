"""LLM adapters (OpenAI and compatible servers, Anthropic) behind the `LanguageModel` port, and their factory.

Each adapter makes exactly one HTTP attempt per call (SDK retries off): retries, backoff, circuit breaking
and fallback belong to `app.routing.resilience`, which needs every failure mapped to one `IntegrationError`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType

from app.config import Settings
from app.ports import IntegrationError, LanguageModel

# Defaults when a key is set but LLM_CHEAP_MODEL / LLM_STRONG_MODEL are not.
DEFAULT_MODELS = {
    "openai": ("gpt-4o-mini", "gpt-4o"),
    "anthropic": ("claude-3-5-haiku-latest", "claude-sonnet-4-5"),
}

# Phrases providers use when the account has no credit left (OpenAI: 429 insufficient_quota; Anthropic:
# 400 "credit balance is too low"). Retrying cannot help; the breaker keeps the provider closed for a while.
_OUT_OF_CREDIT = ("insufficient_quota", "credit balance", "billing", "exceeded your current quota", "payment required")


def parse_model_ref(ref: str) -> tuple[str, str]:
    """"openai:llama3.1:8b" -> ("openai", "llama3.1:8b"): only the first colon separates the provider."""
    provider, sep, model = ref.strip().partition(":")
    if not sep or provider not in DEFAULT_MODELS or not model:
        raise ValueError(f"model {ref!r} must be provider:model with provider one of {', '.join(DEFAULT_MODELS)}")
    return provider, model


def error_for_status(
    provider: str, status: int, body: str, headers: Mapping[str, str] | None = None
) -> IntegrationError:
    """Map an HTTP error answer of an LLM API to IntegrationError (`reason` feeds the breaker and metrics)."""
    headers = headers or {}
    message = f"{provider} -> {status}: {body[:300]}"
    lowered = body.lower()
    if status == 402 or (status in (400, 403, 429) and any(p in lowered for p in _OUT_OF_CREDIT)):
        return IntegrationError(message, permanent=True, reason="out_of_credit", status=status)
    if status == 429:
        return IntegrationError(message, retry_after=retry_after_seconds(headers), reason="rate_limited", status=status)
    if status in (408, 409) or status >= 500:  # 529 is Anthropic's "overloaded"
        return IntegrationError(message, retry_after=retry_after_seconds(headers), reason="server_error", status=status)
    if status in (401, 403):
        return IntegrationError(message, permanent=True, reason="unauthorized", status=status)
    return IntegrationError(message, permanent=True, reason="bad_request", status=status)


@contextmanager
def sdk_errors(provider: str, sdk: ModuleType) -> Iterator[None]:
    """Turn the errors of the openai or anthropic SDK (same class names in both) into IntegrationError."""
    try:
        yield
    except sdk.APIStatusError as exc:
        try:
            body = exc.response.text
        except Exception:  # noqa: BLE001 - a streamed or closed body: the message is enough
            body = str(exc)
        raise error_for_status(provider, exc.status_code, body, dict(exc.response.headers)) from exc
    except sdk.APITimeoutError as exc:
        raise IntegrationError(f"{provider}: timeout", reason="timeout") from exc
    except sdk.APIConnectionError as exc:
        raise IntegrationError(f"{provider}: connection failed: {exc}", reason="connection_error") from exc
    except (sdk.APIResponseValidationError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise IntegrationError(f"{provider}: unreadable response: {exc}", reason="bad_response") from exc


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After (seconds) or the OpenAI/Anthropic millisecond variant; None when absent or a date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def configured_refs(settings: Settings) -> tuple[list[str], list[str]]:
    """(cheap chain, strong chain) as "provider:model" refs; both empty when no LLM is configured."""
    have = [p for p, on in (("openai", settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL),
                            ("anthropic", settings.ANTHROPIC_API_KEY)) if on]
    cheap = [r.strip() for r in settings.LLM_CHEAP_MODEL.split(",") if r.strip()]
    strong = [r.strip() for r in settings.LLM_STRONG_MODEL.split(",") if r.strip()]
    if not have:
        return [], []
    if not cheap:
        cheap = [f"{p}:{DEFAULT_MODELS[p][0]}" for p in have]
    if not strong:
        strong = [f"{p}:{DEFAULT_MODELS[p][1]}" for p in reversed(have)]
    for ref in cheap + strong:
        provider, _ = parse_model_ref(ref)
        if provider not in have:
            raise ValueError(f"{ref}: {provider} is not configured (set its API key or OPENAI_BASE_URL)")
    return cheap, strong


def build_model(ref: str, settings: Settings, http_client: object | None = None) -> LanguageModel:
    """The one factory from a "provider:model" ref to an adapter."""
    provider, model = parse_model_ref(ref)
    if provider == "openai":
        from integrations.llm.openai import OpenAIModel

        return OpenAIModel.from_settings(settings, model, http_client=http_client)
    from integrations.llm.anthropic import AnthropicModel

    return AnthropicModel.from_settings(settings, model, http_client=http_client)
