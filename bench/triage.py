"""Benchmark of the local triage pipeline: tickets/s on one core, per-stage p50/p99, load time and memory.

Usage: .venv/bin/python bench/triage.py [--tickets 1000] [--json bench/results/triage.json]
Runs app.triage.run on the demo sample tickets (app/demo/sample_tickets.json), cycling through them with
the embedding cache off so every ticket pays full price. Pinned to one CPU core, one ONNX thread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLES = ROOT / "app" / "demo" / "sample_tickets.json"
GOLDEN = ROOT / "tests" / "triage" / "golden_threads.json"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_tickets() -> list:
    from app.triage.ticket import Comment, Ticket

    tickets = []
    if SAMPLES.exists():
        for raw in json.loads(SAMPLES.read_text()):
            comments = tuple(
                Comment(str(i), c["author_role"], c["body"])
                for i, c in enumerate(raw.get("comments", []), start=1)
            )
            requester = raw.get("requester", {})
            tickets.append(
                Ticket(
                    "sandbox",
                    str(raw["id"]),
                    raw.get("subject", ""),
                    comments,
                    requester.get("name", ""),
                    requester.get("locale", ""),
                    tags=tuple(raw.get("tags", ())),
                )
            )
    for case in json.loads(GOLDEN.read_text()):
        comments = tuple(
            Comment(str(i), role, body) for i, (role, body) in enumerate(case["thread"], start=1)
        )
        tickets.append(
            Ticket(
                "sandbox",
                case["id"],
                case["subject"],
                comments,
                case.get("requester_name", ""),
                case.get("locale", ""),
                tags=tuple(case.get("tags", ())),
            )
        )
    return tickets


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ["TRIAGE_EMBED_THREADS"] = "1"

    import onnxruntime  # noqa: F401
    import sklearn.svm  # noqa: F401

    import app.triage as triage  # noqa: F401  (imports numpy, sklearn, onnxruntime: not part of the models' cost)

    before = rss_mb()
    started = time.perf_counter()
    models = triage.load_models()
    policy = triage.load_policy()
    load_seconds = time.perf_counter() - started
    tickets = load_tickets()
    for ticket in tickets:  # warm-up: lingua and onnxruntime allocate on first use
        triage.run(ticket, models, policy)
    # A tiny cache: the intent and retrieval stages of one ticket share an embedding (as in the worker),
    # but cycling through the sample set never hits it.
    models.embedder.set_cache_size(4)
    after_load = rss_mb()

    stages: dict[str, list[float]] = {}
    totals: list[float] = []
    escalated = 0
    started = time.perf_counter()
    for i in range(args.tickets):
        t0 = time.perf_counter()
        decision = triage.run(tickets[i % len(tickets)], models, policy)
        totals.append((time.perf_counter() - t0) * 1000)
        escalated += decision.escalate
        for stage in decision.trace:
            stages.setdefault(stage.name, []).append(stage.ms)
    elapsed = time.perf_counter() - started
    result = {
        "tickets": args.tickets,
        "distinct_tickets": len(tickets),
        "tickets_per_second": round(args.tickets / elapsed, 1),
        "p50_ms": round(percentile(totals, 0.5), 2),
        "p99_ms": round(percentile(totals, 0.99), 2),
        "escalated_share": round(escalated / args.tickets, 3),
        "stages": {
            name: {
                "p50_ms": round(percentile(v, 0.5), 3),
                "p99_ms": round(percentile(v, 0.99), 3),
                "runs": len(v),
            }
            for name, v in stages.items()
        },
        "model_load_seconds": round(load_seconds, 2),
        "rss_before_models_mb": round(before, 1),
        "rss_after_models_mb": round(after_load, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "models_add_mb": round(rss_mb() - before, 1),
        "model_version": models.version,
    }
    print(
        f"{result['tickets_per_second']} tickets/s on one core "
        f"({args.tickets} runs over {len(tickets)} tickets), "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
    )
    for name, s in result["stages"].items():
        print(f"  {name:<11} p50 {s['p50_ms']:>8.3f} ms  p99 {s['p99_ms']:>8.3f} ms  ({s['runs']} runs)")
    print(
        f"models load {result['model_load_seconds']} s, add {result['models_add_mb']} MB RSS "
        f"({result['rss_before_models_mb']} -> {result['rss_end_mb']} MB)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
