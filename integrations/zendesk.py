"""Zendesk adapter on zenpy: fetch a ticket with its thread, apply a Decision in one safe PUT.

API facts: https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ (update, safe_update).
Every HTTP response passes through one requests hook (`_raise_for_status`) that turns failures into
IntegrationError *before* zenpy sees them, so zenpy never sleeps on a 429 inside a worker: Celery
waits `Retry-After` instead.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import requests
from zenpy import Zenpy
from zenpy.lib.endpoint import EndpointFactory

from app.ports import IntegrationError
from app.triage.decision import Decision
from app.triage.ticket import LOOP_GUARD_TAG, Comment, Ticket, is_bot_note
from integrations.http_errors import error_for_exception, error_for_response
from integrations.rate_budget import BudgetedAdapter, RateBudget

# Zendesk keeps at most 5,000 comments on a ticket: 50 pages of 100. The bound only stops a pagination
# that never ends (a proxy that rewrites links, a buggy stand-in) from holding the worker forever.
MAX_THREAD_PAGES = 50
API_PATH = "/api/v2/"


def _raise_for_status(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    if response.status_code >= 400:
        raise error_for_response(response, "zendesk")
    return response


def _json_object(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer; anything else (HTML from a proxy, `null`) is a transient error."""
    body = response.json()
    if not isinstance(body, dict):
        raise requests.exceptions.InvalidJSONError(f"expected a JSON object from {response.url}, got {type(body).__name__}")
    return body


