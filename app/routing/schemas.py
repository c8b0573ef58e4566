"""Structured model output, validated: intent in the taxonomy, priority in its enum, action a field."""
from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.triage.decision import PRIORITIES
from app.triage.taxonomy import INTENTS, UNSURE

ALLOWED_INTENTS: tuple[str, ...] = (*INTENTS, UNSURE)


class Classification(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    intent: str
    priority: Literal["urgent", "high", "normal", "low"]
    action: Literal["reply", "escalate"]
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    reason: str = Field(default="", max_length=500)

    @field_validator("intent")
    @classmethod
    def _in_taxonomy(cls, value: str) -> str:
        if value not in ALLOWED_INTENTS:
            raise ValueError(f"intent {value!r} is not one of {', '.join(ALLOWED_INTENTS)}")
        return value


class Summary(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    issue: str = Field(min_length=3, max_length=600)
    sentiment: str = Field(default="", max_length=80)
    offered: str = Field(default="", max_length=300)
    customer_answer: str = Field(default="", max_length=300)
    suggestion: str = Field(min_length=3, max_length=600)
    reason: str = Field(default="", max_length=300)


assert tuple(Classification.model_fields["priority"].annotation.__args__) == PRIORITIES  # type: ignore[union-attr]

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_json_object(text: str) -> dict:
    """The JSON object in a model answer; tolerates a ```json fence, nothing else."""
    cleaned = _FENCE.sub("", text.strip())
    value = json.loads(cleaned)
    if not isinstance(value, dict):
        raise ValueError("the answer is not a JSON object")
    return value


def validate(schema: type[BaseModel], text: str) -> tuple[BaseModel | None, str]:
    """(parsed, "") or (None, a short error to show the model in the repair prompt)."""
    try:
        return schema.model_validate(parse_json_object(text)), ""
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            return None, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())[:600]
        return None, f"not a JSON object ({exc})"[:600]
