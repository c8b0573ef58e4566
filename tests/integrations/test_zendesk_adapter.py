"""The Zendesk adapter against recorded real API sessions, replayed with `responses` at the HTTP boundary."""
from __future__ import annotations

import json

import pytest
import responses

from app.ports import IntegrationError
from app.triage.decision import Decision
from integrations.zendesk import ZendeskHelpdesk
from tests.conftest import make_settings
from tests.integrations.recorded import cassette

BASE = "https://d3v-zenpydev.zendesk.com/api/v2"


def decision(**overrides) -> Decision:  # noqa: ANN003
    values = dict(
        intent="refund_request", confidence=0.91, language="en", sentiment="negative", emotion_score=0.8,
        priority="high", queue="billing", escalate=True, reasons=("intent_refund",),
        tags=("intent__refund_request", "sentiment__negative"), internal_note="AI triage: refund request, escalated.",
        fields={"intent": "refund_request", "confidence": 0.91},
    )
    values.update(overrides)
    return Decision(**values)


@pytest.fixture
def desk(var_dir) -> ZendeskHelpdesk:  # noqa: ANN001
    settings = make_settings(
        var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="d3v-zenpydev", ZENDESK_EMAIL="bot@acme.test",
        ZENDESK_API_TOKEN="t0ken-secret", ZENDESK_BOT_USER_ID="6130907990001",
    )
    return ZendeskHelpdesk.from_settings(settings, {"groups": {"billing": 6716738951450}, "fields": {"intent": 31503099534100}})


def register_ticket_33() -> dict:
    """Ticket 33 as created in the recorded session, served as GET, with its recorded comments."""
    session = cassette("TestAttachmentUpload.test_redact_attachment-upload-single")
    created = next(i for i in session if i.method == "POST" and i.uri.endswith("/tickets.json"))
    comments = next(i for i in session if "comments.json" in i.uri)
    ticket = created.json()["ticket"]
    responses.add(responses.GET, f"{BASE}/tickets/{ticket['id']}.json", json={"ticket": ticket}, headers=created.headers)
    responses.add(responses.GET, f"{BASE}/tickets/{ticket['id']}/comments.json", body=comments.body, headers=comments.headers)
    author = comments.json()["comments"][0]["author_id"]
    responses.add(
        responses.GET, f"{BASE}/users/show_many.json",
        json={"users": [{"id": author, "name": "Jo Requester", "role": "end-user", "locale": "en-US"}]},
    )
    return ticket


@responses.activate
def test_fetch_reads_ticket_thread_and_requester(desk) -> None:  # noqa: ANN001
    raw = register_ticket_33()
    ticket = desk.fetch(str(raw["id"]))
    assert ticket.id == str(raw["id"]) and ticket.subject == raw["subject"]
    assert ticket.updated_stamp == raw["updated_at"]
    assert ticket.comments and ticket.comments[0].author_role == "customer"
    assert ticket.requester_name == "Jo Requester" and ticket.requester_locale == "en-US"
    # One GET each (the recorded comments came without sideloaded users, so they are asked for apart), no
    # cache, and authenticated with the API token.
    assert [c.request.url.split("?")[0].rsplit("/", 1)[-1] for c in responses.calls] == ["33.json", "comments.json", "show_many.json"]
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_fetch_reads_sideloaded_authors_and_follows_cursor_pages(desk) -> None:  # noqa: ANN001
    """Two GETs when Zendesk sideloads the authors; every page of the thread, even from the host the links name."""
    from responses import matchers

    session = cassette("TestAttachmentUpload.test_redact_attachment-upload-single")
    ticket = next(i for i in session if i.method == "POST" and i.uri.endswith("/tickets.json")).json()["ticket"]
    first = next(i for i in session if "comments.json" in i.uri).json()
    author = first["comments"][0]["author_id"]
    first["meta"]["has_more"] = True  # the recorded link points at the recording's own host
    first["users"] = [{"id": author, "name": "Jo Requester", "role": "end-user", "locale": "de"}]
    after = first["meta"]["after_cursor"]
    agent = {"id": 6130907990001, "name": "Ana Agent", "role": "agent"}
    reply = {**first["comments"][0], "id": 2, "author_id": agent["id"], "plain_body": "Refund sent.", "body": "Refund sent."}
    second = {"comments": [reply], "users": [agent], "meta": {"has_more": False}, "links": {"next": None}}
    comments_url = f"{BASE}/tickets/{ticket['id']}/comments.json"
    responses.add(responses.GET, f"{BASE}/tickets/{ticket['id']}.json", json={"ticket": {**ticket, "requester_id": author}})
    responses.add(responses.GET, comments_url, json=second, match=[matchers.query_param_matcher({"page[after]": after}, strict_match=False)])
    responses.add(responses.GET, comments_url, json=first, match=[matchers.query_param_matcher({"include": "users", "page[size]": "100"})])

    fetched = desk.fetch(str(ticket["id"]))

    assert [c.body for c in fetched.comments][-1] == "Refund sent." and len(fetched.comments) == 2
    assert [c.author_role for c in fetched.comments] == ["customer", "bot"]  # the second author is the bot user
    assert fetched.comments[1].author_name == "Ana Agent" and fetched.requester_locale == "de"
    assert [c.request.method for c in responses.calls] == ["GET", "GET", "GET"]  # ticket, two pages; no users call
    assert not any("show_many" in c.request.url for c in responses.calls)
    assert all(c.request.url.startswith(BASE) for c in responses.calls)


