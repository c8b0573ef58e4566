"""One Outbound Message -> real Redis -> real Celery worker process -> PATCH + CaseComment on a loopback org.

simple-salesforce only speaks https, so the fake org is an HTTPS server on 127.0.0.1 with a throwaway
certificate that the worker trusts through REQUESTS_CA_BUNDLE.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.models import Delivery, DeliveryStatus
from tests.conftest import WorkerProcess, make_settings, wait_for, worker_env
from tests.salesforce.conftest import CASE_ID, ORG_ID, fixture_bytes, rest
from workers.celery_app import make_celery

pytestmark = pytest.mark.integration

QUEUES = {"orders": "Billing_Queue", "billing": "Billing_Queue", "accounts": "Tier2", "technical": "Tier2",
          "general": "Tier2", "tier2": "Tier2", "legal": "Tier2"}
QUEUE_IDS = {"00G5e000002BiLlEAK", "00G5e000002TiEr2AK"}


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "org.crt", directory / "org.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class LoopbackOrg:
    """Just enough of the REST API for one Case: GET, describe, SOQL, PATCH, CaseComment create."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.case = rest("case__email.json")
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        org = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def _send(self, status: int, body: object | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Sforce-Limit-Info", "api-usage=1200/100000")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with org.lock:
                    org.requests.append({"method": self.command, "path": url.path, "query": url.query,
                                         "headers": dict(self.headers), "body": body})
                    status, answer = org.answer(self.command, url.path, parse_qs(url.query), body)
                self._send(status, answer)

            do_GET = do_PATCH = do_POST = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, object | None]:
        api = "/services/data/v59.0"
        if method == "GET" and path == f"{api}/sobjects/Case/describe":
            return 200, rest("case__describe.json")
        if method == "GET" and path == f"{api}/sobjects/Case/{CASE_ID}":
            return 200, self.case
        if method == "PATCH" and path == f"{api}/sobjects/Case/{CASE_ID}":
            self.case.update(body or {})
            self.case["LastModifiedDate"] = "2024-05-03T09:00:00.000+0000"
            return 204, None
        if method == "POST" and path == f"{api}/sobjects/CaseComment/":
            return 201, rest("casecomment__create.json")
        if method == "GET" and re.fullmatch(f"{api}/query/?", path):
            soql = query.get("q", [""])[0]
            return 200, rest("query__queues.json" if "FROM Group" in soql else "query__thread.json")
        return 404, [{"errorCode": "NOT_FOUND", "message": f"no route {method} {path}"}]

    def calls(self, method: str, fragment: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["method"] == method and fragment in r["path"]]

    def start(self) -> "LoopbackOrg":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_org(tmp_path):  # noqa: ANN001, ANN201
    cert, key = self_signed(tmp_path)
    org = LoopbackOrg(cert, key).start()
    org.cert = cert
    yield org
    org.stop()


def policy_file(tmp_path: Path) -> Path:
    """The bundled policy with this org's queue and field names in [helpdesk.salesforce]."""
    text = (PROJECT_ROOT / "app" / "triage" / "policy.toml").read_text()
    queues = "{ " + ", ".join(f'{k} = "{v}"' for k, v in QUEUES.items()) + " }"
    text = re.sub(r"(\[helpdesk\.salesforce\][^\[]*?)\nqueues = \{\}", rf"\1\nqueues = {queues}", text, flags=re.S)
    text = re.sub(r"(\[helpdesk\.salesforce\][^\[]*?)\nfields = \{\}", r'\1\nfields = { sentiment = "AI_Sentiment__c" }', text, flags=re.S)
    assert queues in text
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_outbound_message_becomes_patch_and_private_case_comment(var_dir, redis_server, loopback_org, tmp_path) -> None:  # noqa: ANN001
    salesforce_env = {
        "HELPDESK": "salesforce", "SALESFORCE_ORG_ID": ORG_ID, "SALESFORCE_INSTANCE_URL": loopback_org.url,
        "SALESFORCE_ACCESS_TOKEN": "00D8c000002JHMD!AQ0AQLoopback", "TRIAGE_POLICY_FILE": str(policy_file(tmp_path)),
    }
    settings = make_settings(var_dir, REDIS_URL=redis_server.url, **salesforce_env)
    from app.web import create_app

    celery = make_celery(settings)
    app = create_app(settings, enqueue=lambda delivery_id: celery.send_task("triage", args=[delivery_id]))
    env = worker_env(settings, redis_server.url, REQUESTS_CA_BUNDLE=str(loopback_org.cert), **salesforce_env)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        response = app.test_client().post(
            "/webhooks/salesforce", data=fixture_bytes("outbound__one_case.xml"), headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
        with app.config["SESSIONS"]() as session:
            delivery_id = session.scalar(select(Delivery.id))

        def done() -> bool:
            with app.config["SESSIONS"]() as session:
                return session.scalar(select(Delivery.status).where(Delivery.id == delivery_id)) == DeliveryStatus.DONE

        wait_for(done, 120, message=f"delivery done\n{worker.log()[-4000:]}")
    finally:
        worker.stop()
    [patch] = loopback_org.calls("PATCH", f"/sobjects/Case/{CASE_ID}")
    assert patch["headers"]["Sforce-Auto-Assign"] == "FALSE"
    assert patch["headers"]["Authorization"] == "Bearer 00D8c000002JHMD!AQ0AQLoopback"
    assert patch["body"]["Priority"] in ("High", "Medium", "Low")
    assert patch["body"]["OwnerId"] in QUEUE_IDS
    assert patch["body"].get("AI_Sentiment__c")
    [comment] = loopback_org.calls("POST", "/sobjects/CaseComment/")
    assert comment["body"]["ParentId"] == CASE_ID and comment["body"]["IsPublished"] is False
    assert f"delivery={delivery_id}]" in comment["body"]["CommentBody"]
    # the freshness check ran before the write
    assert any("fields=LastModifiedDate" in r["query"] for r in loopback_org.calls("GET", f"/sobjects/Case/{CASE_ID}"))
