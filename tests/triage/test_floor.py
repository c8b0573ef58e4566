"""Accuracy floors on the public data in ../shared/data (skipped where it is absent, e.g. on CI).

The floors sit a little under the measured numbers (see the closing note of issue 6), so a regression in
features, calibration or training fails here instead of in production.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from app.triage import Models, Policy
from app.triage.datasets import Labelled, read_labelled
from app.triage.embeddings import Embedder
from app.triage.evaluation import cross_validate, metrics, score

from .conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]


def _needs(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def _training_script():
    spec = importlib.util.spec_from_file_location(
        "train_default_model", ROOT / "scripts" / "train_default_model.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_model_on_bitext_test(models: Models) -> None:
    path = _needs("bitext_customer_support", "test.csv")
    mapping = _training_script().BITEXT_TO_TAXONOMY
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    prediction = models.intent.predict([r["instruction"] for r in rows], models.embedder.embed)
    truth = np.array([mapping[r["intent"]] for r in rows])
    assert (np.array(prediction.labels) == truth).mean() >= 0.96


def test_emotion_targets() -> None:
    _needs("goemotions", "test.csv")
    from app.triage.bundle import DEFAULT_MODEL_DIR
    from app.triage.emotion import EmotionModel

    report = _training_script().emotion_report(EmotionModel.load(DEFAULT_MODEL_DIR), SHARED_DATA)
    assert report["goemotions_test_anger_recall"] >= 0.90
    assert report["bitext_test_emotion_escalation_rate"] <= 0.20


def test_natcs_banking_cross_validated(policy: Policy) -> None:
    data = read_labelled(_needs("natcs_dstc11", "banking.csv"))
    embedder = Embedder(threads=2)
    scored = cross_validate(data.texts, data.labels, 5, embedder.embed, embedder.embed, policy, None)
    result = metrics(scored, policy)
    assert result["accuracy"] >= 0.95
    assert result["ece"] <= 0.05


def _train_and_score(train: Labelled, test: Labelled, policy: Policy, encoders: list[str], multilingual: str = "") -> dict:
    """As `triage eval` runs it: TF-IDF, then each encoder in turn where the previous stage is unsure."""
    names = [*encoders, *([multilingual] if multilingual else [])]
    embed = {name: Embedder(threads=2, encoder_name=name).embed for name in names}
    scored = score(
        train.texts,
        train.labels,
        test.texts,
        test.labels,
        embed,
        embed,
        policy,
        None,
        encoders=encoders,
        multilingual_encoder=multilingual,
    )
    return metrics(scored, policy, [r.get("lang", "") for r in test.rows])


def test_banking77_train_test(policy: Policy) -> None:
    """The TF-IDF + MiniLM cascade (`--encoder minilm`) on all 10,003 training queries, 77 intents.

    Measured 94.29% (full model 94.32%), ECE 0.020, ~100 s on the slow days of the CI machine. The default
    cascade adds MPNet for 94.9%, but embedding 10k queries with MPNet took 10 of CI's minutes on those
    days: its number is measured on demand by `python -m bench.accuracy` (README), and MPNet's vectors and
    its place in the cascade are tested in test_encoders.py and test_intent.py.
    """
    train = read_labelled(_needs("banking77", "train.csv"))
    test = read_labelled(_needs("banking77", "test.csv"))
    result = _train_and_score(train, test, policy, ["minilm"])
    assert result["accuracy_full_model"] >= 0.935
    assert result["accuracy"] >= 0.935
    assert result["ece"] <= 0.05


def test_xsid_tickets_not_in_english_go_to_the_multilingual_head(policy: Policy) -> None:
    # Trained on the 300 English rows only; every language's test rows scored (measured: 64.3% overall).
    path = _needs("xsid_multilingual", "xsid_0.7_valid_test.csv")
    train = read_labelled(path, where="lang=en,split=valid")
    test = read_labelled(path, where="split=test")
    result = _train_and_score(train, test, policy, ["minilm", "mpnet"], multilingual="use")
    assert result["accuracy"] >= 0.62  # English encoders alone: 0.35
    by_lang = result["by_group"]
    assert by_lang["en"]["accuracy"] >= 0.92
    for lang in ("de", "it", "tr", "zh", "nl"):
        assert by_lang[lang]["accuracy"] >= 0.80, lang
