"""Salesforce Service Cloud adapter on simple-salesforce: fetch a Case with its thread, apply a Decision.

API facts: docs/salesforce.md; REST: developer.salesforce.com/docs/atlas.en-us.api_rest.meta.
Every HTTP response passes through one requests hook (`_on_response`) that records `Sforce-Limit-Info` and
turns failures into IntegrationError *before* simple-salesforce sees them. That keeps the SDK's own
INVALID_SESSION_ID retry (which recurses without bound in `SFType._call_salesforce`) out of play: this
adapter re-authenticates once per call, itself.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import requests
import structlog
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce, SalesforceLogin, format_soql
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from app.ports import IntegrationError
from app.triage.decision import Decision
from app.triage.ticket import Comment, Ticket, is_bot_note
from integrations.http_errors import error_for_exception, error_for_response
from integrations.rate_budget import SharedPace

log = structlog.get_logger("salesforce")

T = TypeVar("T")

CASE_COMMENT_MAX_BYTES = 4000
FEED_ITEM_MAX_CHARS = 10000
ROLLING_WINDOW_SECONDS = 24 * 3600
# One ticket costs about this many REST calls (Case, thread, freshness check, PATCH, note).
CALLS_PER_TICKET = 5

# Salesforce's own picklist defaults are High/Medium/Low; orgs rename and add values, so each neutral
# priority lists candidates in order and the first active value in the org's picklist wins.
PRIORITY_CANDIDATES: dict[str, tuple[str, ...]] = {
    "urgent": ("Urgent", "Critical", "High"),
    "high": ("High",),
    "normal": ("Medium", "Normal"),
    "low": ("Low",),
}
# Portal and community users write as (or for) the customer; everything else is staff.
CUSTOMER_USER_TYPES = {"PowerCustomerSuccess", "CustomerSuccess", "CspLitePortal", "PowerPartner", "Guest"}
TRANSIENT_ERROR_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "API_CURRENTLY_DISABLED"}


@dataclass(frozen=True)
class Credentials:
    """How to log in. `mode` is jwt | client_credentials | password | token."""

    mode: str
    domain: str = "login"
    instance_url: str = ""
    username: str = ""
    password: str = ""
    security_token: str = ""
    consumer_key: str = ""
    consumer_secret: str = ""
    private_key: str = ""
    private_key_file: str = ""
    access_token: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> "Credentials":
        common = {"domain": settings.SALESFORCE_DOMAIN or "login", "instance_url": settings.SALESFORCE_INSTANCE_URL}
        key = settings.SALESFORCE_CONSUMER_KEY
        method = settings.salesforce_login  # the one place that reads which login the settings describe
        if method == "jwt":
            return cls(
                "jwt",
                username=settings.SALESFORCE_USERNAME,
                consumer_key=key,
                private_key=settings.SALESFORCE_PRIVATE_KEY,
                private_key_file=settings.SALESFORCE_PRIVATE_KEY_FILE,
                **common,
            )
        if method == "client_credentials":
            return cls("client_credentials", consumer_key=key, consumer_secret=settings.SALESFORCE_CONSUMER_SECRET, **common)
        if method == "password":
            return cls(
                "password",
                username=settings.SALESFORCE_USERNAME,
                password=settings.SALESFORCE_PASSWORD,
                security_token=settings.SALESFORCE_SECURITY_TOKEN,
                consumer_key=key,
                consumer_secret=settings.SALESFORCE_CONSUMER_SECRET,
                **common,
            )
        if method == "token":
            return cls("token", access_token=settings.SALESFORCE_ACCESS_TOKEN, **common)
        raise IntegrationError(
            "Salesforce credentials are not configured: set SALESFORCE_CONSUMER_KEY + SALESFORCE_USERNAME + "
            "SALESFORCE_PRIVATE_KEY(_FILE) (JWT bearer), or SALESFORCE_CONSUMER_KEY + SALESFORCE_CONSUMER_SECRET + "
            "SALESFORCE_DOMAIN=<mydomain>.my (client credentials)",
            permanent=True,
            reason="not_configured",
        )

    @property
    def refreshable(self) -> bool:
        return self.mode != "token"

    @property
    def org_key(self) -> str:
        """Names the org for shared pacing when SALESFORCE_ORG_ID is not set: its My Domain or instance,
        else a digest of the login (a username is not a secret, but Redis keys are no place for it)."""
        if self.instance_url:
            return _host(self.instance_url)
        if self.domain not in ("login", "test"):
            return self.domain
        return hashlib.sha256(f"{self.username}|{self.consumer_key}".encode()).hexdigest()[:16]

    def login(self, session: requests.Session, version: str) -> tuple[str, str]:
        """Return (access token, instance host[:port]) from Salesforce's token endpoint."""
        if self.mode == "token":
            return self.access_token, _host(self.instance_url)
        if self.mode == "jwt":
            return SalesforceLogin(
                session=session,
                username=self.username,
                consumer_key=self.consumer_key,
                privatekey=self.private_key or None,
                privatekey_file=self.private_key_file or None,
                domain=self.domain,
            )
        if self.mode == "client_credentials":
            return SalesforceLogin(
                session=session, consumer_key=self.consumer_key, consumer_secret=self.consumer_secret, domain=self.domain
            )
        warnings.warn(
            "Salesforce username/password login is retired in Summer '27 (SOAP login() is gone from API 65.0); "
            "switch to JWT bearer or client credentials",
            DeprecationWarning,
            stacklevel=3,
        )
        if self.consumer_key and self.consumer_secret:
            return SalesforceLogin(
                session=session,
                username=self.username,
                password=self.password,
                consumer_key=self.consumer_key,
                consumer_secret=self.consumer_secret,
                domain=self.domain,
            )
        return SalesforceLogin(
            session=session,
            username=self.username,
            password=self.password,
            security_token=self.security_token,
            sf_version=version,
            domain=self.domain,
        )


