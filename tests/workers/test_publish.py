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


def test_background_publisher_sends_every_id_once_in_batches(var_dir, redis_server) -> None:  # noqa: ANN001
    import threading

    from tests.conftest import wait_for
    from workers.publish import BackgroundPublisher

    client = redis_server.client()
    client.delete(QUEUE)
    failed: list[int] = []
    publisher = BackgroundPublisher(RedisEnqueue(lambda: client), on_failure=failed.extend)
    threads = [threading.Thread(target=lambda k=k: [publisher(k * 100 + i) for i in range(50)]) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: client.llen(QUEUE) == 200, timeout=10)
    ids = sorted(json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in client.lrange(QUEUE, 0, -1))
    assert ids == sorted(k * 100 + i for k in range(4) for i in range(50)) and failed == []


def test_background_publisher_hands_failed_ids_to_the_sweeper_path() -> None:
    import redis

    from tests.conftest import wait_for
    from workers.publish import BackgroundPublisher

    failed: list[int] = []
    dead = RedisEnqueue(lambda: redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    publisher = BackgroundPublisher(dead, on_failure=failed.extend)
    for delivery_id in (7, 8, 9):
        publisher(delivery_id)
    wait_for(lambda: sorted(failed) == [7, 8, 9], timeout=10)
