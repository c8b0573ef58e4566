"""Prompt profiles: one versioned TOML file per task (classify, draft, summarise) plus per-intent profiles."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).with_name("prompts")
TASKS = ("classify", "draft", "summarise")
_TIERS = ("local", "cheap", "strong")


@dataclass(frozen=True)
class TaskPrompt:
    task: str
    version: str
    system: str
    user: str
    repair: str
    max_tokens: int
    json: bool

    def render(self, **values: object) -> tuple[str, str]:
        """(system, user); unknown $names stay as written so a stray "$5" in a ticket cannot break it."""
        text = {k: str(v) for k, v in values.items()}
        return Template(self.system).safe_substitute(text), Template(self.user).safe_substitute(text)

    def render_repair(self, error: str, answer: str) -> str:
        return Template(self.repair).safe_substitute(error=error, answer=answer[:2000])


@dataclass(frozen=True)
class IntentProfile:
    name: str
    intents: frozenset[str]
    guidance: str
    min_tier: str
    min_emotion: float | None = None


@dataclass(frozen=True)
class PromptBook:
    tasks: dict[str, TaskPrompt]
    profiles: tuple[IntentProfile, ...]
    default: IntentProfile
    version: str

    def profile_for(self, intent: str, emotion: float) -> IntentProfile:
        for profile in self.profiles:  # the empathy profile wins for an upset customer, whatever the intent
            if profile.min_emotion is not None and emotion >= profile.min_emotion:
                return profile
        for profile in self.profiles:
            if intent in profile.intents:
                return profile
        return self.default

    @property
    def versions(self) -> str:
        return " ".join([self.version, *(t.version for t in self.tasks.values())])


def load_prompts(directory: str | Path | None = None) -> PromptBook:
    """Read every profile at boot; a missing key stops the worker with the file name in the message."""
    root = Path(directory) if directory else PROMPT_DIR
    try:
        tasks = {}
        for task in TASKS:
            raw = tomllib.loads((root / f"{task}.toml").read_text(encoding="utf-8"))
            tasks[task] = TaskPrompt(
                task=task,
                version=str(raw["version"]),
                system=str(raw["system"]),
                user=str(raw["user"]),
                repair=str(raw.get("repair", "")),
                max_tokens=int(raw.get("max_tokens", 400)),
                json=bool(raw.get("json", False)),
            )
        raw = tomllib.loads((root / "profiles.toml").read_text(encoding="utf-8"))
        profiles = []
        for name, body in raw.items():
            if not isinstance(body, dict):
                continue
            min_tier = str(body.get("min_tier", "local"))
            if min_tier not in _TIERS:
                raise ValueError(f"profile {name}: min_tier {min_tier!r} is not one of {', '.join(_TIERS)}")
            emotion = body.get("min_emotion")
            profiles.append(
                IntentProfile(
                    name=name,
                    intents=frozenset(body.get("intents", ())),
                    guidance=str(body.get("guidance", "")).strip(),
                    min_tier=min_tier,
                    min_emotion=float(emotion) if emotion is not None else None,
                )
            )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot load prompt profiles from {root}: {exc!r}") from exc
    default = next((p for p in profiles if p.name == "default"), IntentProfile("default", frozenset(), "", "local"))
    return PromptBook(tasks, tuple(p for p in profiles if p.name != "default"), default, str(raw.get("version", "")))
