"""A late ack on a channel that a broker reconnect closed must fail as a connection error (logged by Celery's
ack_log_error), never as an AttributeError that escapes into the worker's event loop and stops consuming."""
from __future__ import annotations

import logging

import pytest
from kombu import Connection, Consumer, Queue

from workers import broker_transport

pytestmark = pytest.mark.integration


def _received_message(conn: Connection):
    with Connection(conn.as_uri(include_password=True)) as producer:
        producer.SimpleQueue("transport-test").put({"delivery_id": 1})
    got = []
    Consumer(conn.channel(), [Queue("transport-test")], callbacks=[lambda _b, m: got.append(m)], accept=["json"]).consume()
    conn.drain_events(timeout=5)
    return got[0]


def test_ack_after_reconnect_is_a_logged_connection_error(redis_server, caplog) -> None:
    broker_transport.install()
    conn = Connection(redis_server.url)
    assert isinstance(conn.transport, broker_transport.Transport)
    message = _received_message(conn)
    # The state the CI traceback showed the old channel in after the consumer lost Redis: pools dropped, the
    # transport detached from its Connection.
    message.channel._disconnect_pools()
    conn.transport.client = None

    with caplog.at_level(logging.CRITICAL):
        message.ack_log_error(logging.getLogger("celery.worker"), conn.connection_errors)  # must not raise
    assert "Couldn't ack" in caplog.text
    assert not message.acknowledged  # it stays in Redis's unacked index and comes back after the visibility timeout
    conn.transport.client = conn  # let the reconnect finish, so closing puts the message back
    conn.release()


def test_embedded_socket_url_uses_the_repaired_transport(var_dir) -> None:
    from app.broker import broker_url
    from tests.conftest import make_settings

    url = broker_url(make_settings(var_dir))  # redis+socket://...; the var_dir fixture stops the server
    broker_transport.install()
    with Connection(url) as conn:
        assert isinstance(conn.transport, broker_transport.Transport)
        assert conn.default_channel.client.ping()