@responses.activate
def test_apply_is_one_safe_put_with_merged_tags_and_private_note(desk) -> None:  # noqa: ANN001
    session = cassette("TestTicketCreateUpdateDelete.test_single_object_update-update-single")
    created, put = session[0], session[1]
    raw = created.json()["ticket"]
    raw["tags"] = ["vip", "billing"]
    responses.add(responses.GET, f"{BASE}/tickets/4016.json", json={"ticket": raw})
    responses.add(responses.GET, f"{BASE}/tickets/4016/comments.json", json={"comments": [], "meta": {"has_more": False}})
    responses.add(responses.GET, f"{BASE}/users/show_many.json", json={"users": []})
    responses.add(responses.PUT, f"{BASE}/tickets/4016.json", body=put.body, status=put.status, headers=put.headers)
    ticket = desk.fetch("4016")
    desk.apply(ticket, decision(), "[ai-triage delivery=1]")
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(puts) == 1
    body = json.loads(puts[0].request.body)["ticket"]
    assert body["safe_update"] is True and body["updated_stamp"] == "2023-09-18T23:26:00Z"
    assert body["priority"] == "high" and body["group_id"] == 6716738951450
    assert body["tags"][:2] == ["vip", "billing"] and "ai_triaged" in body["tags"] and "intent__refund_request" in body["tags"]
    assert body["comment"]["public"] is False and body["comment"]["body"].endswith("[ai-triage delivery=1]")
    assert body["comment"]["author_id"] == 6130907990001
    assert body["custom_fields"] == [{"id": 31503099534100, "value": "refund_request"}]


@responses.activate
def test_missing_ticket_is_permanent(desk) -> None:  # noqa: ANN001
    missing = cassette("TestTicketCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update")[0]
    responses.add(responses.GET, f"{BASE}/tickets/9223372036854775807.json", body=missing.body, status=missing.status)
    with pytest.raises(IntegrationError) as info:
        desk.fetch("9223372036854775807")
    assert info.value.permanent and info.value.reason == "not_found" and info.value.status == 404


@responses.activate
def test_put_on_missing_ticket_is_permanent(desk) -> None:  # noqa: ANN001
    missing = cassette("TestTicketCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update")[0]
    responses.add(responses.PUT, f"{BASE}/tickets/9223372036854775807.json", body=missing.body, status=missing.status)
    from app.triage.ticket import Ticket

    with pytest.raises(IntegrationError) as info:
        desk.apply(Ticket(provider="zendesk", id="9223372036854775807", subject="x"), decision(), "m")
    assert info.value.permanent and info.value.status == 404


@responses.activate
def test_429_raises_with_retry_after_instead_of_sleeping(desk) -> None:  # noqa: ANN001
    # Documented shape: 429 with Retry-After seconds (reference/zendesk.md, rate limits).
    responses.add(responses.GET, f"{BASE}/tickets/1.json", status=429, headers={"Retry-After": "93"}, body="Too Many Requests")
    with pytest.raises(IntegrationError) as info:
        desk.fetch("1")
    assert not info.value.permanent and info.value.retry_after == 93.0 and info.value.reason == "rate_limited"
    assert len(responses.calls) == 1  # zenpy did not loop or sleep on it


@responses.activate
def test_409_on_stale_stamp_is_a_conflict(desk) -> None:  # noqa: ANN001
    from app.triage.ticket import Ticket

    responses.add(responses.PUT, f"{BASE}/tickets/4016.json", status=409,
                  json={"error": "UpdateConflict", "description": "Ticket has been updated since you last viewed it"})
    with pytest.raises(IntegrationError) as info:
        desk.apply(Ticket(provider="zendesk", id="4016", subject="x", updated_stamp="2023-09-18T23:26:00Z"), decision(), "m")
    assert info.value.conflict and not info.value.permanent


@responses.activate
def test_server_error_and_auth_errors(desk) -> None:  # noqa: ANN001
    responses.add(responses.GET, f"{BASE}/tickets/2.json", status=503, body="upstream")
    responses.add(responses.GET, f"{BASE}/tickets/3.json", status=401, json={"error": "Couldn't authenticate you"})
    with pytest.raises(IntegrationError) as transient:
        desk.fetch("2")
    assert not transient.value.permanent and transient.value.reason == "server_error"
    with pytest.raises(IntegrationError) as auth:
        desk.fetch("3")
    assert auth.value.permanent and auth.value.reason == "unauthorized"
    assert "t0ken-secret" not in str(auth.value)


