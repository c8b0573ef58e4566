"""The webhook endpoints as a small WSGI app that sees each request before Flask does.

Every ticket arrives through one of these POSTs, so their cost per request is the product's intake
capacity. Flask's per-request machinery (request and app contexts, URL matching, the Response object and
its header handling) cost more than the work of a webhook itself: served here, the endpoint handles ~1.5x
the webhooks per second on the same gunicorn workers (bench/intake.py). Everything else (admin, health,
metrics, the sandbox desk) stays in Flask, which also answers any path not listed here.

A view is a plain function `view(request, intake) -> Reply`: no globals, so a newcomer reads it top to
bottom and a test can call it with a fake intake.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import parse_qs

import structlog
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.http import HTTP_STATUS_CODES

from app.config import Settings

log = structlog.get_logger("webhooks")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
JSON = "application/json"


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Intake:
    """What the webhook views work with: settings, the database and the queue."""

    settings: Settings
    sessions: sessionmaker[Session]
    enqueue: Callable[[int], None]
    zendesk_provider: str  # "sandbox" when the sandbox desk stands in for Zendesk
    zendesk_secret: str  # settings.webhook_secret, read once: the embedded default keeps it in a file


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, /, headers: tuple[tuple[str, str], ...] = (), **fields: object) -> Reply:
    return Reply(status, json.dumps(fields).encode(), JSON, headers)


class WebhookRequest:
    """The parts of a WSGI request a webhook view reads, straight from the environ."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict) -> None:
        self.environ = environ

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    def query(self, name: str) -> str:
        values = parse_qs(self.environ.get("QUERY_STRING", "")).get(name)
        return values[0] if values else ""

    @property
    def remote_addr(self) -> str | None:
        return self.environ.get("REMOTE_ADDR")

    def body(self, limit: int) -> bytes:
        """The raw body, at most `limit` bytes (BodyTooLarge past it).

        Read as werkzeug does: up to Content-Length, or to the end of a chunked body when the server says
        it has terminated the stream (gunicorn does); otherwise nothing, rather than block on a socket.
        """
        length = self.environ.get("CONTENT_LENGTH")
        stream = self.environ["wsgi.input"]
        if length:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size < 0:
                return b""
            if size > limit:
                raise BodyTooLarge(limit)
            return stream.read(size)
        if not self.environ.get("wsgi.input_terminated"):
            return b""
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body


View = Callable[[WebhookRequest, Intake], Reply]


class Webhooks:
    """WSGI: POSTs to a webhook path go to its view, every other request to Flask."""

    def __init__(self, flask_wsgi_app: WSGIApp, intake: Intake, routes: dict[str, View]) -> None:
        self.flask = flask_wsgi_app
        self.intake = intake
        self.routes = routes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        view = self.routes.get(environ.get("PATH_INFO", ""))
        if view is None:
            return self.flask(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        if method == "POST":
            reply = self._answer(view, environ)
        elif method == "OPTIONS":
            reply = Reply(200, b"", "text/plain", (("Allow", "OPTIONS, POST"),))
        else:
            reply = json_reply(405, (("Allow", "OPTIONS, POST"),), error="method_not_allowed", message="method not allowed")
        headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))), *reply.headers]
        start_response(f"{reply.status} {HTTP_STATUS_CODES.get(reply.status, 'Unknown')}", headers)
        return [] if method == "HEAD" else [reply.body]  # HEAD: the headers a GET would get, no body

    def _answer(self, view: View, environ: dict) -> Reply:
        try:
            return view(WebhookRequest(environ), self.intake)
        except BodyTooLarge as exc:
            log.warning("webhook.rejected", path=environ.get("PATH_INFO"), code="too_large", status=413,
                        remote=environ.get("REMOTE_ADDR"), limit=exc.limit)
            return json_reply(413, error="too_large", message=str(exc))
        except Exception:  # a bug, not bad input: logged with its traceback, and the sender retries
            log.exception("webhook.crashed", path=environ.get("PATH_INFO"))
            return json_reply(500, error="internal", message="internal error")
