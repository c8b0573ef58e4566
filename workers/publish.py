"""Publish a `triage` task straight to the Redis list Celery consumes: ~50 µs instead of ~450 µs.

Every stored webhook is published, so this is on the intake's hot path (off the request itself: see
BackgroundPublisher). Celery's `apply_async` spends most of its time in routing, signals and kombu's producer
machinery we do not use; the message itself is a small JSON envelope (Celery task protocol 2 on kombu's
Redis transport). The envelope below is the one `send_task` writes (a test compares them field by field),
so any Celery worker consumes it as usual.
"""
from __future__ import annotations

import atexit
import base64
import json
import os
import queue
import socket
import threading
import time
import uuid
from typing import Callable

import redis
import structlog

log = structlog.get_logger("publish")
LINGER_SECONDS = 0.002

TASK_NAME = "triage"
QUEUE = "celery"  # Celery's default queue, routing key and Redis list name


def task_message(delivery_id: int, origin: str) -> bytes:
    task_id = str(uuid.uuid4())
    body = json.dumps([[delivery_id], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    return json.dumps(
        {
            "body": base64.b64encode(body.encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py", "task": TASK_NAME, "id": task_id, "shadow": None, "eta": None, "expires": None,
                "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id,
                "parent_id": None, "argsrepr": f"[{delivery_id}]", "kwargsrepr": "{}", "origin": origin,
                "ignore_result": True, "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
            },
            "properties": {
                "correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": QUEUE}, "priority": 0,
                "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
            },
        }
    ).encode()


class RedisEnqueue:
    """Callable enqueue(delivery_id) for the web process; the client is made lazily, after gunicorn forks."""

    def __init__(self, client_factory: Callable[[], redis.Redis]) -> None:
        self._factory = client_factory
        self._client: redis.Redis | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.origin = f"web{os.getpid()}@{socket.gethostname()}"

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = self._factory()
                    self._pid = os.getpid()
                    self.origin = f"web{self._pid}@{socket.gethostname()}"
        return self._client

    def __call__(self, delivery_id: int) -> None:
        self._redis().lpush(QUEUE, task_message(delivery_id, self.origin))

    def many(self, delivery_ids: list[int]) -> None:
        """One LPUSH for a batch: one round trip, and Celery's BRPOP still takes them oldest first."""
        self._redis().lpush(QUEUE, *(task_message(delivery_id, self.origin) for delivery_id in delivery_ids))


class BackgroundPublisher:
    """enqueue(delivery_id) that returns at once; a thread of the web process publishes in batches.

    The webhook is answered once its Delivery row is committed, which is what makes it safe; the Redis
    push only makes it fast. Handing the id to a thread keeps the broker round trip off the request, and
    ids that arrive together go out in one LPUSH. If the push fails, `on_failure(ids)` marks them
    `received` and the sweeper sends them ~2 s later; if the process dies first, the rows are `queued`
    with an old `enqueued_at` and the sweeper re-sends them after SWEEP_STUCK_SECONDS. Nothing is lost.
    """

    def __init__(self, publish: RedisEnqueue, on_failure: Callable[[list[int]], None], max_batch: int = 200) -> None:
        self._publish = publish
        self._on_failure = on_failure
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()

    def __call__(self, delivery_id: int) -> None:
        if self._pid != os.getpid():
            self._start()
        self._queue.put(delivery_id)

    def _start(self) -> None:
        # Lazily and per pid: gunicorn forks its workers after the app is built, and threads do not fork.
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, args=(self._queue,), name="enqueue-publisher", daemon=True).start()
                atexit.register(self.flush)
                self._pid = os.getpid()

    def _run(self, waiting: queue.SimpleQueue[int]) -> None:
        while True:
            batch = [waiting.get()]
            # Linger a moment so a busy intake sends one LPUSH per burst rather than waking this thread
            # (and taking the GIL from the request threads) once per webhook. The triage takes far longer.
            time.sleep(LINGER_SECONDS)
            self._send(batch + self._drain(waiting, self._max_batch - 1))

    def flush(self) -> None:
        """Publish whatever is still waiting (at exit: gunicorn's graceful stop runs atexit handlers)."""
        while batch := self._drain(self._queue, self._max_batch):
            self._send(batch)

    @staticmethod
    def _drain(waiting: queue.SimpleQueue[int], limit: int) -> list[int]:
        batch: list[int] = []
        while len(batch) < limit:
            try:
                batch.append(waiting.get_nowait())
            except queue.Empty:
                break
        return batch

    def _send(self, batch: list[int]) -> None:
        try:
            self._publish.many(batch)
        except Exception as exc:  # broker down: the rows are committed; mark them for the sweeper
            log.warning("enqueue.publish_failed", count=len(batch), error=str(exc)[:200])
            try:
                self._on_failure(batch)
            except Exception as failure:  # even the database is gone: they stay `queued`, swept when stuck
                log.error("enqueue.mark_received_failed", count=len(batch), error=str(failure)[:200])
