"""One contract, every helpdesk adapter: Zendesk and Salesforce over `responses`, the sandbox on SQLite.

Each harness seeds the same ticket (a customer message, an agent reply) in its backend's own shapes and
reads back what the adapter wrote. The assertions are the same for all: the worker must not care which
helpdesk it talks to.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
import responses

from app.ports import Helpdesk, IntegrationError
from app.triage.decision import Decision
from app.triage.ticket import bot_marker
from tests.conftest import TEST_SECRET, make_settings
from tests.salesforce.conftest import API as SF_API
from tests.salesforce.conftest import CASE_ID, MockOrg, rest, token_helpdesk

MARKER = bot_marker(42)
DECISION = Decision(
    intent="refund", confidence=0.91, language="en", sentiment="negative", emotion_score=0.7, priority="high",
    queue="billing", escalate=True, reasons=("angry_customer",), tags=("intent_refund",),
    internal_note="Intent: refund (0.91). Suggest: confirm the refund date.", fields={"intent": "refund"},
)


class ZendeskHarness:
    base = "https://acme.zendesk.com/api/v2"

    def __init__(self, mock: responses.RequestsMock, var_dir) -> None:  # noqa: ANN001
        from integrations.zendesk import ZendeskHelpdesk

        settings = make_settings(var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="bot@acme.example",
                                 ZENDESK_API_TOKEN="tok", ZENDESK_WEBHOOK_SECRET=TEST_SECRET)
        self.helpdesk = ZendeskHelpdesk.from_settings(settings, {"groups": {"billing": 360001235}, "fields": {"intent": 360005000001}})
        self.ticket_id = "35436"
        self.ticket: dict[str, Any] = {
            "id": 35436, "url": f"{self.base}/tickets/35436.json", "subject": "Refund not received", "status": "open",
            "priority": "normal", "requester_id": 20978392, "submitter_id": 20978392, "assignee_id": None, "group_id": None,
            "tags": ["web"], "custom_fields": [{"id": 360005000001, "value": None}], "created_at": "2024-05-02T09:14:03Z",
            "updated_at": "2024-05-02T09:40:00Z",
        }
        self.comments: list[dict[str, Any]] = [
            {"id": 1001, "type": "Comment", "author_id": 20978392, "body": "I returned my order and have no refund.",
             "plain_body": "I returned my order and have no refund.", "public": True, "created_at": "2024-05-02T09:14:03Z"},
            {"id": 1002, "type": "Comment", "author_id": 361234567, "body": "We are looking into it.",
             "plain_body": "We are looking into it.", "public": True, "created_at": "2024-05-02T09:40:00Z"},
        ]
        self.users = [{"id": 20978392, "name": "Jo Example", "role": "end-user", "locale": "en-US"},
                      {"id": 361234567, "name": "Sam Agent", "role": "agent", "locale": "en-US"}]
        self.mock = mock
        self.puts: list[dict[str, Any]] = []
        mock.add_callback(responses.GET, re.compile(rf"{self.base}/tickets/(\d+)\.json.*"), self._get_ticket)
        mock.add_callback(responses.GET, re.compile(rf"{self.base}/tickets/35436/comments\.json.*"),
                          lambda r: (200, {}, json.dumps({"comments": self.comments, "next_page": None, "previous_page": None, "count": len(self.comments)})))
        mock.add(responses.GET, re.compile(rf"{self.base}/users/show_many\.json.*"), json={"users": self.users, "next_page": None, "count": 2})
        mock.add_callback(responses.PUT, f"{self.base}/tickets/35436.json", self._put)

    def _get_ticket(self, request):  # noqa: ANN001, ANN202
        if "/tickets/35436.json" not in request.url:
            return 404, {}, json.dumps({"error": "RecordNotFound", "description": "Not found"})
        return 200, {}, json.dumps({"ticket": self.ticket})

    def _put(self, request):  # noqa: ANN001, ANN202
        body = json.loads(request.body)["ticket"]
        if body.get("safe_update") and body.get("updated_stamp") != self.ticket["updated_at"]:
            return 409, {}, json.dumps({"error": "UpdateConflict", "description": "Safe Update prevented the update due to outdated ticket data"})
        self.puts.append(body)
        self.ticket.update({k: v for k, v in body.items() if k in ("priority", "group_id", "tags", "custom_fields")})
        self.ticket["updated_at"] = "2024-05-03T09:00:00Z"
        self.comments.append({"id": 1003, "type": "Comment", "author_id": 999, "body": body["comment"]["body"],
                              "plain_body": body["comment"]["body"], "public": body["comment"]["public"], "created_at": "2024-05-03T09:00:00Z"})
        return 200, {}, json.dumps({"ticket": self.ticket})

    def touch(self) -> None:
        self.ticket["updated_at"] = "2024-05-02T10:00:00Z"

    def rate_limit(self) -> None:
        self.mock.replace(responses.GET, re.compile(rf"{self.base}/tickets/(\d+)\.json.*"), status=429, headers={"Retry-After": "37"}, json={})

    def written(self) -> dict[str, Any]:
        [put] = self.puts
        return {"priority": put["priority"], "queue": put["group_id"], "intent": put["custom_fields"][0]["value"],
                "note": put["comment"]["body"], "private": not put["comment"]["public"]}

    expected = {"priority": "high", "queue": 360001235, "intent": "refund"}


class SalesforceHarness:
    def __init__(self, mock: responses.RequestsMock, var_dir) -> None:  # noqa: ANN001
        self.org = MockOrg(mock)
        self.mock = mock
        self.helpdesk = token_helpdesk()
        self.ticket_id = CASE_ID
        missing = "500Ri00000NoSuchAD"
        mock.add(responses.GET, f"{SF_API}/sobjects/Case/{missing}", json=rest("error__not_found.json"), status=404)
        self.missing_id = missing

    def touch(self) -> None:
        self.org.case["LastModifiedDate"] = "2024-05-02T10:00:00.000+0000"

    def rate_limit(self) -> None:
        self.mock.replace(responses.GET, re.compile(rf"{SF_API}/sobjects/Case/{CASE_ID}(\?.*)?$"), status=403, json=rest("error__request_limit.json"))

    def written(self) -> dict[str, Any]:
        [patch] = self.org.calls("PATCH", "/sobjects/Case/")
        case = json.loads(patch.request.body)
        [note] = self.org.notes
        return {"priority": case["Priority"], "queue": case["OwnerId"], "intent": case["AI_Intent__c"],
                "note": note["CommentBody"], "private": note["IsPublished"] is False}

    expected = {"priority": "High", "queue": "00G5e000002BiLlEAK", "intent": "refund"}


class SandboxHarness:
    def __init__(self, mock: responses.RequestsMock, var_dir) -> None:  # noqa: ANN001
        from app.db import session_factory
        from integrations.sandbox import SandboxHelpdesk

        settings = make_settings(var_dir)
        self.helpdesk = SandboxHelpdesk(session_factory(settings.database_url))
        self.ticket_id = str(self.helpdesk.create_ticket("Refund not received", [
            {"body": "I returned my order and have no refund.", "author_role": "customer"},
            {"body": "We are looking into it.", "author_role": "agent", "author_name": "Sam Agent"},
        ], requester_name="Jo Example"))
        self.missing_id = "999999"

    def touch(self) -> None:
        self.helpdesk.add_comment(self.ticket_id, "Sorry, one more detail.")

    def rate_limit(self) -> None:
        pytest.skip("the sandbox is local: it has no rate limit")

    def written(self) -> dict[str, Any]:
        ticket = self.helpdesk.fetch(self.ticket_id)
        note = ticket.comments[-1]
        return {"priority": ticket.priority, "queue": ticket.group, "intent": ticket.fields.get("intent"),
                "note": note.body, "private": not note.public}

    expected = {"priority": "high", "queue": "billing", "intent": "refund"}


ZendeskHarness.missing_id = "99999"
HARNESSES = {"zendesk": ZendeskHarness, "salesforce": SalesforceHarness, "sandbox": SandboxHarness}


@pytest.fixture(params=list(HARNESSES))
def desk(request, var_dir):  # noqa: ANN001, ANN201
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield HARNESSES[request.param](mock, var_dir)


def test_is_a_helpdesk(desk) -> None:  # noqa: ANN001
    assert isinstance(desk.helpdesk, Helpdesk)


def test_fetch_returns_the_ticket_with_author_roles(desk) -> None:  # noqa: ANN001
    ticket = desk.helpdesk.fetch(desk.ticket_id)
    assert ticket.provider == desk.helpdesk.name and ticket.id == desk.ticket_id
    assert ticket.subject == "Refund not received"
    roles = {c.author_role for c in ticket.comments}
    assert {"customer", "agent"} <= roles
    assert ticket.customer_comments and ticket.has_human_agent_reply()
    assert ticket.updated_stamp


def test_apply_writes_priority_queue_fields_and_a_private_note(desk) -> None:  # noqa: ANN001
    ticket = desk.helpdesk.fetch(desk.ticket_id)
    desk.helpdesk.apply(ticket, DECISION, MARKER)
    written = desk.written()
    assert {k: written[k] for k in desk.expected} == desk.expected
    assert written["private"] and DECISION.internal_note in written["note"] and MARKER in written["note"]


def test_our_note_is_seen_on_refetch_so_a_redelivery_is_a_no_op(desk) -> None:  # noqa: ANN001
    desk.helpdesk.apply(desk.helpdesk.fetch(desk.ticket_id), DECISION, MARKER)
    ticket = desk.helpdesk.fetch(desk.ticket_id)
    assert ticket.contains_marker(MARKER)


def test_change_since_read_is_a_conflict(desk) -> None:  # noqa: ANN001
    ticket = desk.helpdesk.fetch(desk.ticket_id)
    desk.touch()
    with pytest.raises(IntegrationError) as caught:
        desk.helpdesk.apply(ticket, DECISION, MARKER)
    assert caught.value.conflict and not caught.value.permanent


def test_missing_ticket_is_permanent(desk) -> None:  # noqa: ANN001
    with pytest.raises(IntegrationError) as caught:
        desk.helpdesk.fetch(desk.missing_id)
    assert caught.value.permanent and caught.value.reason == "not_found"


def test_rate_limit_is_transient_with_retry_after(desk) -> None:  # noqa: ANN001
    desk.rate_limit()
    with pytest.raises(IntegrationError) as caught:
        desk.helpdesk.fetch(desk.ticket_id)
    assert not caught.value.permanent and caught.value.retry_after and caught.value.retry_after > 0
