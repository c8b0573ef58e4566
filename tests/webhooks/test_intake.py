"""The SQLite fast path of the intake writes rows the ORM reads back as its own, and fails as a 503 would."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.db import session_factory
from app.models import Delivery, DeliveryStatus
from app.webhooks.intake import IncomingEvent, accept


def event(key: str, ticket: str = "7") -> IncomingEvent:
    return IncomingEvent("zendesk", "acct", ticket, "created", key, "inv-1", b'{"ticket_id": "7"}')


def test_rows_read_back_through_the_orm_and_duplicates_collapse(settings) -> None:  # noqa: ANN001
    sessions = session_factory(settings.database_url)
    sent: list[int] = []
    first = accept(sessions, event("ticket:7:created"), sent.append)
    again = accept(sessions, event("ticket:7:created"), sent.append)
    other = accept(sessions, event("ticket:8:created", "8"), sent.append)
    assert first.created and first.queued and not again.created and again.delivery_id == first.delivery_id
    assert other.created and other.delivery_id != first.delivery_id and sent == [first.delivery_id, other.delivery_id]
    with sessions() as session:
        row = session.scalars(select(Delivery).where(Delivery.id == first.delivery_id)).one()
        assert isinstance(row.received_at, datetime) and isinstance(row.enqueued_at, datetime)
        assert (row.status, row.ticket_id, row.attempts, row.invocation_id) == (DeliveryStatus.QUEUED, "7", 0, "inv-1")
        assert len(row.body_hash) == 64


def test_concurrent_duplicates_make_one_delivery(settings) -> None:  # noqa: ANN001
    sessions = session_factory(settings.database_url)
    results = []
    threads = [threading.Thread(target=lambda: results.append(accept(sessions, event("ticket:9:created", "9"), lambda _id: None)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.created for r in results) == 1 and len({r.delivery_id for r in results}) == 1


def test_missing_table_is_an_operational_error_not_a_crash(var_dir) -> None:  # noqa: ANN001
    sessions = session_factory(f"sqlite:///{var_dir / 'never-migrated.db'}")
    with pytest.raises(OperationalError):
        accept(sessions, event("ticket:1:created", "1"), lambda _id: None)


@pytest.mark.parametrize("value", [datetime(2026, 12, 2, 6, 1, 2, 123), datetime(2026, 12, 2, 6, 1, 2), None])
def test_datetimes_are_written_as_sqlalchemy_writes_them(value) -> None:  # noqa: ANN001
    from sqlalchemy.dialects import sqlite

    from app.webhooks.intake import datetime_text

    dialect = sqlite.dialect()
    orm = Delivery.__table__.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert datetime_text(value) == orm(value)
