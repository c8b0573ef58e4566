"""Run the Procfile's web and worker processes locally (the embedded default), with logs under VAR_DIR."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from app.config import PROJECT_ROOT, Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@dataclass
class LocalStack:
    settings: Settings
    port: int = 0
    web_workers: int = 2
    worker_concurrency: int = 2
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    owns_redis: bool = False  # we started the embedded Redis, so we stop it too

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return Path(self.settings.VAR_DIR).resolve() / "log"

    def start(self, timeout: float = 90.0) -> None:
        # `kill` or a CI timeout sends SIGTERM: turn it into SystemExit so callers' `finally: stop()` runs
        # and no web/worker process is left behind.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        if not self.settings.REDIS_URL:
            from app.broker import embedded_redis_running, ensure_embedded_redis

            self.owns_redis = not embedded_redis_running(self.settings.VAR_DIR)
            ensure_embedded_redis(self.settings.VAR_DIR)
        self.port = self.port or free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "VAR_DIR": str(Path(self.settings.VAR_DIR).resolve()), "PYTHONUNBUFFERED": "1"}
        self._spawn(
            "web",
            [_bin("gunicorn"), "app.web:create_app()", "-b", f"127.0.0.1:{self.port}", "-w", str(self.web_workers),
             "--worker-class", "gthread", "--threads", "4", "--timeout", "30"],
            env,
        )
        self._spawn(
            "worker",
            [_bin("celery"), "-A", "workers.celery_app", "worker", "--concurrency", str(self.worker_concurrency),
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"triage-{os.getpid()}@%h"],
            env,
        )
        self._wait_healthy(timeout)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes.append(
            subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see {self.log_dir}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=1).status_code == 200 and self._worker_ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"web did not become healthy in {timeout:.0f}s; see {self.log_dir / 'web.log'}")

    def _worker_ready(self) -> bool:
        """Every pool process of our worker has loaded the models (workers.celery_app marks it in Redis)."""
        from app.broker import redis_client

        worker_pid = self.processes[1].pid
        ready = list(redis_client(self.settings).scan_iter(f"triage:pool-ready:{worker_pid}:*"))
        return len(ready) >= self.worker_concurrency

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.processes.clear()
        if self.owns_redis:
            from app.broker import stop_embedded_redis

            stop_embedded_redis(self.settings.VAR_DIR)
            self.owns_redis = False
