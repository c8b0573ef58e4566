"""Bad configuration stops the boot with a message naming the variable (DESIGN: one settings object)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings

SALESFORCE_TOKEN = {"HELPDESK": "salesforce", "SALESFORCE_ACCESS_TOKEN": "00D!tok", "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ZENDESK_SUBDOMAIN": "acme"}, "ZENDESK_EMAIL, ZENDESK_API_TOKEN, ZENDESK_WEBHOOK_SECRET is not set"),
        ({"ZENDESK_SUBDOMAIN": "acme.zendesk.com", "ZENDESK_BASE_URL": "http://127.0.0.1:1"}, "bare subdomain"),
        ({"ZENDESK_BOT_USER_ID": "bot@acme.com"}, "ZENDESK_BOT_USER_ID must be the numeric user id"),
        ({"HELPDESK": "salesforce", "SALESFORCE_ORG_ID": "00D8c000002JHMDEA4"}, "no login is configured"),
        ({**SALESFORCE_TOKEN}, "no Case can arrive"),
        ({"SALESFORCE_ORG_ID": "500Ri00000PThftIAD"}, "starting with 00D"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: must be sqlite"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: must start with redis://"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(VAR_DIR=tmp_path, **values)


def test_good_salesforce_and_zendesk_settings_load(tmp_path: Path) -> None:
    salesforce = load_settings(VAR_DIR=tmp_path, SALESFORCE_WEBHOOK_SECRET="s", **SALESFORCE_TOKEN)
    assert salesforce.helpdesk_name == "salesforce"
    jwt = load_settings(
        VAR_DIR=tmp_path, HELPDESK="salesforce", SALESFORCE_ORG_ID="00D8c000002JHMD", SALESFORCE_CONSUMER_KEY="k",
        SALESFORCE_USERNAME="triage@acme.com", SALESFORCE_PRIVATE_KEY_FILE="/run/secrets/sf.key",
    )
    assert jwt.SALESFORCE_ORG_ID == "00D8c000002JHMD"
    zendesk = load_settings(
        VAR_DIR=tmp_path, ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="a@acme.com", ZENDESK_API_TOKEN="t",
        ZENDESK_WEBHOOK_SECRET="w", ZENDESK_BOT_USER_ID=" 900 ",
    )
    assert zendesk.helpdesk_name == "zendesk"


def test_the_triage_command_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "SALESFORCE_", "HELPDESK"))}
    env.update(VAR_DIR=str(tmp_path), HELPDESK="salesforce", SALESFORCE_ORG_ID="00D8c000002JHMDEA4")
    run = subprocess.run([sys.executable, "-m", "app.cli", "deliveries"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "Invalid configuration" in run.stderr and "no login is configured" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_local_secret_made_at_the_same_time_elsewhere_is_kept(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    settings = load_settings(VAR_DIR=tmp_path)
    (tmp_path / ".webhook_secret").write_text("the other process's secret")
    # This process looked before the other one wrote: it makes its own, and must not replace the first.
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert settings.local_secret("webhook_secret") == "the other process's secret"
    assert [p.name for p in tmp_path.iterdir()] == [".webhook_secret"]  # no temp file left behind
