from __future__ import annotations

from pathlib import Path

import numpy as np

from app.triage import Models
from app.triage.calibration import expected_calibration_error, fit_temperature, softmax
from app.triage.intent import IntentModel

TRAIN = {
    "refund": [
        "I want my money back",
        "refund my order please",
        "when do I get my refund",
        "give me a refund",
    ],
    "tracking": ["where is my parcel", "track my order", "has my package shipped", "delivery status please"],
    "password": ["I forgot my password", "reset my password", "cannot log in", "login does not work"],
}


def _data() -> tuple[list[str], list[str]]:
    texts = [t for label in TRAIN for t in TRAIN[label]]
    labels = [label for label in TRAIN for _ in TRAIN[label]]
    return texts, labels


def test_train_predict_save_load_round_trip(models: Models, tmp_path: Path) -> None:
    texts, labels = _data()
    model = IntentModel.train(texts, labels, models.embedder.embed, calibration_folds=2)
    queries = ["I'd like a refund", "where's my package", "password reset link"]
    before = model.predict(queries, models.embedder.embed, cascade=False)
    assert before.labels == ["refund", "tracking", "password"]
    model.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    after = loaded.predict(queries, models.embedder.embed, cascade=False)
    assert after.labels == before.labels
    assert np.allclose(after.proba, before.proba, atol=2e-3)  # float16 weights
    assert {p.name for p in tmp_path.iterdir()} == {
        "intent.json",
        "intent_vocabulary.json",
        "intent_weights.npz",
    }


def test_cascade_skips_embeddings_when_fast_head_is_sure(models: Models) -> None:
    calls: list[int] = []

    def counting_embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return models.embedder.embed(texts)

    prediction = models.intent.predict(["where is my order", "track order"], counting_embed)
    assert prediction.used_embeddings.sum() == sum(calls)


def test_temperature_and_ece() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    scores = rng.normal(size=(500, 3))
    scores[np.arange(500), y] += 1.5
    t = fit_temperature(scores, y)
    p = softmax(scores, t)
    ece = expected_calibration_error(p.max(axis=1), p.argmax(axis=1) == y)
    assert ece < 0.06
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([False, False])) == 1.0


def test_default_model_is_versioned_and_covers_the_taxonomy(models: Models) -> None:
    from app.triage.taxonomy import INTENTS

    assert models.version.startswith("default-")
    assert sorted(models.intent.classes) == sorted(INTENTS)


def test_three_stage_cascade_pays_for_the_strong_encoder_only_where_needed(models: Models, tmp_path: Path) -> None:
    texts, labels = _data()
    calls: dict[str, int] = {"cheap": 0, "strong": 0}

    def counting(name: str):  # noqa: ANN202
        def embed(batch: list[str]) -> np.ndarray:
            calls[name] += len(batch)
            return models.embedder.embed(batch)

        return embed

    embed = {"cheap": counting("cheap"), "strong": counting("strong")}
    model = IntentModel.train(texts * 3, labels * 3, embed, calibration_folds=3, encoders=["cheap", "strong"])
    assert len(model.heads) == 3 and len(model.thresholds) == 2
    model.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    assert loaded.encoders == ["cheap", "strong"] and loaded.thresholds == model.thresholds

    calls.update(cheap=0, strong=0)
    queries = ["I'd like a refund", "where's my package", "password reset link", "refund"]
    cascaded = loaded.predict(queries, embed)
    # Each stage embeds exactly the texts that reach it, and a text reaches `strong` only through `cheap`.
    assert calls["cheap"] == int((cascaded.stage >= 1).sum())
    assert calls["strong"] == int((cascaded.stage == 2).sum())
    full = loaded.predict(queries, embed, cascade=False)
    assert set(full.stage.tolist()) == {2}
    assert full.labels[:3] == ["refund", "tracking", "password"]


def test_a_bare_embed_function_serves_only_single_encoder_models(models: Models) -> None:
    texts, labels = _data()
    try:
        IntentModel.train(texts, labels, models.embedder.embed, encoders=["minilm", "mpnet"])
    except ValueError as exc:
        assert "one embed function per encoder" in str(exc)
    else:
        raise AssertionError("a bare function was accepted for two encoders")
