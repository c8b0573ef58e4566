"""Admin pages (token protected) and the sandbox desk (embedded default only)."""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template_string, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.models import Delivery, DeliveryStatus, Outcome, SandboxTicket
from app.replay import replay

bp = Blueprint("admin", __name__)


def admin_token() -> str:
    settings = current_app.config["SETTINGS"]
    if settings.ADMIN_TOKEN:
        return settings.ADMIN_TOKEN
    # The embedded default gets a random per-install token (printed by `triage demo`); production must set one.
    return settings.local_secret("admin_token") if settings.helpdesk_name == "sandbox" else ""


def require_admin() -> None:
    expected = admin_token()
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    # The scheme is case-insensitive (RFC 9110 11.1): curl scripts send "bearer" as often as "Bearer".
    given = (credentials.strip() if scheme.lower() == "bearer" else "") or request.args.get("token", "")
    given = given or request.cookies.get("admin_token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(401)


@bp.errorhandler(401)
def _unauthorized(_exc):  # noqa: ANN001, ANN202
    return jsonify(error="unauthorized", message="admin token required (Authorization: Bearer ADMIN_TOKEN)"), 401


PAGE = """<!doctype html><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}.failed{color:#b00}
.note{white-space:pre-wrap;background:#fffbe6;border:1px solid #eed;padding:8px}.c{white-space:pre-wrap;padding:8px;border:1px solid #ddd;margin:6px 0}
.agent{background:#eef6ff}.bot{background:#fffbe6}.tag{background:#eee;border-radius:3px;padding:0 4px;margin-right:3px}</style>
<h1>{{ title }}</h1>{{ body|safe }}"""

DELIVERIES = """{% if flash %}<p class="{{ 'failed' if not flash_ok else '' }}"><b>{{ flash }}</b></p>{% endif %}
<p>{% for s, n in counts %}<b>{{ s }}</b>: {{ n }} &nbsp; {% endfor %}</p>
<table><tr><th>id</th><th>provider</th><th>ticket</th><th>event</th><th>status</th><th>attempts</th><th>intent</th>
<th>priority</th><th>queue</th><th>escalated</th><th>ms</th><th>error</th><th></th></tr>
{% for d, o in rows %}<tr class="{{ d.status }}"><td>{{ d.id }}</td><td>{{ d.provider }}</td><td>{{ d.ticket_id }}</td>
<td>{{ d.event_kind }}</td><td>{{ d.status }}</td><td>{{ d.attempts }}</td><td>{{ o.intent if o else '' }}</td>
<td>{{ o.priority if o else '' }}</td><td>{{ o.queue if o else '' }}</td><td>{{ o.escalated if o else '' }}</td>
<td>{{ '%.0f'|format(o.duration_ms) if o else '' }}</td><td>{{ d.error[:160] }}</td>
<td>{% if d.status in final %}<form method="post" action="{{ url_for('admin.replay_delivery', delivery_id=d.id) }}">
<button>replay</button></form>{% endif %}</td></tr>{% endfor %}</table>"""


@bp.get("/admin")
def dashboard():  # noqa: ANN202
    require_admin()
    sessions = current_app.config["SESSIONS"]
    status = request.args.get("status")
    with sessions() as session:
        query = select(Delivery, Outcome).outerjoin(Outcome, Outcome.delivery_id == Delivery.id).order_by(Delivery.id.desc())
        if status:
            query = query.where(Delivery.status == status)
        rows = session.execute(query.limit(200)).all()
        counts = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    replayed = request.args.get("replayed", type=int)
    flash = ""
    if replayed is not None:  # the result of the replay button, carried through its redirect
        flash = (f"Delivery {replayed} is queued again." if request.args.get("ok") == "1"
                 else f"Delivery {replayed} cannot be replayed: it is missing or still in flight.")
    body = render_template_string(DELIVERIES, rows=rows, counts=counts, final=DeliveryStatus.FINAL, flash=flash,
                                  flash_ok=request.args.get("ok") == "1")
    response = current_app.make_response(render_template_string(PAGE, title="Triage deliveries", body=body))
    if request.args.get("token"):
        response.set_cookie("admin_token", request.args["token"], httponly=True, samesite="Strict")
    return response


@bp.get("/admin/deliveries/<int:delivery_id>")
def delivery_detail(delivery_id: int):  # noqa: ANN201
    require_admin()
    with current_app.config["SESSIONS"]() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return jsonify(error="not_found", message=f"no delivery {delivery_id}"), 404
        outcome = session.scalar(select(Outcome).where(Outcome.delivery_id == delivery_id))
        return jsonify(
            delivery={c.name: _json(getattr(delivery, c.name)) for c in Delivery.__table__.columns},
            outcome={c.name: _json(getattr(outcome, c.name)) for c in Outcome.__table__.columns} if outcome else None,
        )


@bp.post("/admin/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int):  # noqa: ANN201
    require_admin()
    ok = replay(current_app.config["SESSIONS"], delivery_id, current_app.config["ENQUEUE"])
    if request.accept_mimetypes.best == "text/html" or request.form:
        return redirect(url_for("admin.dashboard", replayed=delivery_id, ok=int(ok)))
    if not ok:
        return jsonify(error="not_replayable", message="delivery is missing or still in flight"), 409
    return jsonify(status="queued", delivery_id=delivery_id), 202


def _json(value):  # noqa: ANN001, ANN202
    return value.isoformat() if hasattr(value, "isoformat") else value


SANDBOX_LIST = """<p>The sandbox helpdesk stands in for Zendesk in the embedded default.</p>
<table><tr><th>#</th><th>subject</th><th>requester</th><th>status</th><th>priority</th><th>group</th><th>tags</th></tr>
{% for t in tickets %}<tr><td><a href="{{ url_for('admin.sandbox_ticket', ticket_id=t.id) }}">{{ t.id }}</a></td>
<td>{{ t.subject }}</td><td>{{ t.requester_name }}</td><td>{{ t.status }}</td><td>{{ t.priority or '' }}</td>
<td>{{ t.group or '' }}</td><td>{% for tag in t.tags %}<span class="tag">{{ tag }}</span>{% endfor %}</td></tr>{% endfor %}</table>"""

SANDBOX_TICKET = """<p><a href="{{ url_for('admin.sandbox_index') }}">all tickets</a></p>
<p><b>Requester</b> {{ t.requester_name }} ({{ t.requester_locale }}) · <b>status</b> {{ t.status }} · <b>priority</b>
{{ t.priority or '-' }} · <b>group</b> {{ t.group or '-' }} · <b>fields</b> {{ t.fields }}</p>
<p>{% for tag in t.tags %}<span class="tag">{{ tag }}</span>{% endfor %}</p>
{% for c in t.comments %}<div class="c {{ c.author_role }}"><b>{{ c.author_role }}</b> {{ c.author_name }}
{% if not c.public %}<i>(internal note)</i>{% endif %}<br>{{ c.body }}</div>{% endfor %}"""


def _sandbox_only() -> None:
    if current_app.config["SETTINGS"].helpdesk_name != "sandbox":
        abort(404)


@bp.get("/sandbox")
def sandbox_index():  # noqa: ANN202
    _sandbox_only()
    with current_app.config["SESSIONS"]() as session:
        tickets = session.scalars(select(SandboxTicket).order_by(SandboxTicket.id.desc()).limit(500)).all()
    return render_template_string(PAGE, title="Sandbox helpdesk", body=render_template_string(SANDBOX_LIST, tickets=tickets))


@bp.get("/sandbox/tickets/<int:ticket_id>")
def sandbox_ticket(ticket_id: int):  # noqa: ANN201
    _sandbox_only()
    with current_app.config["SESSIONS"]() as session:
        ticket = session.scalar(
            select(SandboxTicket).options(selectinload(SandboxTicket.comments)).where(SandboxTicket.id == ticket_id)
        )
        if ticket is None:
            abort(404)
        body = render_template_string(SANDBOX_TICKET, t=ticket)
    return render_template_string(PAGE, title=f"#{ticket.id} {ticket.subject}", body=body)