@responses.activate
def test_labelled_history_reads_solved_tickets_with_an_intent(desk) -> None:  # noqa: ANN001
    # Search export shape: {"results": [...], "meta": {"has_more", "after_cursor"}, "links": {"next"}}.
    base_ticket = cassette("TestTicketCreateUpdateDelete.test_single_object_update-update-single")[0].json()["ticket"]

    def ticket(i: int, subject: str, tags: list[str], custom: list[dict] | None = None) -> dict:
        return {**base_ticket, "id": i, "subject": subject, "description": f"body {i}", "status": "solved",
                "tags": tags, "custom_fields": custom or [], "result_type": "ticket"}

    page_two = f"{BASE}/search/export.json?page%5Bafter%5D=abc&filter%5Btype%5D=ticket&page%5Bsize%5D=100"
    responses.add(responses.GET, f"{BASE}/search/export.json", json={
        "results": [ticket(1, "Refund please", ["intent__refund_request", "vip"]), ticket(2, "No label", ["vip"])],
        "meta": {"has_more": True, "after_cursor": "abc"}, "links": {"next": page_two}})
    responses.add(responses.GET, page_two, json={
        "results": [ticket(3, "Where is it", [], [{"id": 31503099534100, "value": "order_status"}])],
        "meta": {"has_more": False, "after_cursor": None}, "links": {"next": None}})
    rows = list(desk.labelled_history(90))
    assert rows == [("Refund please\nbody 1", "refund_request"), ("Where is it\nbody 3", "order_status")]
    query = responses.calls[0].request.url
    assert "filter%5Btype%5D=ticket" in query and "status%3Asolved" in query and "updated%3E" in query


def test_proxy_and_ca_bundle_are_read_from_the_environment_once(var_dir, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings = make_settings(var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="b@acme.test", ZENDESK_API_TOKEN="t")
    session = ZendeskHelpdesk.from_settings(settings).client.tickets.session
    assert session.proxies["https"] == "http://proxy.internal:3128" and session.verify == "/etc/ssl/corp.pem"
    assert session.trust_env is False  # not re-read per request

    monkeypatch.setenv("NO_PROXY", ".zendesk.com")
    session = ZendeskHelpdesk.from_settings(settings).client.tickets.session
    assert "https" not in session.proxies


def _page(comments: list[dict], next_link: str | None) -> dict:
    return {"comments": comments, "users": [], "meta": {"has_more": bool(next_link)}, "links": {"next": next_link}}


COMMENT = {"id": 1, "author_id": 7, "body": "Where is my order?", "plain_body": "Where is my order?", "public": True}


@responses.activate
def test_comment_pages_that_never_end_are_an_error_not_a_short_thread(desk) -> None:  # noqa: ANN001
    # A thread cut short would miss our marker note at its end: a second note. So it is an error, retried.
    responses.add(responses.GET, f"{BASE}/tickets/5.json", json={"ticket": {"id": 5, "requester_id": 7}})
    looping = f"{BASE}/tickets/5/comments.json?include=users&page%5Bsize%5D=100"
    responses.add(responses.GET, f"{BASE}/tickets/5/comments.json", json=_page([COMMENT], looping))
    with pytest.raises(IntegrationError) as info:
        desk.fetch("5")
    assert info.value.reason == "thread_pagination" and not info.value.permanent


@responses.activate
def test_pages_follow_a_gateway_path_and_a_null_body_is_an_integration_error(var_dir) -> None:  # noqa: ANN001
    from responses import matchers

    settings = make_settings(var_dir, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="b@acme.test",
                             ZENDESK_API_TOKEN="t", ZENDESK_BASE_URL="https://gw.corp.test/zendesk")
    desk = ZendeskHelpdesk.from_settings(settings)
    gateway = "https://gw.corp.test/zendesk/api/v2"
    responses.add(responses.GET, f"{gateway}/tickets/6.json", json={"ticket": {"id": 6, "requester_id": 7}})
    second = "https://acme.zendesk.com/api/v2/tickets/6/comments.json?page%5Bafter%5D=abc&page%5Bsize%5D=100"
    responses.add(responses.GET, f"{gateway}/tickets/6/comments.json", json=_page([{**COMMENT, "id": 2, "body": "Any news?", "plain_body": "Any news?"}], None),
                  match=[matchers.query_param_matcher({"page[after]": "abc"}, strict_match=False)])
    responses.add(responses.GET, f"{gateway}/tickets/6/comments.json", json=_page([COMMENT], second))
    responses.add(responses.GET, f"{gateway}/users/show_many.json", json={"users": [{"id": 7, "name": "Jo", "role": "end-user"}]})
    assert [c.body for c in desk.fetch("6").comments] == ["Where is my order?", "Any news?"]

    responses.add(responses.GET, f"{gateway}/tickets/8.json", body="null", content_type="application/json")
    with pytest.raises(IntegrationError) as info:
        desk.fetch("8")
    assert not info.value.permanent
