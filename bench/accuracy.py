"""Intent accuracy on the public labelled sets in ../shared/data, as `triage eval` measures it (README table).

Each set runs the real command (`triage eval ... --json bench/results/eval_<set>.json`) in its own process,
then one table is printed and bench/results/accuracy.json written. Takes ~5 min on a quiet 2-core machine,
up to ~20 on a slow day (embedding 10k Banking77 queries with MPNet is most of it); run on demand, not in CI.
Usage: python -m bench.accuracy [--sets banking77,banking77_minilm,natcs_banking,xsid] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from app.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"


def commands(data: Path) -> dict[str, list[str]]:
    xsid = str(data / "xsid_multilingual" / "xsid_0.7_valid_test.csv")
    sets = {
        "banking77": ["--train", str(data / "banking77" / "train.csv"), "--test", str(data / "banking77" / "test.csv")],
        "banking77_minilm": ["--train", str(data / "banking77" / "train.csv"), "--test", str(data / "banking77" / "test.csv"),
                             "--encoder", "minilm"],
        "xsid": ["--train", xsid, "--train-where", "lang=en,split=valid", "--test", xsid, "--test-where", "split=test", "--by", "lang"],
    }
    for domain in ("banking", "finance", "insurance"):
        sets[f"natcs_{domain}"] = ["--data", str(data / "natcs_dstc11" / f"{domain}.csv"), "--folds", "5"]
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", default="banking77,banking77_minilm,natcs_banking,natcs_finance,natcs_insurance,xsid")
    args = parser.parse_args()
    available = commands(args.data)
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in available]
    if unknown:
        print(f"unknown sets {unknown}; choose from {', '.join(available)}", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"{args.data} not found: pass --data DIR with the labelled sets", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    triage = str(Path(sys.executable).parent / "triage")
    walls = {}
    for name in wanted:
        out = RESULTS / f"eval_{name}.json"
        started = time.monotonic()
        run = subprocess.run([triage, "eval", *available[name], "--json", str(out)], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{name}: triage eval failed\n{run.stderr[-2000:]}", file=sys.stderr)
            return 1
        walls[name] = round(time.monotonic() - started, 1)
        print(f"{name}: {json.loads(out.read_text())['accuracy']:.4f} ({walls[name]} s)", file=sys.stderr, flush=True)
    rows = {}  # every set with a result on disk; sets not run now keep their last measurement
    for name in available:
        out = RESULTS / f"eval_{name}.json"
        if not out.exists():
            continue
        result = json.loads(out.read_text())
        rows[name] = {
            "accuracy": result["accuracy"], "macro_f1": result.get("macro_f1"), "ece": result.get("ece"),
            "train_seconds": result.get("train_seconds"), "predict_per_second": result.get("predict_per_second"),
            "wall_seconds": walls.get(name), "rows": result.get("rows"), "measured_now": name in walls,
        }
    print(f"\n{'set':<18} {'rows':>6} {'accuracy':>9} {'macro-F1':>9} {'ECE':>6} {'train s':>8} {'pred/s':>7} {'wall s':>7}")
    for name, r in rows.items():
        print(f"{name:<18} {r['rows'] or 0:>6} {r['accuracy']:>9.2%} {r['macro_f1'] or 0:>9.3f} {r['ece'] or 0:>6.3f} "
              f"{r['train_seconds'] or 0:>8.0f} {r['predict_per_second'] or 0:>7.0f} {r['wall_seconds'] or 0:>7.0f}"
              + ("" if r["measured_now"] else "  (earlier run)"))
    (RESULTS / "accuracy.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
