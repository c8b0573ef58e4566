"""Scoring an intent model on labelled data: accuracy, macro-F1, ECE, out-of-scope and escalation rate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from app.triage.calibration import expected_calibration_error
from app.triage.embeddings import DEFAULT_ENCODER
from app.triage.emotion import EmotionModel
from app.triage.escalation import Signals, reasons
from app.triage.intent import Embed, IntentModel, Progress
from app.triage.policy import Policy
from app.triage.taxonomy import OOS_LABELS, UNSURE


@dataclass
class Scored:
    """Predictions for a test set, in test order. `top` is the classifier's best label; `predicted` is what
    the pipeline reports (`unsure` below the policy's confidence bar or for an `oos` class)."""

    truth: list[str]
    top: list[str]
    predicted: list[str]
    full_top: list[str]  # the full head (embedding on every row), for comparison with the cascade
    confidence: np.ndarray
    emotion: np.ndarray
    texts: list[str]
    train_seconds: float
    predict_seconds: float
    stage_share: dict[str, float]  # share of rows answered by each cascade stage: tfidf, then each encoder


def score(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    train_embed: Embed,
    predict_embed: Embed,
    policy: Policy,
    emotion: EmotionModel | None,
    progress: Progress | None = None,
    encoders: Sequence[str] = (DEFAULT_ENCODER,),
    multilingual_encoder: str = "",
) -> Scored:
    started = time.perf_counter()
    model = IntentModel.train(
        train_texts,
        train_labels,
        train_embed,
        progress=progress,
        encoders=encoders,
        multilingual_encoder=multilingual_encoder,
    )
    train_seconds = time.perf_counter() - started
    return score_model(model, test_texts, test_labels, predict_embed, policy, emotion, train_seconds)


def score_model(
    model: IntentModel,
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    predict_embed: Embed,
    policy: Policy,
    emotion: EmotionModel | None,
    train_seconds: float = 0.0,
) -> Scored:
    """Score an already trained model (`triage eval --model DIR`): e.g. the shipped default model on a
    team's own labelled history, before go-live."""
    # As in the pipeline, language is detected before (and timed apart from) intent.
    languages = _languages(test_texts) if model.multilingual is not None else None
    started = time.perf_counter()
    prediction = model.predict(list(test_texts), predict_embed, languages=languages)
    predict_seconds = time.perf_counter() - started
    full = model.predict(list(test_texts), predict_embed, cascade=False, languages=languages)
    predicted = [
        UNSURE if (label.lower() in OOS_LABELS or conf < policy.unsure_below) else label
        for label, conf in zip(prediction.labels, prediction.confidence, strict=True)
    ]
    emotions = emotion.scores(list(test_texts)) if emotion else np.zeros(len(test_texts))
    return Scored(
        list(test_labels),
        list(prediction.labels),
        predicted,
        list(full.labels),
        prediction.confidence,
        emotions,
        list(test_texts),
        train_seconds,
        predict_seconds,
        _stage_share(model, prediction.stage),
    )


def _stage_share(model: IntentModel, stage: np.ndarray) -> dict[str, float]:
    names = model.stage_names if model.multilingual is not None else model.stage_names[:-1]
    counts = np.bincount(stage, minlength=len(names))
    return {name: float(counts[k]) / max(1, len(stage)) for k, name in enumerate(names)}


def _languages(texts: Sequence[str]) -> list[str]:
    from app.triage.language import LanguageDetector

    detector = LanguageDetector(None)  # as the worker decides it: English or not, among all languages
    return [detector.english_or_other(text) for text in texts]


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    folds: int,
    train_embed: Embed,
    predict_embed: Embed,
    policy: Policy,
    emotion: EmotionModel | None,
    on_fold: Callable[[int], None] | None = None,
    encoders: Sequence[str] = (DEFAULT_ENCODER,),
    multilingual_encoder: str = "",
) -> Scored:
    """K-fold: every row is predicted once by a model that did not see it; results merged in row order."""
    y = np.array(labels)
    top = [""] * len(y)
    full_top = [""] * len(y)
    predicted = [""] * len(y)
    confidence = np.zeros(len(y))
    emotions = np.zeros(len(y))
    train_seconds = predict_seconds = 0.0
    shares: dict[str, float] = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    # Labels rarer than the fold count cannot be stratified; sklearn warns and still splits.
    for k, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y)):
        part = score(
            [texts[i] for i in tr],
            [labels[i] for i in tr],
            [texts[i] for i in te],
            [labels[i] for i in te],
            train_embed,
            predict_embed,
            policy,
            emotion,
            encoders=encoders,
            multilingual_encoder=multilingual_encoder,
        )
        for j, i in enumerate(te):
            top[i] = part.top[j]
            full_top[i] = part.full_top[j]
            predicted[i] = part.predicted[j]
            confidence[i] = part.confidence[j]
            emotions[i] = part.emotion[j]
        train_seconds += part.train_seconds / folds
        predict_seconds += part.predict_seconds
        for name, share in part.stage_share.items():
            shares[name] = shares.get(name, 0.0) + share * len(te) / len(y)
        if on_fold:
            on_fold(k + 1)
    return Scored(
        list(labels),
        top,
        predicted,
        full_top,
        confidence,
        emotions,
        list(texts),
        train_seconds,
        predict_seconds,
        shares,
    )


