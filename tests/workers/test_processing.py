"""process_delivery against the sandbox helpdesk and the real local engine (no Celery needed here)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import triage
from app.models import Delivery, DeliveryStatus, Outcome, SandboxComment
from app.ports import IntegrationError
from app.replay import replay
from app.triage.ticket import is_bot_note
from app.webhooks.intake import IncomingEvent, accept
from integrations.sandbox import SandboxHelpdesk
from workers.context import WorkerContext
from workers.processing import process_delivery


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    return triage.load_models(), triage.load_policy()


@pytest.fixture
def ctx(settings, engine) -> WorkerContext:  # noqa: ANN001
    from app.db import session_factory

    sessions = session_factory(settings.database_url)
    return WorkerContext(settings, sessions, {"sandbox": SandboxHelpdesk(sessions)}, *engine)


def new_delivery(ctx: WorkerContext, ticket_id: int, key: str = "") -> int:
    event = IncomingEvent("sandbox", "acct", str(ticket_id), "created", key or f"ticket:{ticket_id}:created", "", b"{}")
    return accept(ctx.sessions, event, lambda _id: None).delivery_id


def notes(ctx: WorkerContext, ticket_id: int) -> list[str]:
    with ctx.sessions() as session:
        return [c.body for c in session.scalars(select(SandboxComment).where(SandboxComment.ticket_id == ticket_id)) if is_bot_note(c.body)]


def make_ticket(ctx: WorkerContext, body: str, subject: str = "Help") -> int:
    return ctx.helpdesk("sandbox").create_ticket(subject, [{"author_role": "customer", "body": body}], requester_name="Jo Smith")


def test_one_ticket_triaged_and_written_once(ctx) -> None:  # noqa: ANN001
    ticket_id = make_ticket(ctx, "I have had enough, third time I'm asking for my refund!! Card 4111 1111 1111 1111", "Refund")
    delivery_id = new_delivery(ctx, ticket_id)
    assert process_delivery(delivery_id, ctx).status == DeliveryStatus.DONE
    ticket = ctx.helpdesk("sandbox").fetch(str(ticket_id))
    assert "ai_triaged" in ticket.tags and ticket.priority in ("high", "urgent")
    assert len(notes(ctx, ticket_id)) == 1
    with ctx.sessions() as session:
        outcome = session.scalar(select(Outcome).where(Outcome.delivery_id == delivery_id))
        assert outcome.status == "done" and outcome.escalated and outcome.intent == "refund_request"
        assert {"fetch", "triage", "apply", "total"} <= set(outcome.timings_ms)
        # Only redacted text is kept: the card number never reaches our tables.
        assert "4111" not in str(outcome.decision) and outcome.decision["draft"] is None
    # The same task again (redelivered message) does nothing more.
    assert process_delivery(delivery_id, ctx).status == DeliveryStatus.DONE
    assert len(notes(ctx, ticket_id)) == 1


def test_redelivery_after_note_landed_does_not_write_twice(ctx) -> None:  # noqa: ANN001
    ticket_id = make_ticket(ctx, "Where is my order #NW-48213?")
    delivery_id = new_delivery(ctx, ticket_id)
    assert process_delivery(delivery_id, ctx).status == DeliveryStatus.DONE
    # Simulate a worker killed after the write but before it recorded success, lease expired.
    with ctx.sessions() as session:
        session.query(Delivery).filter_by(id=delivery_id).update({"status": DeliveryStatus.QUEUED})
        session.commit()
    assert process_delivery(delivery_id, ctx).status == DeliveryStatus.DONE
    assert len(notes(ctx, ticket_id)) == 1


def test_two_workers_cannot_hold_one_delivery(ctx) -> None:  # noqa: ANN001
    from workers.processing import claim

    delivery_id = new_delivery(ctx, make_ticket(ctx, "hello"))
    with ctx.sessions() as first, ctx.sessions() as second:
        assert claim(first, delivery_id, 120) is not None
        assert claim(second, delivery_id, 120) is None
    result = process_delivery(delivery_id, ctx)
    assert result.status == "held" and result.retry_in is not None and result.retry_in > 100


def test_conflict_refetches_and_reapplies(ctx, monkeypatch) -> None:  # noqa: ANN001
    desk = ctx.helpdesk("sandbox")
    ticket_id = make_ticket(ctx, "How do I reset my password?")
    original = desk.apply
    calls = {"n": 0}

    def human_edits_first(ticket, decision, marker):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 1:  # an agent tags the ticket between our read and our write
            desk.add_comment(str(ticket_id), "internal: looking", author_role="agent", public=False)
        return original(ticket, decision, marker)

    monkeypatch.setattr(desk, "apply", human_edits_first)
    assert process_delivery(new_delivery(ctx, ticket_id), ctx).status == DeliveryStatus.DONE
    assert calls["n"] == 2 and len(notes(ctx, ticket_id)) == 1


def test_transient_error_retries_with_retry_after(ctx, monkeypatch) -> None:  # noqa: ANN001
    desk = ctx.helpdesk("sandbox")
    delivery_id = new_delivery(ctx, make_ticket(ctx, "Invoice please"))

    def rate_limited(_ticket_id):  # noqa: ANN001, ANN202
        raise IntegrationError("429", retry_after=42, reason="rate_limited")

    monkeypatch.setattr(desk, "fetch", rate_limited)
    result = process_delivery(delivery_id, ctx)
    assert result.status == DeliveryStatus.RETRYING and result.retry_in == 42
    with ctx.sessions() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery.status == DeliveryStatus.RETRYING and "rate_limited" in delivery.error


def test_transient_errors_are_bounded_then_parked(ctx, monkeypatch) -> None:  # noqa: ANN001
    desk = ctx.helpdesk("sandbox")
    delivery_id = new_delivery(ctx, make_ticket(ctx, "Invoice please"))
    monkeypatch.setattr(desk, "fetch", lambda _id: (_ for _ in ()).throw(IntegrationError("503", reason="server_error")))
    results = [process_delivery(delivery_id, ctx) for _ in range(ctx.settings.MAX_ATTEMPTS)]
    assert all(0 < r.retry_in <= ctx.settings.RETRY_BACKOFF_MAX_SECONDS + 1 for r in results[:-1])
    assert results[-1].status == DeliveryStatus.FAILED and "retries exhausted" in results[-1].detail


def test_permanent_error_parks_then_replay_succeeds(ctx) -> None:  # noqa: ANN001
    delivery_id = new_delivery(ctx, 424242)  # no such ticket: 404
    result = process_delivery(delivery_id, ctx)
    assert result.status == DeliveryStatus.FAILED and "not_found" in result.detail
    with ctx.sessions() as session:
        assert session.get(Delivery, delivery_id).status == DeliveryStatus.FAILED
    sent: list[int] = []
    assert replay(ctx.sessions, delivery_id, sent.append) and sent == [delivery_id]
    assert not replay(ctx.sessions, delivery_id, sent.append)  # queued again: not replayable twice


def test_own_update_event_is_skipped(ctx) -> None:  # noqa: ANN001
    ticket_id = make_ticket(ctx, "Where is my parcel?")
    assert process_delivery(new_delivery(ctx, ticket_id), ctx).status == DeliveryStatus.DONE
    # Our PUT fired "ticket updated": nothing new from the customer since our note.
    assert process_delivery(new_delivery(ctx, ticket_id, key="upd-1"), ctx).status == DeliveryStatus.SKIPPED
    ctx.helpdesk("sandbox").add_comment(str(ticket_id), "Still nothing, this is getting ridiculous")
    assert process_delivery(new_delivery(ctx, ticket_id, key="upd-2"), ctx).status == DeliveryStatus.DONE
    assert len(notes(ctx, ticket_id)) == 2
