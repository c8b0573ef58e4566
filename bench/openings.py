"""Intent accuracy when the request comes after a courteous opening, with the transformer reading the first
32 tokens vs from the ticket's most telling sentence on (app/triage/focus.py).

Bitext test queries (../shared/data, CDLA-Sharing 1.0), mapped onto the default taxonomy, sent through the
whole local pipeline as the first message of a ticket: as written, behind a short opening ("Hi support,
quick question for you."), and behind a long one ("Hello, I hope this message finds you well and ...").
Prints a table and writes bench/results/openings.json.
Usage: python -m bench.openings [--queries 400] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

from app.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"
SHORT = [
    "Hey guys, hope your week is going well!",
    "Hello, thank you for your time.",
    "Hi Sarah, hope you had a nice weekend.",
    "Good afternoon, I'm reaching out because I need some help with something.",
    "Dear Sir or Madam, I am contacting you regarding my recent experience with your company.",
    "Hi support, quick question for you.",
    "Hello, my name is John Peters and I have been a member since 2019.",
]
LONG = [
    "Hello, I hope this message finds you well and that you had a great weekend with your family.",
    "Hi there, first of all I want to say that I really love your products and I have recommended you to all my friends.",
    "Good evening, I am sorry to bother you so late, I know you must be very busy with the holiday season.",
    "Dear customer service, I am writing to you today because I have a small issue that I hope you can help me with.",
    "Hi, thanks so much for getting back to me so quickly last time, your colleague was really helpful.",
    "Hi team, I have been a loyal customer for about six years now and normally everything works without any trouble at all, so this is new for me.",
    "Good morning, I tried to find the answer on your website and in the help center but could not find anything useful, so I am writing to you directly.",
    "Dear support, sorry for the long message, I am writing from my phone while travelling and it is a bit hard to type.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    test = args.data / "bitext_customer_support" / "test.csv"
    if not test.exists():
        print(f"needs {test}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
    from train_default_model import BITEXT_TO_TAXONOMY  # the mapping the shipped model is measured with

    from app import triage
    from app.triage import pipeline
    from app.triage.ticket import Comment, Ticket

    rows = list(csv.DictReader(test.open(encoding="utf-8")))
    random.Random(7).shuffle(rows)
    rows = rows[: args.queries]
    models, policy = triage.load_models(), triage.load_policy()
    focused = pipeline._what_the_transformer_reads
    results = []
    for name, openings in (("as written", [""]), ("short opening", SHORT), ("long opening", LONG)):
        pick = random.Random(11)
        bodies = [f"{pick.choice(openings)} {r['instruction']}".strip() for r in rows]
        for reading, wrapper in (("first 32 tokens", lambda _models, _language: lambda text: text), ("most telling sentence on", focused)):
            pipeline._what_the_transformer_reads = wrapper
            right, started = 0, time.process_time()
            for body, row in zip(bodies, rows, strict=True):
                ticket = Ticket(provider="bench", id="1", subject="Question about my account", comments=(Comment("1", "customer", body),))
                right += triage.run(ticket, models, policy).intent == BITEXT_TO_TAXONOMY[row["intent"]]
            results.append({"queries": name, "transformer_reads": reading, "accuracy": round(right / len(rows), 4),
                            "cpu_ms_per_ticket": round((time.process_time() - started) * 1000 / len(rows), 2)})
    pipeline._what_the_transformer_reads = focused
    print(f"\nIntent accuracy, {len(rows)} Bitext test queries through the local pipeline")
    print(f"{'queries':<15} {'transformer reads':<26} {'accuracy':>9} {'cpu ms/ticket':>14}")
    for r in results:
        print(f"{r['queries']:<15} {r['transformer_reads']:<26} {r['accuracy']:>9.1%} {r['cpu_ms_per_ticket']:>14.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "openings.json").write_text(json.dumps({"queries": len(rows), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
