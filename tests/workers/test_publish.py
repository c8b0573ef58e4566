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