def _host(url: str) -> str:
    return re.sub(r"^https?://", "", url).rstrip("/")


def error_code(response: requests.Response) -> tuple[str, str]:
    """The first (errorCode, message) of a Salesforce error array, or of an OAuth error object."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
    if isinstance(body, dict):
        return str(body.get("error", "")), str(body.get("error_description", ""))
    return "", ""


def quota_delay(used: int, total: int, threshold: float, calls_per_ticket: int = CALLS_PER_TICKET) -> float:
    """Seconds to wait between tickets so what is left of the daily quota lasts a rolling day.

    Below `threshold` (a share of the quota) no wait; above it the pace shrinks as the headroom does.
    """
    if total <= 0 or used < threshold * total:
        return 0.0
    remaining = max(1, total - used)
    return min(3600.0, calls_per_ticket * ROLLING_WINDOW_SECONDS / remaining)


class SalesforceHelpdesk:
    name = "salesforce"

    def __init__(
        self,
        credentials: Credentials,
        *,
        version: str = "59.0",
        queues: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
        assignees: dict[str, str] | None = None,
        priorities: dict[str, str] | None = None,
        email_origins: tuple[str, ...] = ("Email",),
        assignment_rules: bool = False,
        limit_retry_seconds: float = 900.0,
        usage_threshold: float = 0.8,
        session: requests.Session | None = None,
        pace: SharedPace | None = None,
    ) -> None:
        self.credentials = credentials
        self.version = version
        self.queues = dict(queues or {})
        self.fields = dict(fields or {})
        self.assignees = dict(assignees or {})
        self.priorities = dict(priorities or {})
        self.email_origins = tuple(email_origins)
        self.assignment_rules = assignment_rules
        self.limit_retry_seconds = limit_retry_seconds
        self.usage_threshold = usage_threshold
        self.http = session or requests.Session()
        # No retries inside the HTTP client: every retry is a Celery retry the delivery table can see.
        self.http.mount("https://", HTTPAdapter(max_retries=0))
        self.http.hooks["response"].append(self._on_response)
        self._sf: Salesforce | None = None
        self._describe: dict[str, Any] | None = None
        self._queue_ids: dict[str, str] | None = None
        self._feed_in_thread = True
        self.api_usage: tuple[int, int] | None = None
        # When the next ticket may start: shared by every worker of the org through Redis when given one.
        self.pace = pace or SharedPace(None, f"salesforce:{credentials.org_key}")
        self.warnings: list[str] = []

    @classmethod
    def from_settings(cls, settings: Any, mapping: dict[str, Any] | None = None, redis: Any = None) -> "SalesforceHelpdesk":
        """`mapping` is the `[helpdesk.salesforce]` policy table: queues, fields, assignees, priorities, ...

        `redis` (a redis-py client) shares the org's quota pacing and limit pauses across every worker.
        """
        mapping = mapping or {}
        credentials = Credentials.from_settings(settings)
        org = settings.SALESFORCE_ORG_ID or credentials.org_key
        return cls(
            credentials,
            version=settings.SALESFORCE_API_VERSION,
            queues=mapping.get("queues"),
            fields=mapping.get("fields"),
            assignees=mapping.get("assignees"),
            priorities=mapping.get("priorities"),
            email_origins=tuple(mapping.get("email_origins", ("Email",))),
            assignment_rules=bool(mapping.get("assignment_rules", False)),
            limit_retry_seconds=settings.SALESFORCE_LIMIT_RETRY_SECONDS,
            usage_threshold=settings.SALESFORCE_API_USAGE_SLOWDOWN,
            pace=SharedPace(redis, f"salesforce:{org}"),
        )

    # -- the one HTTP seam --------------------------------------------------------------------------------
    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        limit_info = response.headers.get("Sforce-Limit-Info")
        if limit_info:
            usage = Salesforce.parse_api_usage(limit_info).get("api-usage")
            if usage is not None:
                self.api_usage = (usage.used, usage.total)
        if response.status_code < 300:
            return response
        code, message = error_code(response)
        base = error_for_response(response, "salesforce")
        detail = f"salesforce {code or response.status_code}: {message}" if code else str(base)
        if code == "REQUEST_LIMIT_EXCEEDED":
            self.pace.block(self.limit_retry_seconds)  # every worker of the org waits, not only this one
            raise IntegrationError(
                detail, retry_after=self.limit_retry_seconds, reason="request_limit_exceeded", status=response.status_code
            )
        if code == "INVALID_SESSION_ID" or (response.status_code == 401 and "/oauth2/" not in response.url):
            raise IntegrationError(detail, permanent=True, reason="invalid_session", status=response.status_code)
        if code in TRANSIENT_ERROR_CODES:
            raise IntegrationError(detail, reason=code.lower(), status=response.status_code)
        if response.status_code == 412:
            raise IntegrationError(detail, conflict=True, reason="conflict", status=412)
        raise IntegrationError(
            detail, permanent=base.permanent, retry_after=base.retry_after, conflict=base.conflict,
            reason=code.lower() or base.reason, status=response.status_code,
        )

    def _login(self) -> Salesforce:
        try:
            token, instance = self.credentials.login(self.http, self.version)
        except IntegrationError as exc:
            raise IntegrationError(
                f"Salesforce login ({self.credentials.mode}) failed: {exc}", permanent=exc.permanent or exc.status in (400, 401),
                retry_after=exc.retry_after, reason="auth_failed", status=exc.status,
            ) from exc
        except SalesforceAuthenticationFailed as exc:
            raise IntegrationError(f"Salesforce login ({self.credentials.mode}) failed: {exc}", permanent=True, reason="auth_failed") from exc
        except requests.RequestException as exc:
            raise error_for_exception(exc, "salesforce") from exc
        instance_url = self.credentials.instance_url if self.credentials.mode == "token" else f"https://{instance}"
        self._sf = Salesforce(
            session_id=token, instance_url=instance_url, version=self.version, session=self.http, object_pairs_hook=dict
        )
        return self._sf

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run one SDK call; on INVALID_SESSION_ID log in again once and repeat it, never more."""
        sf = self._sf or self._login()
        try:
            return operation(sf)
        except IntegrationError as exc:
            if exc.reason != "invalid_session" or not self.credentials.refreshable:
                raise
            log.info("salesforce.reauth", status=exc.status)
        except requests.RequestException as exc:
            raise error_for_exception(exc, "salesforce") from exc
        sf = self._login()
        try:
            return operation(sf)
        except requests.RequestException as exc:
            raise error_for_exception(exc, "salesforce") from exc

    # -- org metadata (cached for the life of the worker) ------------------------------------------------
    def describe_case(self) -> dict[str, Any]:
        if self._describe is None:
            self._describe = self.call(lambda sf: sf.Case.describe())
        return self._describe

    def case_fields(self) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.describe_case().get("fields", [])}

    def picklist(self, field_name: str) -> list[str]:
        field = self.case_fields().get(field_name, {})
        return [v["value"] for v in field.get("picklistValues") or [] if v.get("active", True)]

    def queue_ids(self) -> dict[str, str]:
        """DeveloperName -> Group Id for every configured queue, in one SOQL query."""
        if self._queue_ids is None:
            names = sorted(set(self.queues.values()))
            if not names:
                self._queue_ids = {}
            else:
                soql = format_soql("SELECT Id, DeveloperName FROM Group WHERE Type = 'Queue' AND DeveloperName IN {}", names)
                records = self.call(lambda sf: sf.query_all(soql))["records"]
                self._queue_ids = {r["DeveloperName"]: r["Id"] for r in records}
        return self._queue_ids

    def problems(self) -> list[str]:
        """Configured names the org does not have: what `triage doctor` prints and apply() skips."""
        fields = self.case_fields()
        found: list[str] = []
        for key, api_name in self.fields.items():
            if api_name not in fields:
                found.append(f"Case field {api_name} (for '{key}') does not exist: create it, or fix [helpdesk.salesforce].fields")
            elif not fields[api_name].get("updateable", True):
                found.append(f"Case field {api_name} (for '{key}') is not editable by the API user: check field-level security")
        queue_ids = self.queue_ids()
        for queue, developer_name in self.queues.items():
            if developer_name not in queue_ids:
                found.append(f"Queue {developer_name} (for '{queue}') not found: create it in Setup > Queues, or fix [helpdesk.salesforce].queues")
        return found

    # -- reading ------------------------------------------------------------------------------------------
    def fetch(self, ticket_id: str) -> Ticket:
        self._pace()
        if not re.fullmatch(r"[A-Za-z0-9]{15}|[A-Za-z0-9]{18}", ticket_id or ""):
            raise IntegrationError(f"bad Case id {ticket_id!r}", permanent=True, reason="bad_ticket_id")
        case = self.call(lambda sf: sf.Case.get(ticket_id))
        thread = self._thread(ticket_id, with_email=case.get("Origin") in self.email_origins)
        owner = case.get("OwnerId") or ""
        priority = case.get("Priority")
        return Ticket(
            provider=self.name,
            id=case["Id"],
            subject=case.get("Subject") or "",
            comments=self._comments(case, thread),
            requester_name=case.get("SuppliedName") or "",
            requester_locale="",
            status=(case.get("Status") or "New").lower(),
            priority=self._neutral_priority(priority),
            group=owner if owner.startswith("00G") else None,
            assignee=owner if owner.startswith("005") else None,
            fields={api: case.get(api) for api in self.fields.values() if api in case},
            updated_stamp=case.get("LastModifiedDate") or "",
            url=f"https://{self._sf.sf_instance}/lightning/r/Case/{case['Id']}/view" if self._sf else "",
        )

    def _thread(self, case_id: str, *, with_email: bool) -> dict[str, Any]:
        parts = [
            "(SELECT Id, CommentBody, IsPublished, CreatedDate, CreatedById, CreatedBy.Name, CreatedBy.UserType "
            "FROM CaseComments ORDER BY CreatedDate)"
        ]
        if with_email:
            parts.append(
                "(SELECT Id, TextBody, Subject, Incoming, FromName, FromAddress, MessageDate FROM EmailMessages ORDER BY MessageDate)"
            )
        if self._feed_in_thread:
            parts.append("(SELECT Id, Body, CreatedDate, CreatedById, CreatedBy.Name FROM Feeds WHERE Type = 'TextPost' ORDER BY CreatedDate)")
        soql = format_soql(f"SELECT Id, {', '.join(parts)} FROM Case WHERE Id = {{}}", case_id)
        try:
            records = self.call(lambda sf: sf.query(soql))["records"]
        except IntegrationError as exc:
            # Orgs without Chatter feed tracking on Case reject the Feeds relationship: read without it.
            if not self._feed_in_thread or exc.status != 400:
                raise
            log.warning("salesforce.no_case_feed", error=str(exc)[:200])
            self._feed_in_thread = False
            return self._thread(case_id, with_email=with_email)
        return records[0] if records else {}

    def _comments(self, case: dict[str, Any], thread: dict[str, Any]) -> tuple[Comment, ...]:
        items: list[tuple[str, Comment]] = []
        emails = _records(thread.get("EmailMessages"))
        for email in emails:
            body = email.get("TextBody") or ""
            role = "bot" if is_bot_note(body) else ("customer" if email.get("Incoming") else "agent")
            items.append((email.get("MessageDate") or "", Comment(
                id=email["Id"], author_role=role, body=body, public=True,
                author_name=email.get("FromName") or email.get("FromAddress") or "", created_at=email.get("MessageDate") or "",
            )))
        if not any(email.get("Incoming") for email in emails) and case.get("Description"):
            # Web-to-Case and manual cases: the first customer message is the Case description.
            items.append((case.get("CreatedDate") or "", Comment(
                id=f"{case['Id']}:description", author_role="customer", body=case["Description"], public=True,
                author_name=case.get("SuppliedName") or "", created_at=case.get("CreatedDate") or "",
            )))
        for comment in _records(thread.get("CaseComments")):
            body = comment.get("CommentBody") or ""
            author = comment.get("CreatedBy") or {}
            if is_bot_note(body):
                role = "bot"
            elif author.get("UserType") in CUSTOMER_USER_TYPES:
                role = "customer"
            else:
                role = "agent"
            items.append((comment.get("CreatedDate") or "", Comment(
                id=comment["Id"], author_role=role, body=body, public=bool(comment.get("IsPublished")),
                author_name=author.get("Name") or "", created_at=comment.get("CreatedDate") or "",
            )))
        for post in _records(thread.get("Feeds")):
            body = _strip_html(post.get("Body") or "")
            items.append((post.get("CreatedDate") or "", Comment(
                id=post["Id"], author_role="bot" if is_bot_note(body) else "agent", body=body, public=False,
                author_name=(post.get("CreatedBy") or {}).get("Name") or "", created_at=post.get("CreatedDate") or "",
            )))
        # ISO timestamps from one org sort as text; the sort is stable, so same-second items keep their order.
        return tuple(comment for _, comment in sorted(items, key=lambda item: item[0]))

    def _neutral_priority(self, value: str | None) -> str | None:
        if not value:
            return None
        for neutral in ("high", "normal", "low", "urgent"):
            if value == self.priorities.get(neutral) or value in PRIORITY_CANDIDATES[neutral][:1]:
                return neutral
        return value.lower()

    # -- writing ------------------------------------------------------------------------------------------
    def org_priority(self, priority: str) -> str | None:
        """The org's picklist value for a neutral priority, or None when the org has no fitting value."""
        values = self.picklist("Priority")
        wanted = self.priorities.get(priority)
        candidates = (wanted,) if wanted else PRIORITY_CANDIDATES.get(priority, (priority,))
        lowered = {v.lower(): v for v in values}
        for candidate in candidates:
            if candidate and candidate.lower() in lowered:
                return lowered[candidate.lower()]
        self._warn(f"Priority picklist has no value for '{priority}' (tried {', '.join(c for c in candidates if c)}); "
                   "set [helpdesk.salesforce].priorities")
        return None

    def update_payload(self, decision: Decision) -> tuple[dict[str, Any], dict[str, str]]:
        """The Case PATCH body and its headers. Unknown fields, queues and values are skipped and warned."""
        body: dict[str, Any] = {}
        priority = self.org_priority(decision.priority)
        if priority:
            body["Priority"] = priority
        owner = None
        if decision.assignee and decision.assignee in self.assignees:
            owner = self.assignees[decision.assignee]
        elif decision.queue in self.queues:
            developer_name = self.queues[decision.queue]
            owner = self.queue_ids().get(developer_name)
            if owner is None:
                self._warn(f"Queue {developer_name} (for '{decision.queue}') not found; owner left unchanged")
        if owner:
            body["OwnerId"] = owner
        fields = self.case_fields()
        for key, value in decision.fields.items():
            api_name = self.fields.get(key)
            if not api_name:
                continue
            field = fields.get(api_name)
            if field is None:
                self._warn(f"Case field {api_name} (for '{key}') does not exist; skipped")
                continue
            coerced = _coerce(field, value)
            if coerced is _SKIP:
                self._warn(f"Case field {api_name}: {value!r} is not an active picklist value; skipped")
                continue
            body[api_name] = coerced
        # Absent, the header means TRUE on REST: assignment rules would re-route the Case we just routed.
        headers = {} if (self.assignment_rules and not owner) else {"Sforce-Auto-Assign": "FALSE"}
        return body, headers

    def apply(self, ticket: Ticket, decision: Decision, marker: str) -> None:
        body, headers = self.update_payload(decision)
        current = self.call(lambda sf: sf.Case.get(ticket.id, params={"fields": "LastModifiedDate"}))
        if ticket.updated_stamp and current.get("LastModifiedDate") != ticket.updated_stamp:
            raise IntegrationError(
                f"Case {ticket.id} changed since it was read ({ticket.updated_stamp} -> {current.get('LastModifiedDate')})",
                conflict=True, reason="conflict", status=409,
            )
        if body:
            self.call(lambda sf: sf.Case.update(ticket.id, body, headers=headers))
        self.add_note(ticket.id, f"{decision.internal_note}\n\n{marker}")

    def add_note(self, case_id: str, note: str) -> str:
        """A private CaseComment when it fits in 4,000 bytes, else an internal-only Chatter post."""
        if len(note.encode()) <= CASE_COMMENT_MAX_BYTES:
            result = self.call(lambda sf: sf.CaseComment.create({"ParentId": case_id, "CommentBody": note, "IsPublished": False}))
        else:
            marker_line = note.rsplit("\n", 1)[-1]
            if len(note) > FEED_ITEM_MAX_CHARS:  # keep the marker: it is what makes a redelivery a no-op
                note = note[: FEED_ITEM_MAX_CHARS - len(marker_line) - 3] + "…\n" + marker_line
            result = self.call(lambda sf: sf.FeedItem.create(
                {"ParentId": case_id, "Body": note, "Type": "TextPost", "Visibility": "InternalUsers", "IsRichText": False}
            ))
        return str(result.get("id", ""))

    # -- limits -------------------------------------------------------------------------------------------
    def _pace(self) -> None:
        """Space tickets out through Celery's countdown: above the daily-quota threshold, and after the org
        answered REQUEST_LIMIT_EXCEEDED (to any worker). No HTTP call is made for a ticket that must wait."""
        delay = quota_delay(*self.api_usage, self.usage_threshold) if self.api_usage else 0.0
        wait = self.pace.reserve(delay)
        if wait is None:
            return
        usage = f"API usage {self.api_usage[0]}/{self.api_usage[1]}" if self.api_usage else "API limit reached"
        raise IntegrationError(
            f"Salesforce {usage}: the org's next ticket may start in {wait:.0f} s (pace shared by all workers)",
            retry_after=round(max(wait, 0.1), 1), reason="api_quota_slowdown",
        )

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("salesforce.config", problem=message)


_SKIP = object()


def _coerce(field: dict[str, Any], value: object) -> object:
    kind = field.get("type")
    if kind in ("double", "percent", "currency", "int"):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _SKIP
        return round(number, int(field.get("scale") or 0)) if kind != "int" else int(number)
    if kind == "boolean":
        return bool(value)
    if kind == "picklist" and field.get("restrictedPicklist"):
        values = {v["value"].lower(): v["value"] for v in field.get("picklistValues") or [] if v.get("active", True)}
        return values.get(str(value).lower(), _SKIP)
    text = "" if value is None else str(value)
    length = field.get("length") or 0
    return text[:length] if length else text


def _records(relationship: Any) -> list[dict[str, Any]]:
    return list((relationship or {}).get("records") or []) if isinstance(relationship, dict) else []


def _strip_html(text: str) -> str:
    return re.sub(r"<[^>]+>", " ", text).replace("&nbsp;", " ").strip() if "<" in text else text
