"""The migrations build exactly the schema the models declare, and upgrading keeps the rows."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.cli import alembic_config
from app.models import Base


def test_head_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    command.upgrade(alembic_config(url), "head")
    with create_engine(url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrade_from_0001_keeps_deliveries_and_drops_the_ticket_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    config = alembic_config(f"sqlite:///{path}")
    command.upgrade(config, "0001")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO deliveries (provider, account_id, dedupe_key, invocation_id, ticket_id, event_kind, body_hash,"
            " received_at, status, attempts, error) VALUES ('zendesk', 'acme', 'k1', 'i1', '42', 'created', 'h',"
            " '2026-12-01 10:00:00.000000', 'queued', 0, '')"
        )
    command.upgrade(config, "head")
    with sqlite3.connect(path) as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list('deliveries')")}
        rows = db.execute("SELECT dedupe_key, ticket_id, status FROM deliveries").fetchall()
    assert "ix_deliveries_ticket_id" not in indexes and "ix_deliveries_status" in indexes
    assert rows == [("k1", "42", "queued")]
    command.downgrade(config, "0001")
    with sqlite3.connect(path) as db:
        assert "ix_deliveries_ticket_id" in {row[1] for row in db.execute("PRAGMA index_list('deliveries')")}
