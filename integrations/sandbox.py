"""The sandbox helpdesk: a local stand-in for Zendesk, stored in the app's own database.

It implements the same Helpdesk port, including optimistic concurrency (a stale `updated_stamp` is a
conflict, like Zendesk's safe_update 409), so the embedded default exercises the real worker path.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.models import SandboxComment, SandboxTicket, utcnow
from app.ports import IntegrationError
from app.triage.decision import Decision
from app.triage.ticket import LOOP_GUARD_TAG, Comment, Ticket

class SandboxHelpdesk:
    name = "sandbox"

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # -- the port -----------------------------------------------------------------------------------------
    def fetch(self, ticket_id: str) -> Ticket:
        with self.sessions() as session:
            row = session.scalar(
                select(SandboxTicket).options(selectinload(SandboxTicket.comments)).where(
                    SandboxTicket.id == _int_id(ticket_id)
                )
            )
            if row is None:
                raise IntegrationError(f"sandbox ticket {ticket_id} not found", permanent=True, reason="not_found", status=404)
            return Ticket(
                provider=self.name,
                id=str(row.id),
                subject=row.subject,
                comments=tuple(
                    Comment(
                        id=str(c.id),
                        author_role=c.author_role,  # type: ignore[arg-type]
                        body=c.body,
                        public=c.public,
                        author_name=c.author_name,
                        created_at=c.created_at.isoformat(),
                    )
                    for c in row.comments
                ),
                requester_name=row.requester_name,
                requester_locale=row.requester_locale,
                status=row.status,
                priority=row.priority,
                group=row.group,
                assignee=row.assignee,
                tags=tuple(row.tags or ()),
                fields=dict(row.fields or {}),
                updated_stamp=str(row.version),
                url=f"/sandbox/tickets/{row.id}",
            )

    def apply(self, ticket: Ticket, decision: Decision, marker: str) -> None:
        tags = list(dict.fromkeys([*ticket.tags, *decision.tags, LOOP_GUARD_TAG]))
        with self.sessions() as session:
            values: dict[str, Any] = {
                "priority": decision.priority,
                "group": decision.queue,
                "tags": tags,
                "fields": {**ticket.fields, **{k: v for k, v in decision.fields.items()}},
                "status": "open" if ticket.status == "new" else ticket.status,
                "updated_at": utcnow(),
                "version": SandboxTicket.version + 1,
                "update_count": SandboxTicket.update_count + 1,
            }
            if decision.assignee:
                values["assignee"] = decision.assignee
            # The conditional UPDATE is the safe_update: it only lands on the version we read.
            result = session.execute(
                update(SandboxTicket)
                .where(SandboxTicket.id == _int_id(ticket.id), SandboxTicket.version == int(ticket.updated_stamp or 0))
                .values(**values)
            )
            if result.rowcount != 1:
                session.rollback()
                raise IntegrationError(f"sandbox ticket {ticket.id} changed since it was read", conflict=True, reason="conflict", status=409)
            session.add(
                SandboxComment(
                    ticket_id=_int_id(ticket.id),
                    author_role="bot",
                    author_name="AI triage",
                    body=f"{decision.internal_note}\n\n{marker}",
                    public=False,
                )
            )
            session.commit()

    # -- sandbox-only helpers (the demo creates tickets; agents reply in the sandbox view) --------------
    def create_ticket(
        self,
        subject: str,
        comments: list[dict[str, Any]],
        requester_name: str = "",
        requester_email: str = "",
        requester_locale: str = "",
        tags: list[str] | None = None,
    ) -> int:
        with self.sessions() as session:
            row = SandboxTicket(
                subject=subject,
                requester_name=requester_name,
                requester_email=requester_email,
                requester_locale=requester_locale,
                tags=list(tags or []),
                fields={},
            )
            row.comments = [
                SandboxComment(
                    author_role=c.get("author_role", "customer"),
                    author_name=c.get("author_name") or (requester_name if c.get("author_role", "customer") == "customer" else ""),
                    body=c["body"],
                    public=c.get("public", True),
                )
                for c in comments
            ]
            session.add(row)
            session.commit()
            return row.id

    def add_comment(self, ticket_id: str, body: str, author_role: str = "customer", public: bool = True) -> None:
        with self.sessions() as session:
            session.add(SandboxComment(ticket_id=_int_id(ticket_id), author_role=author_role, body=body, public=public))
            session.execute(
                update(SandboxTicket)
                .where(SandboxTicket.id == _int_id(ticket_id))
                .values(version=SandboxTicket.version + 1, updated_at=utcnow())
            )
            session.commit()


def _int_id(ticket_id: str | int) -> int:
    try:
        return int(ticket_id)
    except (TypeError, ValueError) as exc:
        raise IntegrationError(f"bad ticket id {ticket_id!r}", permanent=True, reason="bad_ticket_id") from exc
