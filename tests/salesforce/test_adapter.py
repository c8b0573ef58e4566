"""SalesforceHelpdesk against a mocked org: real REST shapes through `responses`, nothing else mocked."""
from __future__ import annotations

import json
import re
import warnings

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import load_settings
from app.ports import Helpdesk, IntegrationError
from app.triage.decision import Decision
from integrations.salesforce import Credentials, SalesforceHelpdesk, quota_delay
from tests.salesforce.conftest import (
    API,
    CASE_ID,
    INSTANCE,
    MAPPING,
    MockOrg,
    client_credentials_helpdesk,
    rest,
    token_helpdesk,
)

MARKER = "[ai-triage delivery=42]"


def make_decision(**overrides) -> Decision:  # noqa: ANN003
    values = dict(
        intent="refund", confidence=0.91, language="en", sentiment="negative", emotion_score=0.7, priority="high",
        queue="billing", escalate=True, reasons=("angry_customer",), tags=("intent_refund",),
        internal_note="Intent: refund (0.91). Customer asked three times. Suggest: confirm refund date.",
        fields={"intent": "refund", "sentiment": "negative", "confidence": 0.9137, "language": "en"},
    )
    values.update(overrides)
    return Decision(**values)


def test_adapter_implements_the_port() -> None:
    assert isinstance(token_helpdesk(), Helpdesk)


def test_fetch_builds_the_thread_with_roles(org: MockOrg) -> None:
    ticket = token_helpdesk().fetch(CASE_ID)
    assert (ticket.provider, ticket.id, ticket.subject) == ("salesforce", CASE_ID, "Refund not received")
    assert ticket.priority == "normal" and ticket.status == "new" and ticket.group == "00G5e000001AbCdEAF"
    assert ticket.updated_stamp == "2024-05-02T09:14:05.000+0000"
    assert ticket.requester_name == "Jo Example"
    roles = [(c.author_role, c.id) for c in ticket.comments]
    assert roles == [
        ("customer", "02sRi000001XyZaIAK"),  # incoming email (the Description is not repeated)
        ("bot", "0D5Ri00000AbCdEKAV"),  # our earlier Chatter note, recognised by its marker
        ("agent", "02sRi000001XyZbIAK"),  # outgoing email
        ("agent", "00aRi000002TyQpIAK"),  # private CaseComment by a standard user
        ("customer", "00aRi000002TyQqIAK"),  # CaseComment by a portal user
    ]
    assert ticket.latest_customer_text.startswith("Any news?")
    assert "<p>" not in ticket.comments[1].body
    [thread_query] = org.calls("GET", "/query/")
    assert "EmailMessages" in thread_query.request.url  # Origin=Email


def test_web_case_uses_description_and_skips_email_query(org: MockOrg) -> None:
    org.case["Origin"] = "Web"
    ticket = token_helpdesk().fetch(CASE_ID)
    assert ticket.comments[0].id.endswith(":description") and ticket.comments[0].author_role == "customer"
    assert "EmailMessages" not in org.calls("GET", "/query/")[0].request.url


def test_org_without_case_feed_is_read_without_it() -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("case__email.json"))
        invalid = [{"message": "Didn't understand relationship 'Feeds' in FROM part of query call.", "errorCode": "INVALID_TYPE"}]
        mock.add(responses.GET, re.compile(rf"{API}/query/.*Feeds.*"), json=invalid, status=400)
        mock.add(responses.GET, re.compile(rf"{API}/query/.*"), json=rest("query__thread.json"))
        helpdesk = token_helpdesk()
        ticket = helpdesk.fetch(CASE_ID)
    assert helpdesk._feed_in_thread is False and len(ticket.comments) >= 4


def test_apply_writes_one_patch_and_a_private_case_comment(org: MockOrg) -> None:
    helpdesk = token_helpdesk()
    ticket = helpdesk.fetch(CASE_ID)
    helpdesk.apply(ticket, make_decision(), MARKER)
    [patch] = org.calls("PATCH", "/sobjects/Case/")
    assert patch.request.headers["Sforce-Auto-Assign"] == "FALSE"
    assert json.loads(patch.request.body) == {
        "Priority": "High",
        "OwnerId": "00G5e000002BiLlEAK",  # Billing_Queue looked up by DeveloperName
        "AI_Intent__c": "refund",
        "AI_Sentiment__c": "negative",
        "AI_Confidence__c": 0.91,  # scale 2 from describe()
    }  # AI_Language__c does not exist in this org: skipped, reported
    assert any("AI_Language__c" in w for w in helpdesk.warnings)
    [comment] = org.calls("POST", "/sobjects/CaseComment/")
    body = json.loads(comment.request.body)
    assert body["ParentId"] == CASE_ID and body["IsPublished"] is False and body["CommentBody"].endswith(MARKER)


