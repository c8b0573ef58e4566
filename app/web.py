"""The Flask application: webhooks, health, metrics, the admin dashboard and the sandbox desk view."""
from __future__ import annotations

from flask import Flask, jsonify
from flask.sessions import SecureCookieSessionInterface
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app import metrics
from app.config import Settings, get_settings
from app.db import session_factory
from app.logging import configure_logging
from app.webhooks.http import Intake, Webhooks


def create_app(settings: Settings | None = None, *, enqueue=None) -> Flask:  # noqa: ANN001
    settings = settings or get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    sessions = session_factory(settings.database_url)
    if enqueue is None:
        from app.broker import redis_client
        from workers.publish import RedisEnqueue

        enqueue = RedisEnqueue(lambda: redis_client(settings))
    intake = Intake(
        settings=settings,
        sessions=sessions,
        enqueue=enqueue,
        zendesk_provider="sandbox" if settings.helpdesk_name == "sandbox" else "zendesk",
        zendesk_secret=settings.webhook_secret,
    )
    app.config.update(
        SETTINGS=settings,
        SESSIONS=sessions,
        ENQUEUE=enqueue,
        SECRET_KEY=settings.SECRET_KEY or settings.local_secret("secret_key"),
        MAX_CONTENT_LENGTH=None,  # checked per endpoint, so the error body is our JSON
    )
    # No page here uses Flask's cookie session; skipping it saves every webhook ~10 µs of serializer setup.
    app.session_interface = _NoSessions()
    metrics.PIPELINE.bind(sessions)

    from app.admin.views import bp as admin_bp
    from app.webhooks import salesforce, zendesk

    app.register_blueprint(admin_bp)
    # The webhooks are answered before Flask sees the request (app/webhooks/http.py says why).
    app.wsgi_app = Webhooks(  # type: ignore[method-assign]
        app.wsgi_app,
        intake,
        {
            "/webhooks/zendesk": zendesk.zendesk_webhook,
            "/webhooks/salesforce": salesforce.salesforce_outbound_message,
            "/webhooks/salesforce/json": salesforce.salesforce_callout,
        },
    )

    @app.errorhandler(404)
    def _not_found(_exc):  # noqa: ANN001, ANN202
        return jsonify(error="not_found", message="no such endpoint"), 404

    @app.errorhandler(405)
    def _not_allowed(_exc):  # noqa: ANN001, ANN202
        return jsonify(error="method_not_allowed", message="method not allowed"), 405

    @app.errorhandler(500)
    def _internal(_exc):  # noqa: ANN001, ANN202
        return jsonify(error="internal", message="internal error"), 500

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        checks = {"database": _check_database(sessions), "broker": _check_broker(settings)}
        healthy = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if healthy else "degraded", helpdesk=settings.helpdesk_name, **checks), (
            200 if healthy else 503
        )

    @app.get("/metrics")
    def prometheus_metrics():  # noqa: ANN202
        return generate_latest(metrics.scrape_registry()), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    return app


class _NoSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request):  # noqa: ANN001, ANN201
        return self.make_null_session(app)


def _check_database(sessions) -> str:  # noqa: ANN001
    # The deliveries table, not `SELECT 1`: a database that answers but was never migrated fails every webhook.
    try:
        with sessions() as session:
            session.execute(text("SELECT 1 FROM deliveries LIMIT 1"))
        return "ok"
    except Exception as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return "error: not migrated (run `triage migrate`)"
        return f"error: {type(exc).__name__}"


def _check_broker(settings: Settings) -> str:
    from app.broker import redis_client

    try:
        redis_client(settings).ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
