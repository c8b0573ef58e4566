"""The one settings object: every environment variable the product reads, validated at boot."""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets may come from NAME_FILE (Docker/Kubernetes secrets) instead of NAME.
SECRET_NAMES = (
    "ZENDESK_API_TOKEN",
    "ZENDESK_OAUTH_TOKEN",
    "ZENDESK_WEBHOOK_SECRET",
    "SALESFORCE_CONSUMER_SECRET",
    "SALESFORCE_PRIVATE_KEY",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_OUTBOUND_TOKEN",
    "SALESFORCE_WEBHOOK_SECRET",
    "SALESFORCE_ACCESS_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "ADMIN_TOKEN",
    "SECRET_KEY",
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """Configuration is invalid; the message says which variable and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True)

    # Storage and broker
    VAR_DIR: Path = Field(default=PROJECT_ROOT / "var", description="Local state: SQLite file, embedded Redis, logs")
    DATABASE_URL: str = ""
    REDIS_URL: str = ""

    # Which helpdesk the worker talks to; "auto" = zendesk when ZENDESK_SUBDOMAIN is set, else the sandbox.
    HELPDESK: Literal["auto", "zendesk", "salesforce", "sandbox"] = "auto"

    ZENDESK_SUBDOMAIN: str = ""
    ZENDESK_EMAIL: str = ""
    ZENDESK_API_TOKEN: str = ""
    ZENDESK_OAUTH_TOKEN: str = ""
    ZENDESK_WEBHOOK_SECRET: str = ""
    ZENDESK_BOT_USER_ID: str = ""
    ZENDESK_BASE_URL: str = ""  # override https://{subdomain}.zendesk.com (mock servers, proxies)
    ZENDESK_RATE_LIMIT_PER_MINUTE: int = Field(default=200, ge=1, le=100_000)
    ZENDESK_TIMEOUT_SECONDS: float = Field(default=15.0, gt=0, le=300)  # per API request (connect and read)

    SALESFORCE_ORG_ID: str = ""
    SALESFORCE_OUTBOUND_TOKEN: str = ""
    SALESFORCE_WEBHOOK_SECRET: str = ""
    SALESFORCE_DOMAIN: str = "login"
    SALESFORCE_INSTANCE_URL: str = ""
    SALESFORCE_USERNAME: str = ""
    SALESFORCE_PASSWORD: str = ""
    SALESFORCE_SECURITY_TOKEN: str = ""
    SALESFORCE_CONSUMER_KEY: str = ""
    SALESFORCE_CONSUMER_SECRET: str = ""
    SALESFORCE_PRIVATE_KEY: str = ""
    SALESFORCE_PRIVATE_KEY_FILE: str = ""
    SALESFORCE_API_VERSION: str = "59.0"
    # A ready access token (with SALESFORCE_INSTANCE_URL) instead of a login: cannot be refreshed.
    SALESFORCE_ACCESS_TOKEN: str = ""
    # The integration user's 005 Id: Cases it last modified are our own write-back and are not re-triaged.
    SALESFORCE_API_USER_ID: str = ""
    # 403 REQUEST_LIMIT_EXCEEDED carries no Retry-After: wait this long before the next try.
    SALESFORCE_LIMIT_RETRY_SECONDS: int = Field(default=900, ge=1, le=86_400)
    # Above this share of the daily API quota (Sforce-Limit-Info) the worker spaces tickets out.
    SALESFORCE_API_USAGE_SLOWDOWN: float = Field(default=0.8, gt=0, le=1)

    @field_validator("SALESFORCE_ORG_ID")
    @classmethod
    def _salesforce_org_id(cls, value: str) -> str:
        value = value.strip()
        if value and not (len(value) in (15, 18) and value.isalnum() and value.startswith("00D")):
            raise ValueError("must be the 15- or 18-character organization Id starting with 00D (Setup > Company Information)")
        return value

    @field_validator("SALESFORCE_API_VERSION")
    @classmethod
    def _salesforce_api_version(cls, value: str) -> str:
        value = value.strip().lstrip("v")
        if not re.fullmatch(r"\d{2,3}\.0", value):
            raise ValueError("must look like 59.0")
        return value

    @field_validator("SALESFORCE_INSTANCE_URL")
    @classmethod
    def _salesforce_instance_url(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must be https://<mydomain>.my.salesforce.com")
        return value.rstrip("/")

    OPENAI_API_KEY: str = ""
    OPENAI_BASE_URL: str = ""
    ANTHROPIC_API_KEY: str = ""
    # --- LLM routing (app/routing, integrations/llm) ----------------------------------------------------
    # Models are "provider:model"; a comma-separated list is a fallback chain, e.g.
    # "openai:gpt-4o-mini" or "anthropic:claude-3-5-haiku-latest,openai:gpt-4o-mini". Empty = a default for
    # whichever key is set. No key and no OPENAI_BASE_URL = no LLM: the offline engine decides alone.
    LLM_CHEAP_MODEL: str = ""
    LLM_STRONG_MODEL: str = ""
    # Difficulty (0..1) at or above which a ticket goes to the cheap / the strong tier (`triage calibrate`).
    LLM_CHEAP_THRESHOLD: float = Field(default=0.15, ge=0.0, le=1.01)
    LLM_STRONG_THRESHOLD: float = Field(default=0.45, ge=0.0, le=1.01)
    LLM_MONTHLY_BUDGET_USD: float = Field(default=0.0, ge=0.0)  # per helpdesk account; 0 = no cap
    LLM_TIMEOUT_SECONDS: float = Field(default=20.0, gt=0, le=300)
    LLM_MAX_RETRIES: int = Field(default=2, ge=0, le=10)
    LLM_MAX_RETRY_WAIT_SECONDS: float = Field(default=8.0, ge=0, le=120)  # longer Retry-After: next provider
    LLM_PRICE_FILE: str = ""  # TOML price table; empty = app/routing/prices.toml
    # --- end LLM -----------------------------------------------------------------------------------------

    ADMIN_TOKEN: str = ""
    SECRET_KEY: str = ""

    # Intake and processing
    WEBHOOK_TOLERANCE_SECONDS: int = Field(default=300, ge=1, le=3600)
    MAX_WEBHOOK_BYTES: int = Field(default=256 * 1024, ge=1024)
    # An Outbound Message carries up to 100 Cases with the fields the admin picked (a Description alone can
    # be 32 KB); one refused message is re-sent for 24 h and then dropped with every Case in it.
    SALESFORCE_MAX_MESSAGE_BYTES: int = Field(default=8 * 1024 * 1024, ge=1024)
    DELIVERY_LEASE_SECONDS: int = Field(default=120, ge=1)
    SWEEP_INTERVAL_SECONDS: float = Field(default=15.0, gt=0)
    SWEEP_STUCK_SECONDS: int = Field(default=60, ge=1)
    MAX_ATTEMPTS: int = Field(default=8, ge=1, le=100)
    RETRY_BACKOFF_MAX_SECONDS: int = Field(default=600, ge=1)

    TRIAGE_POLICY_FILE: str = ""
    TRIAGE_MODEL_DIR: str = ""
    TRIAGE_MODEL_CACHE: str = ""
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] = "json"

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: dict) -> dict:
        for name in SECRET_NAMES:
            path = os.environ.get(f"{name}_FILE")
            if path and not values.get(name):
                try:
                    values[name] = Path(path).read_text().strip()
                except OSError as exc:
                    raise ValueError(f"{name}_FILE={path} cannot be read: {exc}") from exc
        return values

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql", "postgres:")):
            raise ValueError("must be sqlite:///path or postgresql://user:pass@host/db")
        if value.startswith("postgres://"):  # Heroku still hands out the old scheme
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "redis+socket://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or redis+socket://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.helpdesk_name == "zendesk":
            missing = [n for n in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL") if not getattr(self, n)]
            if not (self.ZENDESK_API_TOKEN or self.ZENDESK_OAUTH_TOKEN):
                missing.append("ZENDESK_API_TOKEN")
            if not self.ZENDESK_WEBHOOK_SECRET:
                missing.append("ZENDESK_WEBHOOK_SECRET")
            if missing and not self.ZENDESK_BASE_URL:
                raise ValueError(f"Zendesk is configured but {', '.join(missing)} is not set")
        if self.helpdesk_name == "salesforce":
            problem = self._salesforce_problem()
            if problem:
                raise ValueError(problem)
        if self.ZENDESK_BOT_USER_ID and not self.ZENDESK_BOT_USER_ID.strip().isdigit():
            # An e-mail here would never match the numeric current_user.id: the loop guard would be off.
            raise ValueError("ZENDESK_BOT_USER_ID must be the numeric user id of the API user (Admin Center > People)")
        if self.ZENDESK_SUBDOMAIN and not self.ZENDESK_SUBDOMAIN.replace("-", "").isalnum():
            raise ValueError("ZENDESK_SUBDOMAIN must be the bare subdomain, e.g. 'acme' for acme.zendesk.com")
        return self

    @property
    def salesforce_login(self) -> str:
        """Which Salesforce login the settings describe ("" for none); integrations/salesforce.py logs in so."""
        key = self.SALESFORCE_CONSUMER_KEY
        if key and self.SALESFORCE_USERNAME and (self.SALESFORCE_PRIVATE_KEY or self.SALESFORCE_PRIVATE_KEY_FILE):
            return "jwt"
        if key and self.SALESFORCE_CONSUMER_SECRET and not self.SALESFORCE_PASSWORD:
            return "client_credentials"
        if self.SALESFORCE_USERNAME and self.SALESFORCE_PASSWORD:
            return "password"
        if self.SALESFORCE_ACCESS_TOKEN and self.SALESFORCE_INSTANCE_URL:
            return "token"
        return ""

    def _salesforce_problem(self) -> str:
        """What HELPDESK=salesforce lacks to log in and to receive Cases ("" when nothing)."""
        if not self.salesforce_login:
            return (
                "HELPDESK=salesforce but no login is configured: set SALESFORCE_CONSUMER_KEY + SALESFORCE_USERNAME + "
                "SALESFORCE_PRIVATE_KEY(_FILE) (JWT bearer), SALESFORCE_CONSUMER_KEY + SALESFORCE_CONSUMER_SECRET "
                "(client credentials), or SALESFORCE_ACCESS_TOKEN + SALESFORCE_INSTANCE_URL"
            )
        if not (self.SALESFORCE_ORG_ID or self.SALESFORCE_WEBHOOK_SECRET):
            return (
                "HELPDESK=salesforce but no Case can arrive: set SALESFORCE_ORG_ID (Outbound Messages) "
                "and/or SALESFORCE_WEBHOOK_SECRET (Flow/Apex JSON callouts)"
            )
        return ""

    # Derived values -------------------------------------------------------------------------------------
    @property
    def helpdesk_name(self) -> str:
        if self.HELPDESK != "auto":
            return self.HELPDESK
        if self.ZENDESK_SUBDOMAIN or self.ZENDESK_BASE_URL:
            return "zendesk"
        return "sandbox"

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{self.VAR_DIR / 'triage.db'}"

    @property
    def webhook_secret(self) -> str:
        """The Zendesk signing secret; the sandbox signs with a local per-install secret."""
        if self.ZENDESK_WEBHOOK_SECRET:
            return self.ZENDESK_WEBHOOK_SECRET
        return self.local_secret("webhook_secret")

    def local_secret(self, name: str) -> str:
        """A random secret kept under VAR_DIR, for the embedded default where no one set one."""
        path = self.VAR_DIR / f".{name}"
        if not path.exists():
            import secrets

            self.VAR_DIR.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(secrets.token_urlsafe(32))
            try:  # a link never replaces: of two processes starting at once, both read the first one's secret
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; raise ConfigError with every problem spelled out."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "configuration"
            problems.append(f"  {where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("Invalid configuration:\n" + "\n".join(problems) + "\nSee .env.example.") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