def test_metadata_is_cached_across_tickets(org: MockOrg) -> None:
    helpdesk = token_helpdesk()
    for _ in range(3):
        helpdesk.apply(helpdesk.fetch(CASE_ID), make_decision(), MARKER)
    assert len(org.calls("GET", "/describe")) == 1
    assert len([c for c in org.calls("GET", "/query/") if "Group" in c.request.url]) == 1


def test_urgent_maps_to_the_org_picklist_and_unknown_queue_leaves_owner(org: MockOrg) -> None:
    helpdesk = token_helpdesk()
    helpdesk.apply(helpdesk.fetch(CASE_ID), make_decision(priority="urgent", queue="legal", fields={}), MARKER)
    patch = json.loads(org.calls("PATCH", "/sobjects/Case/")[0].request.body)
    assert patch == {"Priority": "High"}  # no Urgent value in this org; Legal_Queue does not exist
    assert any("Legal_Queue" in w for w in helpdesk.warnings)
    # No owner set: assignment rules still stay off unless the policy asks for them.
    assert org.calls("PATCH", "/sobjects/Case/")[0].request.headers["Sforce-Auto-Assign"] == "FALSE"


def test_restricted_picklist_value_not_in_org_is_skipped(org: MockOrg) -> None:
    helpdesk = token_helpdesk()
    helpdesk.apply(helpdesk.fetch(CASE_ID), make_decision(fields={"intent": "brand_new_intent"}), MARKER)
    assert "AI_Intent__c" not in json.loads(org.calls("PATCH", "/sobjects/Case/")[0].request.body)


def test_long_note_becomes_internal_feed_item(org: MockOrg) -> None:
    helpdesk = token_helpdesk()
    helpdesk.apply(helpdesk.fetch(CASE_ID), make_decision(internal_note="é" * 2500), MARKER)  # 5,000 bytes
    assert org.calls("POST", "/sobjects/CaseComment/") == []
    [post] = org.calls("POST", "/sobjects/FeedItem/")
    body = json.loads(post.request.body)
    assert body["Visibility"] == "InternalUsers" and body["Type"] == "TextPost" and body["Body"].endswith(MARKER)


def test_changed_case_is_a_conflict_and_nothing_is_written(org: MockOrg) -> None:
    helpdesk = token_helpdesk()
    ticket = helpdesk.fetch(CASE_ID)
    org.case["LastModifiedDate"] = "2024-05-02T09:30:00.000+0000"  # an agent edited it meanwhile
    with pytest.raises(IntegrationError) as caught:
        helpdesk.apply(ticket, make_decision(), MARKER)
    assert caught.value.conflict and not caught.value.permanent
    assert org.calls("PATCH", "/sobjects/Case/") == [] and org.calls("POST", "/sobjects/CaseComment/") == []


def test_not_found_is_permanent_and_malformed_id_never_calls() -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__not_found.json"), status=404)
        with pytest.raises(IntegrationError) as caught:
            token_helpdesk().fetch(CASE_ID)
        assert caught.value.permanent and caught.value.reason == "not_found" and caught.value.status == 404
        with pytest.raises(IntegrationError) as caught:
            token_helpdesk().fetch("../../limits")
        assert caught.value.permanent


def test_request_limit_exceeded_backs_off_for_minutes() -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__request_limit.json"), status=403)
        with pytest.raises(IntegrationError) as caught:
            token_helpdesk(limit_retry_seconds=600).fetch(CASE_ID)
    assert not caught.value.permanent and caught.value.retry_after == 600
    assert caught.value.reason == "request_limit_exceeded"