def metrics(scored: Scored, policy: Policy, groups: Sequence[str] | None = None) -> dict:
    """`accuracy`, `macro_f1` and `ece` score the classifier's best label (an `oos` class counts as
    `unsure`); `inscope_accuracy` scores what the pipeline reports, so abstaining on an in-scope row
    counts as wrong there; `oos_recall` is the share of `oos` rows reported as `unsure`."""
    truth = np.array([UNSURE if t.lower() in OOS_LABELS else t for t in scored.truth])
    top = np.array([UNSURE if t.lower() in OOS_LABELS else t for t in scored.top])
    predicted = np.array(scored.predicted)
    correct = truth == top
    reported_correct = truth == predicted
    in_scope = truth != UNSURE
    result: dict = {
        "rows": len(truth),
        "accuracy": float(correct.mean()),
        "accuracy_full_model": float(
            (truth == np.array([UNSURE if t.lower() in OOS_LABELS else t for t in scored.full_top])).mean()
        ),
        "macro_f1": float(f1_score(truth, top, average="macro", zero_division=0)),
        "ece": expected_calibration_error(scored.confidence, correct),
        "inscope_accuracy": float(reported_correct[in_scope].mean()) if in_scope.any() else None,
        "oos_recall": float((predicted[~in_scope] == UNSURE).mean()) if (~in_scope).any() else None,
        # Out-of-scope rows that reach a human anyway: reported unsure, or below the escalation bar.
        "oos_escalated": float(
            ((predicted == UNSURE) | (scored.confidence < policy.low_confidence_below))[~in_scope].mean()
        )
        if (~in_scope).any()
        else None,
        "escalation_rate": escalation_rate(scored, policy),
        "train_seconds": round(scored.train_seconds, 2),
        "predict_per_second": round(len(truth) / max(scored.predict_seconds, 1e-9), 1),
        "embedding_share": round(1.0 - scored.stage_share.get("tfidf", 0.0), 3),
        "stage_share": {name: round(share, 3) for name, share in scored.stage_share.items()},
    }
    result["unsure_share"] = round(float((predicted == UNSURE).mean()), 4)
    # In-scope intents only: out-of-scope rows have their own figure (oos_recall), and the classifier's best
    # label can never be `unsure` unless the training data had an `oos` class.
    labels = sorted(set(truth[in_scope])) or sorted(set(truth))
    f1s = f1_score(truth, top, labels=labels, average=None, zero_division=0)
    result["worst_intents"] = [
        {"intent": labels[i], "f1": round(float(f1s[i]), 3), "support": int((truth == labels[i]).sum())}
        for i in np.argsort(f1s)[:5]
    ]
    if groups is not None:
        g = np.array(groups)
        result["by_group"] = {
            str(name): {
                "rows": int((g == name).sum()),
                "accuracy": round(float(correct[g == name].mean()), 4),
            }
            for name in sorted(set(g))
        }
    return result


def escalation_rate(scored: Scored, policy: Policy) -> float:
    """Share of rows the policy would hand to a human (single-message rules: no thread, no offer)."""
    escalated = 0
    rows = zip(scored.texts, scored.predicted, scored.confidence, scored.emotion, strict=True)
    for text, intent, conf, emo in rows:
        if reasons(Signals(intent, float(conf), float(emo), text, None, 1), policy):
            escalated += 1
    return escalated / max(len(scored.texts), 1)
