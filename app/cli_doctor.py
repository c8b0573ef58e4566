"""`triage doctor`: check the configured helpdesk account and print what to fix, one line per problem."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from app.config import Settings

LOWEST_SUPPORTED_API = 59.0
QUOTA_WARNING = 0.8


@dataclass(frozen=True)
class Check:
    ok: bool
    name: str
    detail: str
    fix: str = ""


def add_commands(subparsers: Any) -> None:
    doctor = subparsers.add_parser("doctor", help="check the Salesforce org (and Zendesk account) and print what to fix")
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(_args: argparse.Namespace, settings: Settings) -> int:
    checks: list[Check] = []
    salesforce_configured = settings.helpdesk_name == "salesforce" or any(
        (settings.SALESFORCE_CONSUMER_KEY, settings.SALESFORCE_USERNAME, settings.SALESFORCE_ACCESS_TOKEN)
    )
    if salesforce_configured:
        checks += salesforce_checks(settings, _policy_mapping(settings, "salesforce"))
    if settings.ZENDESK_SUBDOMAIN or settings.ZENDESK_BASE_URL:
        checks += zendesk_checks(settings)
    if not checks:
        print("No helpdesk configured: set SALESFORCE_* or ZENDESK_* (see .env.example); the sandbox needs no checks.")
        return 0
    for check in checks:
        print(f"[{'ok' if check.ok else 'FIX'}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"      -> {check.fix}")
    failed = sum(not c.ok for c in checks)
    print(f"\n{len(checks) - failed} ok, {failed} to fix")
    return 1 if failed else 0


def _policy_mapping(settings: Settings, provider: str) -> dict[str, Any]:
    try:
        from app import triage

        policy = triage.load_policy(settings.TRIAGE_POLICY_FILE or None)
    except Exception as exc:  # the doctor reports; it does not need the whole engine to run
        print(f"(policy not loaded: {type(exc).__name__}: {exc}; queue and field checks use no mapping)")
        return {}
    return dict((getattr(policy, "helpdesk", {}) or {}).get(provider, {}))


def salesforce_checks(settings: Settings, mapping: dict[str, Any]) -> list[Check]:
    from app.ports import IntegrationError
    from integrations.salesforce import SalesforceHelpdesk

    checks: list[Check] = []
    if not settings.SALESFORCE_ORG_ID:
        checks.append(Check(False, "Salesforce org id", "SALESFORCE_ORG_ID is not set; Outbound Messages are refused",
                            "copy the Organization ID from Setup > Company Information"))
    try:
        helpdesk = SalesforceHelpdesk.from_settings(settings, mapping)
        sf = helpdesk.call(lambda sf: sf)
    except IntegrationError as exc:
        return [*checks, Check(False, "Salesforce auth", str(exc), "see docs/salesforce.md > Connected app")]
    checks.append(Check(True, "Salesforce auth", f"{helpdesk.credentials.mode} login to {sf.sf_instance}"))
    if helpdesk.credentials.mode == "password":
        checks.append(Check(False, "Salesforce auth method", "username/password login is retired in Summer '27",
                            "switch to JWT bearer (SALESFORCE_PRIVATE_KEY) or client credentials"))
    try:
        _salesforce_org_checks(helpdesk, settings, mapping, checks)
    except IntegrationError as exc:
        checks.append(Check(False, "Salesforce API", str(exc)[:300], "check the API user's profile: API Enabled, Case read/edit"))
    return checks


def _salesforce_org_checks(helpdesk: Any, settings: Settings, mapping: dict[str, Any], checks: list[Check]) -> None:
    """Appends as it goes, so the checks that passed are still printed when a later call fails."""
    versions = helpdesk.call(lambda sf: sf.session.get(f"https://{sf.sf_instance}/services/data/", headers=sf.headers).json())
    newest = max((float(v["version"]) for v in versions), default=0.0)
    configured = float(settings.SALESFORCE_API_VERSION)
    if configured > newest:
        checks.append(Check(False, "API version", f"SALESFORCE_API_VERSION={configured} but the org serves up to {newest}",
                            f"set SALESFORCE_API_VERSION={newest}"))
        return  # every later call would hit a version the org does not serve
    elif configured < LOWEST_SUPPORTED_API:
        checks.append(Check(False, "API version", f"{configured} is older than this worker is tested with",
                            f"set SALESFORCE_API_VERSION between {LOWEST_SUPPORTED_API} and {newest}"))
    else:
        checks.append(Check(True, "API version", f"using {configured}; org serves up to {newest}"))

    helpdesk.describe_case()
    priorities = helpdesk.picklist("Priority")
    unmapped = [p for p in ("urgent", "high", "normal", "low") if helpdesk.org_priority(p) is None]
    checks.append(Check(not unmapped, "Case Priority picklist", f"values {priorities}",
                        f"add [helpdesk.salesforce].priorities for {unmapped}" if unmapped else ""))
    problems = helpdesk.problems()
    field_problems = [p for p in problems if p.startswith("Case field")]
    queue_problems = [p for p in problems if p.startswith("Queue")]
    fields = mapping.get("fields") or {}
    checks.append(Check(not field_problems, "custom fields",
                        "; ".join(field_problems) or (f"{len(fields)} found: {', '.join(fields.values())}" if fields else "none configured"),
                        "create them in Setup > Object Manager > Case > Fields & Relationships" if field_problems else ""))
    queues = mapping.get("queues") or {}
    checks.append(Check(not queue_problems, "queues",
                        "; ".join(queue_problems) or (f"{len(queues)} found" if queues else "none configured (owner is never changed)"),
                        "create them in Setup > Queues with Case as a supported object" if queue_problems else ""))
    if queues and not queue_problems:
        checks += _queues_accept_cases(helpdesk, sorted(set(queues.values())))

    limits = helpdesk.call(lambda sf: sf.limits())
    daily = limits.get("DailyApiRequests", {})
    maximum, remaining = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
    used = maximum - remaining
    high = maximum and used >= QUOTA_WARNING * maximum
    checks.append(Check(not high, "daily API calls", f"{remaining:,} of {maximum:,} left (rolling 24 h)",
                        "the worker slows down above "
                        f"{settings.SALESFORCE_API_USAGE_SLOWDOWN:.0%}; find the other heavy API users in Setup > System Overview"
                        if high else ""))


def _queues_accept_cases(helpdesk: Any, developer_names: list[str]) -> list[Check]:
    from simple_salesforce import format_soql

    soql = format_soql(
        "SELECT Queue.DeveloperName FROM QueueSobject WHERE SobjectType = 'Case' AND Queue.DeveloperName IN {}", developer_names
    )
    records = helpdesk.call(lambda sf: sf.query_all(soql))["records"]
    accepting = {(r.get("Queue") or {}).get("DeveloperName") for r in records}
    missing = [name for name in developer_names if name not in accepting]
    return [Check(not missing, "queues accept Cases", f"not for Case: {missing}" if missing else "all configured queues take Cases",
                  "Setup > Queues > Edit > Supported Objects: add Case" if missing else "")]


def zendesk_checks(settings: Settings) -> list[Check]:
    import requests

    base = settings.ZENDESK_BASE_URL.rstrip("/") or f"https://{settings.ZENDESK_SUBDOMAIN}.zendesk.com"
    checks = [Check(bool(settings.ZENDESK_WEBHOOK_SECRET), "Zendesk webhook secret",
                    "set" if settings.ZENDESK_WEBHOOK_SECRET else "ZENDESK_WEBHOOK_SECRET is not set",
                    "copy the signing secret from Admin Center > Apps and integrations > Webhooks")]
    if settings.ZENDESK_OAUTH_TOKEN:
        auth: dict[str, Any] = {"headers": {"Authorization": f"Bearer {settings.ZENDESK_OAUTH_TOKEN}"}}
    else:
        auth = {"auth": (f"{settings.ZENDESK_EMAIL}/token", settings.ZENDESK_API_TOKEN)}
    try:
        response = requests.get(f"{base}/api/v2/users/me.json", timeout=15, **auth)
    except requests.RequestException as exc:
        return [*checks, Check(False, "Zendesk API", f"{base} unreachable: {type(exc).__name__}", "check ZENDESK_SUBDOMAIN")]
    if response.status_code != 200:
        return [*checks, Check(False, "Zendesk auth", f"{response.status_code} from /users/me", "check ZENDESK_EMAIL and ZENDESK_API_TOKEN")]
    user = response.json().get("user", {})
    role_ok = user.get("role") in ("admin", "agent")
    checks.append(Check(role_ok, "Zendesk auth", f"as {user.get('email')} ({user.get('role')})",
                        "" if role_ok else "the API user must be an agent or admin (anonymous means the token was refused)"))
    limit = response.headers.get("X-Rate-Limit")
    if limit:
        checks.append(Check(True, "Zendesk rate limit", f"{limit} requests/minute (ZENDESK_RATE_LIMIT_PER_MINUTE={settings.ZENDESK_RATE_LIMIT_PER_MINUTE})"))
    return checks
