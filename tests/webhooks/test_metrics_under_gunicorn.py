"""/metrics under gunicorn with several worker processes: every scrape counts every process's webhooks."""
from __future__ import annotations

import json
import os
import signal

import pytest
import requests

from app.webhooks.signature import zendesk_headers
from tests.conftest import TEST_SECRET, start_gunicorn, worker_env

pytestmark = pytest.mark.integration


def test_each_scrape_reports_the_webhooks_of_all_processes(settings, redis_server, tmp_path) -> None:  # noqa: ANN001
    env = worker_env(settings, redis_server.url)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc, url = start_gunicorn(env, tmp_path / "web.log", workers=3)
    try:
        for ticket in range(30):
            body = json.dumps({"ticket_id": str(500 + ticket), "event": "created"}).encode()
            # A new connection each time, so the requests spread over the processes.
            response = requests.post(f"{url}/webhooks/zendesk", data=body, headers=zendesk_headers(TEST_SECRET, body), timeout=10)
            assert response.status_code == 202
        scrapes = [requests.get(f"{url}/metrics", timeout=5).text for _ in range(6)]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    for text in scrapes:
        assert 'triage_webhooks_total{provider="zendesk",result="accepted"} 30.0' in text
        assert 'triage_intake_seconds_count{provider="zendesk"} 30.0' in text
        assert 'triage_deliveries{provider="sandbox",status="queued"} 30.0' in text
    assert not list((settings.VAR_DIR / "metrics").glob("gunicorn-*"))  # the server removed its files on exit


def test_a_read_only_var_dir_does_not_stop_the_web_process(settings, redis_server, tmp_path) -> None:  # noqa: ANN001
    env = worker_env(settings, redis_server.url)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    (settings.VAR_DIR / "metrics").write_text("a file where the metrics directory should be")
    proc, url = start_gunicorn(env, tmp_path / "web.log", workers=2)
    try:
        body = json.dumps({"ticket_id": "900", "event": "created"}).encode()
        assert requests.post(f"{url}/webhooks/zendesk", data=body, headers=zendesk_headers(TEST_SECRET, body), timeout=10).status_code == 202
        assert 'triage_webhooks_total{provider="zendesk",result="accepted"} 1.0' in requests.get(f"{url}/metrics", timeout=5).text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    assert "metrics directory unavailable" in (tmp_path / "web.log").read_text()
