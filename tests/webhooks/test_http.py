"""The WSGI layer in front of Flask: methods, bodies without a length, crashes, and what falls through."""
from __future__ import annotations

import io
import json

from werkzeug.test import EnvironBuilder

from app.webhooks.http import BodyTooLarge, Reply, WebhookRequest, Webhooks
from tests.webhooks.test_zendesk_webhook import URL, deliveries, post


def call(app, environ: dict) -> tuple[str, dict, bytes]:  # noqa: ANN001
    seen = {}

    def start_response(status: str, headers: list) -> None:
        seen.update(status=status, headers=dict(headers))

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_other_methods_on_a_webhook_path_are_405_and_options_lists_post(client) -> None:  # noqa: ANN001
    response = client.get(URL)
    assert response.status_code == 405 and response.json["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert client.options(URL).headers["Allow"] == "OPTIONS, POST"
    head = client.head(URL)
    assert head.status_code == 405 and head.data == b""  # no body on a HEAD, whatever the status


def test_paths_that_are_not_webhooks_reach_flask(client) -> None:  # noqa: ANN001
    assert client.post(URL + "/").status_code == 404  # no trailing-slash alias
    assert client.get("/healthz").status_code == 200


def test_a_chunked_body_is_read_to_its_end_when_the_server_terminated_it(app) -> None:  # noqa: ANN001
    from app.webhooks.signature import zendesk_headers
    from tests.conftest import TEST_SECRET

    body = json.dumps({"ticket_id": "99", "event": "created"}).encode()
    environ = EnvironBuilder(path=URL, method="POST", headers=zendesk_headers(TEST_SECRET, body)).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True  # gunicorn de-chunks and says so
    status, _, answer = call(app, environ)
    assert status == "202 Accepted", answer
    assert [d.ticket_id for d in deliveries(app)] == ["99"]
    environ["wsgi.input"], environ["wsgi.input_terminated"] = io.BytesIO(body), False
    status, _, answer = call(app, environ)  # no length, no terminated stream: nothing is read, nothing hangs
    assert status.startswith("401") or status.startswith("400")


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    class Unreadable(io.RawIOBase):
        def read(self, *_a):  # noqa: ANN002, ANN202
            raise AssertionError("read a body it should have refused")

    request = WebhookRequest({"CONTENT_LENGTH": "300000", "wsgi.input": Unreadable()})
    try:
        request.body(256 * 1024)
    except BodyTooLarge as exc:
        assert exc.limit == 256 * 1024
    else:
        raise AssertionError("no BodyTooLarge")


def test_a_view_that_crashes_answers_500_json_and_logs_the_traceback(app, capsys) -> None:  # noqa: ANN001
    def broken(_request: WebhookRequest, _intake) -> Reply:  # noqa: ANN001
        raise RuntimeError("bug in a view")

    webhooks = Webhooks(app.wsgi_app.flask, app.wsgi_app.intake, {"/webhooks/broken": broken})
    environ = EnvironBuilder(path="/webhooks/broken", method="POST", data=b"{}").get_environ()
    status, headers, answer = call(webhooks, environ)
    assert status == "500 Internal Server Error" and json.loads(answer)["error"] == "internal"
    assert headers["Content-Type"] == "application/json" and headers["Content-Length"] == str(len(answer))
    assert "bug in a view" in capsys.readouterr().err
