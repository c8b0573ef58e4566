"""`triage doctor` against a mocked org: what it checks and how it tells the admin what to fix."""
from __future__ import annotations

import argparse
import re

import pytest
import responses

from app import cli_doctor
from app.cli import build_parser
from app.config import load_settings
from tests.salesforce.conftest import API, INSTANCE, MAPPING, ORG_ID, MockOrg, rest


@pytest.fixture
def doctor_org(monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(cli_doctor, "_policy_mapping", lambda settings, provider: MAPPING)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{INSTANCE}/services/data/", json=rest("versions.json"))
        mock.add(responses.GET, f"{API}/limits/", json=rest("limits.json"))
        queue_sobjects = {"totalSize": 1, "done": True, "records": [
            {"attributes": {"type": "QueueSobject"}, "Queue": {"attributes": {"type": "Group"}, "DeveloperName": "Billing_Queue"}},
        ]}
        mock.add(responses.GET, re.compile(rf"{API}/query/?\?q=.*QueueSobject.*"), json=queue_sobjects)
        yield MockOrg(mock)


def run_doctor(capsys, **overrides) -> tuple[int, str]:  # noqa: ANN001, ANN003
    settings = load_settings(HELPDESK="salesforce", SALESFORCE_ACCESS_TOKEN="00D!tok", SALESFORCE_INSTANCE_URL=INSTANCE, **overrides)
    status = cli_doctor.cmd_doctor(argparse.Namespace(), settings)
    return status, capsys.readouterr().out


def test_doctor_is_a_triage_subcommand() -> None:
    args = build_parser().parse_args(["doctor"])
    assert args.func is cli_doctor.cmd_doctor


def test_doctor_reports_each_check_and_what_to_fix(doctor_org, capsys) -> None:  # noqa: ANN001
    status, out = run_doctor(capsys, SALESFORCE_ORG_ID=ORG_ID)
    assert status == 1
    assert "[ok] Salesforce auth: token login to acme.my.salesforce.com" in out
    assert "[ok] API version: using 59.0; org serves up to 61.0" in out
    assert "[FIX] custom fields: Case field AI_Language__c" in out
    assert "[FIX] queues: Queue Legal_Queue (for 'legal') not found" in out
    assert "-> create them in Setup > Queues" in out
    assert "[ok] daily API calls: 91,234 of 100,000 left" in out
    assert "Priority" in out and "to fix" in out


def test_doctor_flags_missing_org_id_and_too_new_api_version(doctor_org, capsys) -> None:  # noqa: ANN001
    status, out = run_doctor(capsys, SALESFORCE_API_VERSION="62.0", SALESFORCE_WEBHOOK_SECRET="s")
    assert status == 1
    assert "[FIX] Salesforce org id" in out
    assert "-> set SALESFORCE_API_VERSION=61.0" in out


def test_doctor_reports_refused_auth(monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(cli_doctor, "_policy_mapping", lambda settings, provider: {})
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{INSTANCE}/services/data/", json=rest("error__invalid_session.json"), status=401)
        status, out = run_doctor(capsys, SALESFORCE_ORG_ID=ORG_ID)
    assert status == 1 and "INVALID_SESSION_ID" in out and "[FIX]" in out
