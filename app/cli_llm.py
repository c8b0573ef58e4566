"""`triage route-eval` and `triage calibrate`: the router's cost-quality curve and threshold on labelled tickets.

Offline, the tiers are the engine's own intent heads (TF-IDF = cheap, TF-IDF + MiniLM = strong) with their
measured cost in milliseconds per ticket; the difficulty score is the one the production router uses.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.config import Settings


def _difficulties(texts: Sequence[str], confidence: np.ndarray) -> np.ndarray:
    from app.routing.difficulty import difficulty

    return np.array([difficulty(float(c), chars=len(t)) for t, c in zip(texts, confidence)])


def _cascade(tiers, texts: Sequence[str], gold: Sequence[str]):  # noqa: ANN001, ANN202
    from app.routing.evaluate import Cascade

    cheap, strong = tiers.cheap(texts), tiers.strong(texts)
    return Cascade.of(gold, cheap.labels, strong.labels, _difficulties(texts, cheap.confidence),
                      cheap.ms_per_ticket, strong.ms_per_ticket)


def _split(labels: Sequence[str], holdout: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    fit, calib = train_test_split(index, test_size=holdout, stratify=labels, random_state=seed)
    return fit, calib


def calibrate_threshold(texts: list[str], labels: list[str], max_loss: float, strong_share: float | None,
                        holdout: float = 0.2) -> tuple[float, dict]:
    """Train the tiers on part of the data, pick the threshold on the held-out rest."""
    from integrations.llm.local import LocalTiers

    fit, calib = _split(labels, holdout)
    tiers = LocalTiers.train([texts[i] for i in fit], [labels[i] for i in fit])
    cascade = _cascade(tiers, [texts[i] for i in calib], [labels[i] for i in calib])
    threshold = cascade.threshold_for_share(strong_share) if strong_share is not None else cascade.threshold_for_loss(max_loss)
    return threshold, cascade.summary(threshold)


def _print(report: dict, out=sys.stdout) -> None:  # noqa: ANN001
    print(f"{'':14} {'accuracy':>9} {'strong %':>9} {'ms/ticket':>10}", file=out)
    for name in ("strong_only", "cheap_only", "router"):
        row = report[name]
        print(f"{name:14} {row['accuracy']:9.2%} {row['strong_fraction']:9.1%} {row['cost_per_ticket']:10.3f}", file=out)
    print("curve (router at several thresholds):", file=out)
    for row in report["curve"]:
        print(f"  t={row['threshold']:.3f}     {row['accuracy']:9.2%} {row['strong_fraction']:9.1%} "
              f"{row['cost_per_ticket']:10.3f}", file=out)
    print(f"APGR {report['apgr']:.3f}   CPT95 {report['cpt95']:.1%} strong calls", file=out)


def cmd_route_eval(args: argparse.Namespace, _settings: Settings) -> int:
    from app.triage.datasets import read_labelled
    from integrations.llm.local import LocalTiers

    train = read_labelled(args.train, args.text_column, args.label_column)
    test = read_labelled(args.test, args.text_column, args.label_column)
    print(f"calibrating the threshold on {args.holdout:.0%} of {len(train.texts)} training rows ...", file=sys.stderr)
    threshold, calib = calibrate_threshold(train.texts, train.labels, args.max_loss / 100, args.strong_share, args.holdout)
    print(f"training both tiers on all {len(train.texts)} rows, testing on {len(test.texts)} ...", file=sys.stderr)
    tiers = LocalTiers.train(train.texts, train.labels)
    report = _cascade(tiers, test.texts, test.labels).summary(threshold)
    report["tiers"] = {"cheap": LocalTiers.cheap_name, "strong": LocalTiers.strong_name, "cost_unit": "ms per ticket"}
    report["calibration"] = {"rows": calib["rows"], "router": calib["router"], "max_loss_points": args.max_loss}
    loss = (report["strong_only"]["accuracy"] - report["router"]["accuracy"]) * 100
    report["accuracy_loss_points"] = round(loss, 2)
    report["below_strong_fraction"] = round(1 - report["router"]["strong_fraction"], 4)
    _print(report)
    print(f"router keeps {report['below_strong_fraction']:.1%} of tickets below the strong tier, "
          f"losing {loss:.2f} accuracy points vs strong-only")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def cmd_calibrate(args: argparse.Namespace, _settings: Settings) -> int:
    from app.triage.datasets import read_labelled

    data = read_labelled(args.train, args.text_column, args.label_column)
    threshold, report = calibrate_threshold(data.texts, data.labels, args.max_loss / 100, args.strong_share, args.holdout)
    _print(report)
    print(f"\nLLM_STRONG_THRESHOLD={threshold:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"LLM_STRONG_THRESHOLD": round(threshold, 4), **report}, indent=2) + "\n")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    # --text-col/--label-col as in `triage train` and `triage eval`; the long spellings still work.
    parser.add_argument("--text-col", "--text-column", dest="text_column", help="text column (auto by name when not given)")
    parser.add_argument("--label-col", "--label-column", dest="label_column", help="label column (auto by name when not given)")
    parser.add_argument("--max-loss", type=float, default=0.2,
                        help="accuracy points the router may lose vs strong-only on the held-out part (default 0.2)")
    parser.add_argument("--strong-share", type=float, default=None,
                        help="target share of strong calls instead of --max-loss, e.g. 0.3")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of TRAIN held out to pick the threshold")
    parser.add_argument("--json", metavar="OUT.json")


def add_commands(sub: argparse._SubParsersAction) -> None:
    route_eval = sub.add_parser("route-eval", help="cost-quality curve of the LLM router on a labelled set")
    route_eval.add_argument("--train", required=True, metavar="TRAIN.csv")
    route_eval.add_argument("--test", required=True, metavar="TEST.csv")
    _common(route_eval)
    route_eval.set_defaults(func=cmd_route_eval)

    calibrate = sub.add_parser("calibrate", help="pick LLM_STRONG_THRESHOLD on your own labelled tickets")
    calibrate.add_argument("--train", required=True, metavar="LABELLED.csv")
    _common(calibrate)
    calibrate.set_defaults(func=cmd_calibrate)
