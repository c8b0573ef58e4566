"""Salesforce test helpers: fixtures by name, an app configured for one org, a mocked org over `responses`."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import responses

from app.config import Settings
from integrations.salesforce import Credentials, SalesforceHelpdesk
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "salesforce"
ORG_ID = "00D8c000002JHMDEA4"
CASE_ID = "500Ri00000PThftIAD"
INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v59.0"
WEBHOOK_SECRET = "sf-callout-secret-for-tests"
# HELPDESK=salesforce needs a login to boot; a ready token is the smallest one.
LOGIN = {"HELPDESK": "salesforce", "SALESFORCE_ACCESS_TOKEN": "00D8c000002JHMD!AQ0AQOld.Token", "SALESFORCE_INSTANCE_URL": INSTANCE}
MAPPING: dict[str, Any] = {
    "queues": {"billing": "Billing_Queue", "tier2": "Tier2", "legal": "Legal_Queue"},
    "fields": {"intent": "AI_Intent__c", "sentiment": "AI_Sentiment__c", "confidence": "AI_Confidence__c", "language": "AI_Language__c"},
}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rest(name: str) -> Any:
    return json.loads(fixture_bytes(f"rest/{name}"))


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    """Overrides the shared `settings`, so the shared `app` and `client` serve one Salesforce org."""
    return make_settings(
        var_dir,
        **LOGIN,
        SALESFORCE_ORG_ID=ORG_ID,
        SALESFORCE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SALESFORCE_API_USER_ID="0055e000009BoTxAAC",
    )


def token_helpdesk(**kwargs: Any) -> SalesforceHelpdesk:
    credentials = Credentials("token", access_token="00D8c000002JHMD!AQ0AQOld.Token", instance_url=INSTANCE)
    return SalesforceHelpdesk(credentials, queues=MAPPING["queues"], fields=MAPPING["fields"], **kwargs)


def client_credentials_helpdesk(**kwargs: Any) -> SalesforceHelpdesk:
    credentials = Credentials("client_credentials", domain="acme.my", consumer_key="3MVG9key", consumer_secret="shh")
    return SalesforceHelpdesk(credentials, queues=MAPPING["queues"], fields=MAPPING["fields"], **kwargs)


class MockOrg:
    """A Salesforce org behind `responses`: the Case, its thread, describe, queues, writes, limit header."""

    def __init__(self, mock: responses.RequestsMock, *, usage: str = "api-usage=1200/100000") -> None:
        self.mock = mock
        self.case = rest("case__email.json")
        self.headers = {"Sforce-Limit-Info": usage}
        mock.add_callback(responses.GET, re.compile(rf"{API}/sobjects/Case/{CASE_ID}(\?.*)?$"), self._get_case)
        mock.add_callback(responses.PATCH, f"{API}/sobjects/Case/{CASE_ID}", self._patch_case)
        mock.add(responses.GET, f"{API}/sobjects/Case/describe", json=rest("case__describe.json"), headers=self.headers)
        mock.add_callback(responses.GET, re.compile(rf"{API}/query/?\?q=.*"), self._query)
        self.notes: list[dict[str, Any]] = []
        mock.add_callback(responses.POST, f"{API}/sobjects/CaseComment/", self._create_comment)
        mock.add(responses.POST, f"{API}/sobjects/FeedItem/", json=rest("feeditem__create.json"), status=201, headers=self.headers)

    def _get_case(self, request):  # noqa: ANN001, ANN202
        if "fields=LastModifiedDate" in request.url:
            body = {"attributes": self.case["attributes"], "LastModifiedDate": self.case["LastModifiedDate"], "Id": CASE_ID}
            return 200, self.headers, json.dumps(body)
        return 200, self.headers, json.dumps(self.case)

    def _patch_case(self, request):  # noqa: ANN001, ANN202
        self.case.update(json.loads(request.body))
        self.case["LastModifiedDate"] = "2024-05-03T09:00:00.000+0000"
        return 204, self.headers, ""

    def _create_comment(self, request):  # noqa: ANN001, ANN202
        body = json.loads(request.body)
        self.notes.append({
            "attributes": {"type": "CaseComment"}, "Id": f"00aRi000003New{len(self.notes):04d}", "CommentBody": body["CommentBody"],
            "IsPublished": body["IsPublished"], "CreatedDate": "2024-05-03T09:00:01.000+0000", "CreatedById": "0055e000009BoTxAAC",
            "CreatedBy": {"attributes": {"type": "User"}, "Name": "Triage Integration", "UserType": "Standard"},
        })
        return 201, self.headers, json.dumps(rest("casecomment__create.json"))

    def _query(self, request):  # noqa: ANN001, ANN202
        if "FROM+Group" in request.url or "FROM%20Group" in request.url:
            return 200, self.headers, json.dumps(rest("query__queues.json"))
        thread = rest("query__thread.json")
        thread["records"][0]["CaseComments"]["records"] += self.notes
        for relationship in ("EmailMessages", "Feeds"):
            if relationship not in request.url:  # like SOQL: only the subqueries asked for come back
                thread["records"][0].pop(relationship)
        return 200, self.headers, json.dumps(thread)

    def calls(self, method: str, fragment: str) -> list:
        return [c for c in self.mock.calls if c.request.method == method and fragment in c.request.url]


@pytest.fixture
def org():  # noqa: ANN201
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield MockOrg(mock)
