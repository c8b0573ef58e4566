"""Kombu's Redis transport with one repair, so a worker keeps consuming after Redis restarts.

With `acks_late`, Celery acknowledges a ticket on the channel it arrived on once the pool process is done. When
Redis goes away mid-task, the consumer closes that channel's connection (its pools dropped, its Connection
detached) and reconnects on a new one; the late ack then reaches kombu's `_connparams` with no connection
details and fails with AttributeError. `ack_log_error` only catches connection errors, so the AttributeError
escaped into the event loop and the consumer stopped: every ticket after the restart stayed queued (seen in
CI, tests/reliability/test_broker_restart.py). Here that ack fails as what it is, a connection error: Celery
logs "Couldn't ack" and carries on. Nothing is lost either way: the message stays in the unacked index and
comes back after the visibility timeout, and its delivery, already done, is not claimed again.
"""
from __future__ import annotations

import kombu.transport
import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("this broker channel's connection was closed by a reconnect")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Make `redis://`, `rediss://` and `redis+socket://` broker URLs use this transport in this process."""
    for alias in ("redis", "rediss"):
        kombu.transport.TRANSPORT_ALIASES[alias] = f"{__name__}:Transport"
        # Drop a class resolved before install(), or the old one would keep being used.
        getattr(kombu.transport, "_transport_cache", {}).pop(alias, None)