def _users_by_id(page: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The users of a page (sideloaded or show_many) by id, skipping anything that is not a user."""
    return {u["id"]: u for u in page.get("users") or [] if isinstance(u, dict) and "id" in u}


def _read_environment_once(session: requests.Session, url: str) -> None:
    """Settle the proxy and CA bundle from the environment now, for the one host this session calls.

    requests otherwise re-reads them on every call, walking os.environ twice per request: ~10% of a
    worker's CPU per ticket. The variables mean what they mean to requests (HTTPS_PROXY, NO_PROXY,
    REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE), read at worker start.
    """
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


class ZendeskHelpdesk:
    name = "zendesk"

    def __init__(
        self,
        client: Zenpy,
        *,
        groups: dict[str, int] | None = None,
        fields: dict[str, int] | None = None,
        assignees: dict[str, int] | None = None,
        bot_user_id: str = "",
    ) -> None:
        self.client = client
        self.groups = {k: int(v) for k, v in (groups or {}).items()}
        self.fields = {k: int(v) for k, v in (fields or {}).items()}
        self.assignees = {k: int(v) for k, v in (assignees or {}).items()}
        self.bot_user_id = str(bot_user_id)

    @classmethod
    def from_settings(cls, settings: Any, mapping: dict[str, Any] | None = None, redis: Any = None) -> "ZendeskHelpdesk":
        """`redis` (a redis-py client) shares ZENDESK_RATE_LIMIT_PER_MINUTE across every worker."""
        mapping = mapping or {}
        session = requests.Session()
        budget = (
            RateBudget(redis, f"zendesk:{settings.ZENDESK_SUBDOMAIN or 'local'}", settings.ZENDESK_RATE_LIMIT_PER_MINUTE)
            if redis is not None
            else None
        )
        # No retries inside the HTTP client: every retry is a Celery retry the delivery table can see.
        session.mount("https://", BudgetedAdapter(budget, "zendesk", max_retries=0))
        session.mount("http://", BudgetedAdapter(budget, "zendesk", max_retries=0))
        session.hooks["response"].append(_raise_for_status)
        if settings.ZENDESK_BASE_URL:
            # zenpy reads these to reach a proxy or a local mock instead of {subdomain}.zendesk.com.
            scheme, _, netloc = settings.ZENDESK_BASE_URL.rstrip("/").partition("://")
            os.environ["ZENPY_FORCE_SCHEME"] = scheme
            os.environ["ZENPY_FORCE_NETLOC"] = netloc
        else:
            os.environ.pop("ZENPY_FORCE_SCHEME", None)
            os.environ.pop("ZENPY_FORCE_NETLOC", None)
        _read_environment_once(session, settings.ZENDESK_BASE_URL or f"https://{settings.ZENDESK_SUBDOMAIN or 'local'}.zendesk.com")
        credentials = (
            {"oauth_token": settings.ZENDESK_OAUTH_TOKEN}
            if settings.ZENDESK_OAUTH_TOKEN
            else {"email": settings.ZENDESK_EMAIL, "token": settings.ZENDESK_API_TOKEN or "unset"}
        )
        client = Zenpy(
            subdomain=settings.ZENDESK_SUBDOMAIN or "local",
            session=session,
            **credentials,
            timeout=settings.ZENDESK_TIMEOUT_SECONDS,
            disable_cache=True,
        )
        return cls(
            client,
            groups=mapping.get("groups"),
            fields=mapping.get("fields"),
            assignees=mapping.get("assignees"),
            bot_user_id=settings.ZENDESK_BOT_USER_ID,
        )

    # -- reading ------------------------------------------------------------------------------------------
    def fetch(self, ticket_id: str) -> Ticket:
        """The ticket, its whole thread and its people in two GETs (three when an author is missing).

        Comments come with their authors sideloaded (`include=users`): a call fewer per ticket out of the
        account's per-minute API budget than asking for the users apart. zenpy makes the calls (URLs, auth,
        session, errors); its object mapping is skipped, since the Ticket below is built from plain JSON
        anyway and mapping a ticket, its thread and its users into zenpy objects was ~15% of a worker's CPU.
        """
        try:
            number = int(ticket_id)
        except ValueError as exc:
            raise IntegrationError(f"bad ticket id {ticket_id!r}", permanent=True, reason="bad_ticket_id") from exc
        try:
            api = self.client.tickets
            raw = _json_object(api._get(api._build_url(api.endpoint(id=number)), raw_response=True)).get("ticket") or {}
            raw_comments, users = self._thread(number)
            # The requester may never have written (an agent opened the ticket for them).
            missing = ({c.get("author_id") for c in raw_comments} | {raw.get("requester_id")}) - users.keys() - {None}
            if missing:
                users.update(self._users(missing))
        except requests.RequestException as exc:
            raise error_for_exception(exc, "zendesk") from exc
        requester_id = raw.get("requester_id")
        requester = users.get(requester_id, {})
        comments = tuple(
            Comment(
                id=str(c.get("id")),
                author_role="bot" if is_bot_note(c.get("body") or "") else self._role(c.get("author_id"), requester_id, users),
                body=c.get("plain_body") or c.get("body") or "",
                public=bool(c.get("public")),
                author_name=users.get(c.get("author_id"), {}).get("name", ""),
                created_at=str(c.get("created_at") or ""),
            )
            for c in raw_comments
        )
        custom = {str(f["id"]): f.get("value") for f in raw.get("custom_fields") or [] if isinstance(f, dict)}
        return Ticket(
            provider=self.name,
            id=str(raw.get("id") or number),
            subject=raw.get("subject") or "",
            comments=comments,
            requester_name=requester.get("name", ""),
            requester_locale=requester.get("locale", ""),
            status=raw.get("status") or "new",
            priority=raw.get("priority"),
            group=str(raw["group_id"]) if raw.get("group_id") else None,
            assignee=str(raw["assignee_id"]) if raw.get("assignee_id") else None,
            tags=tuple(raw.get("tags") or ()),
            fields=custom,
            updated_stamp=raw.get("updated_at") or "",
            url=raw.get("url") or "",
        )

    def _thread(self, ticket_id: int) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
        """Every comment (oldest first, 100 a page) and the users sideloaded with them, as plain JSON.

        All of it or an error: a thread cut short would miss its newest comments, where our marker note
        and the customer's latest message are (a second note, or a triage of old text).
        """
        api = self.client.tickets
        url = api._build_url(api.endpoint.comments(ticket_id, include="users", cursor_pagination=100))
        # Zendesk's links name its own host; a ZENDESK_BASE_URL gateway may add a path before /api/v2/.
        base = url[: url.index(API_PATH)] if API_PATH in url else ""
        comments: list[dict[str, Any]] = []
        users: dict[int, dict[str, Any]] = {}
        seen: set[str] = set()
        for _ in range(MAX_THREAD_PAGES):
            seen.add(url)
            page = _json_object(api._get(url, raw_response=True))
            comments.extend(c for c in page.get("comments") or [] if isinstance(c, dict))
            users.update(_users_by_id(page))
            following = (page.get("links") or {}).get("next") if (page.get("meta") or {}).get("has_more") else page.get("next_page")
            if not following:
                return comments, users
            url = base + following[following.index(API_PATH):] if base and API_PATH in following else following
            if url in seen:
                break
        raise IntegrationError(
            f"ticket {ticket_id}: comment pages did not end (over {MAX_THREAD_PAGES} pages, or a page linked back)",
            reason="thread_pagination",
        )

    def _users(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        url = self.client.users._build_url(EndpointFactory("users")(ids=ids))
        page = _json_object(self.client.users._get(url, raw_response=True))
        return _users_by_id(page)

    def _role(self, author_id: int, requester_id: int, users: dict[int, dict[str, Any]]) -> str:
        if author_id == requester_id:
            return "customer"
        if self.bot_user_id and str(author_id) == self.bot_user_id:
            return "bot"
        if users.get(author_id, {}).get("role") == "end-user":
            return "customer"  # a CC'd colleague of the requester speaks for the customer
        return "agent"

    def labelled_history(self, since_days: int, *, tag_prefix: str = "intent__") -> Iterator[tuple[str, str]]:
        """(subject + description, intent) for solved tickets updated in the last `since_days` days.

        The label is the mapped `intent` custom field when the policy names one, else an `intent__x` tag:
        ours, or the ones Zendesk's own intelligent triage writes. Tickets with neither are skipped.
        Uses the search export endpoint (cursor paginated, no 1,000-result cap).
        """
        since = (datetime.now(timezone.utc) - timedelta(days=since_days)).date()
        field_id = self.fields.get("intent")
        try:
            for zticket in self.client.search_export(type="ticket", status="solved", updated_after=since, cursor_pagination=True):
                raw = zticket.to_dict()
                label = ""
                if field_id:
                    label = next((str(f.get("value") or "") for f in raw.get("custom_fields") or [] if f.get("id") == field_id), "")
                if not label:
                    label = next((t[len(tag_prefix):] for t in raw.get("tags") or [] if t.startswith(tag_prefix)), "")
                text = f"{raw.get('subject') or ''}\n{raw.get('description') or ''}".strip()
                if label and text:
                    yield text, label
        except requests.RequestException as exc:
            raise error_for_exception(exc, "zendesk") from exc

    # -- writing ------------------------------------------------------------------------------------------
    def update_payload(self, ticket: Ticket, decision: Decision, marker: str) -> dict[str, Any]:
        """The body of the one PUT: fields, merged tags, internal note, and the concurrency guard."""
        tags = list(dict.fromkeys([*ticket.tags, *decision.tags, LOOP_GUARD_TAG]))
        body: dict[str, Any] = {
            "priority": decision.priority,
            "tags": tags,
            "comment": {"body": f"{decision.internal_note}\n\n{marker}", "public": False},
            "safe_update": True,
            "updated_stamp": ticket.updated_stamp,
        }
        if self.bot_user_id:
            body["comment"]["author_id"] = int(self.bot_user_id)
        if decision.queue in self.groups:
            body["group_id"] = self.groups[decision.queue]
        if decision.assignee and decision.assignee in self.assignees:
            body["assignee_id"] = self.assignees[decision.assignee]
        custom = [
            {"id": self.fields[key], "value": value} for key, value in decision.fields.items() if key in self.fields
        ]
        if custom:
            body["custom_fields"] = custom
        return {"ticket": body}

    def apply(self, ticket: Ticket, decision: Decision, marker: str) -> None:
        api = self.client.tickets
        url = api._build_url(api.endpoint(id=int(ticket.id)))
        try:
            # zenpy's _put would map the answer (the ticket and its audit) into objects nobody reads.
            api._call_api(api.session.put, url, json=self.update_payload(ticket, decision, marker), timeout=api.timeout)
        except requests.RequestException as exc:
            raise error_for_exception(exc, "zendesk") from exc
