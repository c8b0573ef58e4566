"""Intake benchmark: the real webhook endpoint vs a bare Flask endpoint, same gunicorn settings, one run.

Each wrk request is a distinct, freshly signed Zendesk webhook (a new ticket id), so every request takes
the full path: verify HMAC, INSERT and commit the delivery, publish to Redis. The endpoints are measured in
turn, several short rounds each, and the medians reported, at each client concurrency asked for (wrk is a
closed loop: with C connections on a saturated server the latency is C / throughput, so p99 is a property
of the load as much as of the endpoint). Prints a table and writes bench/results/intake.json.
Usage: python -m bench.intake [--rounds 5] [--seconds 4] [--connections 8,16,32] [--view-only]
Needs wrk (apt-get install wrk).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from app.config import PROJECT_ROOT, load_settings
from app.webhooks.signature import zendesk_headers

RESULTS = PROJECT_ROOT / "bench" / "results"
SECRET = "bench-secret-0123456789"


def lua_script(path: Path, count: int, first_id: int = 100000) -> None:
    """wrk cannot compute HMACs, so requests are pre-signed (valid for the 5-minute window) and cycled.

    They go to a data file read once per wrk thread: a Lua chunk with tens of thousands of literal
    entries exceeds Lua's constant limit and wrk silently falls back to plain GETs.
    """
    data = path.with_suffix(".tsv")
    with data.open("w") as out:
        for i in range(count):
            body = json.dumps({"ticket_id": str(first_id + i), "event": "created", "subject": "Where is my order?"})
            headers = zendesk_headers(SECRET, body.encode(), account_id="bench", invocation_id=f"inv-{first_id + i}")
            out.write("\t".join([body, headers["X-Zendesk-Webhook-Signature-Timestamp"], headers["X-Zendesk-Webhook-Signature"], f"inv-{first_id + i}"]) + "\n")
    path.write_text(f"""
local reqs = {{}}
for line in io.lines("{data}") do
  local body, ts, sig, inv = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)")
  reqs[#reqs + 1] = wrk.format("POST", "/webhooks/zendesk", {{
    ["Content-Type"] = "application/json; charset=utf-8", ["User-Agent"] = "Zendesk Webhook",
    ["X-Zendesk-Account-Id"] = "bench", ["X-Zendesk-Webhook-Invocation-Id"] = inv,
    ["X-Zendesk-Webhook-Signature-Timestamp"] = ts, ["X-Zendesk-Webhook-Signature"] = sig}}, body)