def test_lock_row_is_transient_and_restricted_picklist_is_permanent() -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__lock_row.json"), status=400)
        mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__restricted_picklist.json"), status=400)
        with pytest.raises(IntegrationError) as caught:
            token_helpdesk().fetch(CASE_ID)
        assert not caught.value.permanent and caught.value.reason == "unable_to_lock_row"
        with pytest.raises(IntegrationError) as caught:
            token_helpdesk().fetch(CASE_ID)
        assert caught.value.permanent and "Priority" in str(caught.value)


def test_usage_above_threshold_slows_the_worker_down() -> None:
    assert quota_delay(50_000, 100_000, 0.8) == 0
    assert 0 < quota_delay(85_000, 100_000, 0.8) < quota_delay(99_000, 100_000, 0.8) <= 3600
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org = MockOrg(mock, usage="api-usage=90000/100000")
        helpdesk = token_helpdesk()
        helpdesk.fetch(CASE_ID)
        assert helpdesk.api_usage == (90_000, 100_000)
        helpdesk.fetch(CASE_ID)  # the first ticket after crossing the line goes through and sets the pace
        with pytest.raises(IntegrationError) as caught:
            helpdesk.fetch(CASE_ID)
        assert caught.value.reason == "api_quota_slowdown" and 0 < caught.value.retry_after <= 3600
        assert not caught.value.permanent
        assert len(org.calls("GET", f"/sobjects/Case/{CASE_ID}")) == 2



def test_two_workers_share_one_pace_for_the_org(redis_server) -> None:  # noqa: ANN001
    """Above the quota threshold the spacing holds across workers, not per process (N workers != N x pace)."""
    from integrations.rate_budget import SharedPace

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org = MockOrg(mock, usage="api-usage=90000/100000")
        first = token_helpdesk(pace=SharedPace(redis_server.client(), "salesforce:acme"))
        second = token_helpdesk(pace=SharedPace(redis_server.client(), "salesforce:acme"))  # another worker
        first.fetch(CASE_ID)  # learns the usage
        first.fetch(CASE_ID)  # over the threshold: goes through and sets the org's pace
        with pytest.raises(IntegrationError) as caught:
            second.fetch(CASE_ID)  # has not seen the usage header itself, still waits its turn
        assert caught.value.reason == "api_quota_slowdown" and 0 < caught.value.retry_after <= 3600
        assert len(org.calls("GET", f"/sobjects/Case/{CASE_ID}")) == 2
        other_org = token_helpdesk(pace=SharedPace(redis_server.client(), "salesforce:other"))
        other_org.fetch(CASE_ID)  # the pace is per org
        assert len(org.calls("GET", f"/sobjects/Case/{CASE_ID}")) == 3


def test_request_limit_seen_by_one_worker_pauses_every_worker(redis_server) -> None:  # noqa: ANN001
    from integrations.rate_budget import SharedPace

    with responses.RequestsMock() as mock:
        limit = mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__request_limit.json"), status=403)
        first = token_helpdesk(limit_retry_seconds=600, pace=SharedPace(redis_server.client(), "salesforce:acme"))
        second = token_helpdesk(limit_retry_seconds=600, pace=SharedPace(redis_server.client(), "salesforce:acme"))
        with pytest.raises(IntegrationError) as hit:
            first.fetch(CASE_ID)
        assert hit.value.reason == "request_limit_exceeded"
        with pytest.raises(IntegrationError) as paused:
            second.fetch(CASE_ID)  # refused before any HTTP call
        assert paused.value.reason == "api_quota_slowdown" and 590 < paused.value.retry_after <= 600
        assert limit.call_count == 1


def test_from_settings_keys_the_pace_by_org(var_dir, redis_server) -> None:  # noqa: ANN001
    base = dict(HELPDESK="salesforce", SALESFORCE_ACCESS_TOKEN="00D!x", SALESFORCE_INSTANCE_URL=INSTANCE, SALESFORCE_WEBHOOK_SECRET="s")
    desk = SalesforceHelpdesk.from_settings(load_settings(VAR_DIR=var_dir, **base), redis=redis_server.client())
    assert desk.pace.key == f"triage:pace:salesforce:{INSTANCE.split('//')[1]}"
    with_org = load_settings(VAR_DIR=var_dir, SALESFORCE_ORG_ID="00D5e000000AbCdEAF", **base)
    assert SalesforceHelpdesk.from_settings(with_org).pace.key == "triage:pace:salesforce:00D5e000000AbCdEAF"


