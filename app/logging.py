"""Structured logs (structlog): JSON lines in production, readable lines on a terminal.

Secrets never reach the log: values of known secret settings are masked in every event.
"""
from __future__ import annotations

import logging
import sys

import structlog

from app.config import SECRET_NAMES, Settings


def configure_logging(settings: Settings) -> None:
    secrets = [v for v in (getattr(settings, n, "") for n in SECRET_NAMES) if isinstance(v, str) and len(v) >= 6]

    def mask_secrets(_logger, _method, event_dict):  # noqa: ANN001, ANN202
        for key, value in event_dict.items():
            if isinstance(value, str):
                for secret in secrets:
                    if secret in value:
                        value = value.replace(secret, "***")
                event_dict[key] = value
        return event_dict

    renderer = (
        structlog.processors.JSONRenderer()
        if settings.LOG_FORMAT == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, settings.LOG_LEVEL)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=settings.LOG_LEVEL, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


class _CurrentStderr:
    """Writes to whatever sys.stderr is now. Loggers are cached on first use; binding the stream object
    of that moment broke them once it was swapped and closed (pytest capture, daemon reloaders)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