end
local i = 0
request = function()
  i = (i % #reqs) + 1
  return reqs[i]
end
""")


def gunicorn(target: str, port: int, args: argparse.Namespace, env: dict[str, str], log: Path) -> subprocess.Popen:
    argv = [str(Path(sys.executable).parent / "gunicorn"), target, "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
            "--worker-class", args.worker_class, "--threads", str(args.server_threads), "--timeout", "30",
            "--log-level", "warning"]
    proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{target} did not start; see {log}")


def wrk(port: int, script: Path, seconds: int, connections: int, threads: int) -> dict[str, float]:
    run = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    )
    if run.stderr.strip():
        raise RuntimeError(f"wrk: {run.stderr.strip()[:500]}")
    out = run.stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50"), "p99_ms": ms("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": "Socket errors" in out,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per endpoint, taken in turn")
    parser.add_argument("--connections", default="8,16,32", help="wrk connections, comma-separated: one table row pair each")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"], help="gunicorn worker class")
    parser.add_argument("--server-threads", type=int, default=4, help="gunicorn gthread threads per worker")
    parser.add_argument("--view-only", action="store_true",
                        help="also serve the webhook view with storage and the Redis push taken out (bench/view_only_app.py)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bi-", dir="/tmp"))
    env = {**os.environ, "VAR_DIR": str(tmp), "ZENDESK_WEBHOOK_SECRET": SECRET, "HELPDESK": "sandbox", "LOG_LEVEL": "WARNING"}
    settings = load_settings(VAR_DIR=tmp, ZENDESK_WEBHOOK_SECRET=SECRET, HELPDESK="sandbox")
    from app.broker import broker_url, stop_embedded_redis
    from app.cli import migrate

    migrate(settings)
    broker_url(settings)  # start the embedded Redis before the web workers race for it
    script = tmp / "signed.lua"
    levels = [int(c) for c in str(args.connections).split(",")]
    servers = [("bare flask", "bench.bare_app:app", 18081), ("webhook endpoint", "app.web:create_app()", 18082)]
    if args.view_only:
        servers.append(("view only", "bench.view_only_app:app", 18083))
    runs: dict[int, dict[str, list[dict]]] = {c: {name: [] for name, _, _ in servers} for c in levels}
    procs = []
    next_id = 100_000
    try:
        # All servers up at once (an idle one costs nothing), then short runs taken in turn: the speed of a
        # shared machine drifts by the minute, and in turn each drift hits every endpoint alike. One long
        # run per endpoint measured the drift as often as the endpoints (0.26x to 0.60x on one afternoon).
        for name, target, port in servers:
            procs.append(gunicorn(target, port, args, env, tmp / f"{port}.log"))
        for round_ in range(args.rounds + 1):  # round 0 warms up (imports, connections, page cache)
            for connections in levels:
                # Alternate which endpoint goes first (bare, webhook; then webhook, bare; ...), so whatever
                # the previous run leaves behind (a warm or a busy machine) falls on both alike.
                for name, _, port in servers if round_ % 2 else servers[::-1]:
                    # Fresh ticket ids for every run: each request is a new delivery, never a duplicate.
                    lua_script(script, 1_000 * args.seconds * 10, first_id=next_id)
                    next_id += 1_000 * args.seconds * 10
                    result = wrk(port, script, args.seconds if round_ else 1, connections, args.threads)
                    if round_:
                        runs[connections][name].append(result)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        stop_embedded_redis(tmp)
    threads = f" x {args.server_threads} threads" if args.worker_class == "gthread" else ""
    print(f"\nIntake: gunicorn {args.workers} {args.worker_class} workers{threads}, wrk {args.threads} threads, "
          f"{args.rounds} rounds of {args.seconds}s per endpoint and load taken in turn, 127.0.0.1 (medians)")
    print(f"{'connections':>11} {'endpoint':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}   ratio (rounds)")
    report = []
    for connections in levels:
        level = runs[connections]
        results = {name: _median_run(r) for name, r in level.items()}
        ratios = [w["requests_per_second"] / b["requests_per_second"] for w, b in zip(level["webhook endpoint"], level["bare flask"])]
        ratio = statistics.median(ratios)
        webhook = results["webhook endpoint"]
        met = ratio >= 0.7 and webhook["p99_ms"] < 50 and webhook["non_2xx"] == 0
        for name, r in results.items():
            note = ""
            if name == "webhook endpoint":
                note = f"   {ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) {'target met' if met else 'target NOT met'}"
            elif name == "view only":
                note = f"   {statistics.median(v['requests_per_second'] / b['requests_per_second'] for v, b in zip(level['view only'], level['bare flask'])):.2f}x"
            print(f"{connections:>11} {name:<18} {r['requests_per_second']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['non_2xx']:>8}{note}")
        report.append({"connections": connections, "results": results, "ratio": ratio, "round_ratios": ratios,
                       "target_met": met, "runs": level})
    print("target: webhook >= 0.70x bare Flask req/s with webhook p99 < 50 ms, no errors")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake.json").write_text(json.dumps({"settings": vars(args), "levels": report}, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _median_run(runs: list[dict]) -> dict:
    """Each figure's median over the rounds; the non-2xx count is the total."""
    return {
        "requests_per_second": statistics.median(r["requests_per_second"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "errors": any(r["errors"] for r in runs),
    }


if __name__ == "__main__":
    sys.exit(main())
