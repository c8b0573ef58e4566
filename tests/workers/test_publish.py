"""The hand-built task message must be the one Celery writes, so any Celery worker consumes it."""
from __future__ import annotations

import base64
import json

from tests.conftest import make_settings
from workers.celery_app import make_celery
from workers.publish import QUEUE, RedisEnqueue


def test_message_matches_celery_send_task(var_dir, redis_server) -> None:  # noqa: ANN001
    settings = make_settings(var_dir, REDIS_URL=redis_server.url)
    client = redis_server.client()
    make_celery(settings).send_task("triage", args=[41], ignore_result=True)
    RedisEnqueue(lambda: client)(42)
    ours, celery = (json.loads(m) for m in client.lrange(QUEUE, 0, -1))  # LPUSH: newest first
    assert ours.keys() == celery.keys()
    assert ours["headers"].keys() == celery["headers"].keys()
    assert ours["properties"].keys() == celery["properties"].keys()
    for key in ("content-type", "content-encoding"):
        assert ours[key] == celery[key]
    for key in ("task", "lang", "retries", "timelimit", "ignore_result", "eta", "expires"):
        assert ours["headers"][key] == celery["headers"][key], key
    assert ours["properties"]["delivery_info"] == celery["properties"]["delivery_info"]
    args_ours = json.loads(base64.b64decode(ours["body"]))
    args_celery = json.loads(base64.b64decode(celery["body"]))
    assert args_ours[0] == [42] and args_celery[0] == [41] and args_ours[1:] == args_celery[1:]


def test_threads_push_on_their_own_connections_and_every_message_arrives(redis_server) -> None:  # noqa: ANN001
    import threading

    client = redis_server.client()
    enqueue = RedisEnqueue(lambda: client)
    threads = [threading.Thread(target=lambda base=base: [enqueue(base + i) for i in range(200)]) for base in (0, 1000, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = sorted(json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in client.lrange(QUEUE, 0, -1))
    assert ids == [base + i for base in (0, 1000, 2000) for i in range(200)]


def test_a_connection_that_redis_closed_is_made_again_once(redis_server) -> None:  # noqa: ANN001
    client = redis_server.client()
    enqueue = RedisEnqueue(lambda: client)
    enqueue(1)
    client.client_kill_filter(_type="normal", skipme=True)  # what a Redis restart does to open connections
    enqueue(2)
    assert client.llen(QUEUE) == 2


def test_a_forked_child_pushes_on_a_connection_of_its_own(redis_server) -> None:  # noqa: ANN001
    import os

    client = redis_server.client()
    enqueue = RedisEnqueue(lambda: client)
    enqueue(1)
    pid = os.fork()
    if pid == 0:  # gunicorn's workers are forks of a master that may have pushed already
        try:
            enqueue(2)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    enqueue(3)  # the parent's connection was not shut down by the child
    ids = sorted(json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in client.lrange(QUEUE, 0, -1))
    assert ids == [1, 2, 3]


def test_the_filled_template_is_the_envelope_built_field_by_field() -> None:
    from workers.publish import _envelope, task_message

    message = json.loads(task_message(1234567, 'web7@host"with-quote'))
    ids = message["headers"]["id"], message["properties"]["delivery_tag"]
    assert message == _envelope(1234567, ids[0], 'web7@host"with-quote', ids[1])
    assert message["headers"]["root_id"] == message["properties"]["correlation_id"] == ids[0] != ids[1]