# -- authentication ------------------------------------------------------------------------------------------
def test_client_credentials_login_then_expired_session_reauths_once() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        token = mock.add(responses.POST, "https://acme.my.salesforce.com/services/oauth2/token", json=rest("oauth__token.json"))
        mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__invalid_session.json"), status=401)
        org = MockOrg(mock)
        helpdesk = client_credentials_helpdesk()
        ticket = helpdesk.fetch(CASE_ID)
        assert "grant_type=client_credentials" in mock.calls[0].request.body
        case_calls = org.calls("GET", f"/sobjects/Case/{CASE_ID}")
        assert [c.request.headers["Authorization"] for c in case_calls] == ["Bearer 00D8c000002JHMD!AQ0AQFresh.Token"] * 2
    assert ticket.id == CASE_ID
    assert token.call_count == 2  # first login, then one re-login after INVALID_SESSION_ID


def test_session_that_stays_invalid_fails_after_one_reauth_not_a_loop() -> None:
    with responses.RequestsMock() as mock:
        token = mock.add(responses.POST, "https://acme.my.salesforce.com/services/oauth2/token", json=rest("oauth__token.json"))
        case = mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__invalid_session.json"), status=401)
        with pytest.raises(IntegrationError) as caught:
            client_credentials_helpdesk().fetch(CASE_ID)
    assert caught.value.permanent and caught.value.reason == "invalid_session"
    assert token.call_count == 2 and case.call_count == 2


def test_static_token_cannot_reauth_so_401_is_permanent() -> None:
    with responses.RequestsMock() as mock:
        case = mock.add(responses.GET, f"{API}/sobjects/Case/{CASE_ID}", json=rest("error__invalid_session.json"), status=401)
        with pytest.raises(IntegrationError) as caught:
            token_helpdesk().fetch(CASE_ID)
    assert caught.value.permanent and case.call_count == 1


def test_refused_login_is_a_clear_permanent_error() -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://acme.my.salesforce.com/services/oauth2/token", json=rest("oauth__invalid_grant.json"), status=400)
        with pytest.raises(IntegrationError) as caught:
            client_credentials_helpdesk().fetch(CASE_ID)
    assert caught.value.permanent and caught.value.reason == "auth_failed"
    assert "invalid_grant" in str(caught.value) and "client_credentials" in str(caught.value)


def test_jwt_bearer_login_signs_an_assertion() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    settings = load_settings(
        SALESFORCE_CONSUMER_KEY="3MVG9key", SALESFORCE_USERNAME="triage@acme.example", SALESFORCE_PRIVATE_KEY=pem,
        SALESFORCE_DOMAIN="login",
    )
    helpdesk = SalesforceHelpdesk.from_settings(settings, MAPPING)
    assert helpdesk.credentials.mode == "jwt"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "https://login.salesforce.com/services/oauth2/token", json=rest("oauth__token.json"))
        MockOrg(mock)
        helpdesk.fetch(CASE_ID)
        body = mock.calls[0].request.body
    assert "jwt-bearer" in body and "assertion=" in body


def test_password_login_warns_it_is_deprecated() -> None:
    settings = load_settings(SALESFORCE_USERNAME="u@acme.example", SALESFORCE_PASSWORD="pw", SALESFORCE_SECURITY_TOKEN="tok")
    helpdesk = SalesforceHelpdesk.from_settings(settings, {})
    assert helpdesk.credentials.mode == "password"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "https://login.salesforce.com/services/Soap/u/59.0", status=500, body="down")
        with warnings.catch_warnings(record=True) as caught, pytest.raises(IntegrationError):
            warnings.simplefilter("always")
            helpdesk.fetch(CASE_ID)
    assert any(issubclass(w.category, DeprecationWarning) and "Summer '27" in str(w.message) for w in caught)


def test_no_credentials_is_reported_not_crashed() -> None:
    with pytest.raises(IntegrationError) as caught:
        SalesforceHelpdesk.from_settings(load_settings(), {})
    assert caught.value.permanent and "SALESFORCE_CONSUMER_KEY" in str(caught.value)


def test_problems_lists_missing_fields_and_queues(org: MockOrg) -> None:
    problems = token_helpdesk().problems()
    assert any("AI_Language__c" in p for p in problems)
    assert any("Legal_Queue" in p for p in problems)
    assert not any("AI_Intent__c" in p or "Billing_Queue" in p for p in problems)
