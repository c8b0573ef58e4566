"""What a worker process needs, built once: settings, database sessions, the helpdesk adapter, models."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app import triage
from app.config import Settings, get_settings
from app.db import session_factory
from app.ports import Helpdesk


@dataclass
class WorkerContext:
    settings: Settings
    sessions: sessionmaker[Session]
    helpdesks: dict[str, Helpdesk]
    models: Any
    policy: Any
    router: Any = None  # app.routing.Router when an LLM is configured; None = the offline engine only

    def helpdesk(self, provider: str) -> Helpdesk:
        if provider not in self.helpdesks:
            self.helpdesks[provider] = build_helpdesk(provider, self.settings, self.sessions, self.policy)
        return self.helpdesks[provider]


def build_helpdesk(provider: str, settings: Settings, sessions: sessionmaker[Session], policy: Any) -> Helpdesk:
    """The one factory that maps a provider name to its adapter (explicit, no registry)."""
    mapping = (getattr(policy, "helpdesk", {}) or {}).get(provider, {})
    if provider == "zendesk":
        from app.broker import redis_client
        from integrations.zendesk import ZendeskHelpdesk

        return ZendeskHelpdesk.from_settings(settings, mapping, redis=redis_client(settings))
    if provider == "sandbox":
        from integrations.sandbox import SandboxHelpdesk

        return SandboxHelpdesk(sessions)
    if provider == "salesforce":
        from app.broker import redis_client
        from integrations.salesforce import SalesforceHelpdesk  # type: ignore[import-not-found]

        return SalesforceHelpdesk.from_settings(settings, mapping, redis=redis_client(settings))
    raise ValueError(f"unknown helpdesk provider {provider!r}")


def build_context(settings: Settings | None = None) -> WorkerContext:
    settings = settings or get_settings()
    policy = triage.load_policy(settings.TRIAGE_POLICY_FILE or None)
    from app.broker import redis_client
    from app.routing import build_router

    return WorkerContext(
        settings=settings,
        sessions=session_factory(settings.database_url),
        helpdesks={},
        models=triage.load_models(
            settings.TRIAGE_MODEL_DIR or None, model_cache=settings.TRIAGE_MODEL_CACHE or None
        ),
        policy=policy,
        # The monthly LLM budget is shared by every worker through the broker's Redis.
        router=build_router(settings, policy, redis=redis_client(settings)),
    )


@lru_cache(maxsize=1)
def worker_context() -> WorkerContext:
    return build_context()
