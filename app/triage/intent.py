"""Intent classifier: TF-IDF + sentence-embedding features, LinearSVC, temperature-calibrated, with a cascade.

Two heads share the TF-IDF features. The fast head (TF-IDF only, ~10k texts/s) answers when it is
confident; only the rest pay for an embedding (MiniLM or MPNet, named in the manifest) and the full head. The cascade threshold is picked
on held-out predictions so the cascade loses (almost) no accuracy against the full head.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from app.triage.calibration import fit_temperature, softmax
from app.triage.embeddings import DEFAULT_ENCODER
from app.triage.features import TfidfFeatures, read_manifest

EmbedFn = Callable[[Sequence[str]], np.ndarray]
Progress = Callable[[str, float], None]

FORMAT = "triage-intent/1"


@dataclass
class Head:
    """One linear classifier over some feature block, with its calibration temperature."""

    coef: np.ndarray
    intercept: np.ndarray
    temperature: float = 1.0

    def scores(self, x: sp.csr_matrix | np.ndarray) -> np.ndarray:
        return np.asarray(x @ self.coef.T, dtype=np.float32) + self.intercept

    def proba(self, x: sp.csr_matrix | np.ndarray) -> np.ndarray:
        return softmax(self.scores(x), self.temperature)


@dataclass
class IntentPrediction:
    labels: list[str]
    confidence: np.ndarray
    proba: np.ndarray
    used_embeddings: np.ndarray


@dataclass
class IntentModel:
    classes: list[str]
    features: TfidfFeatures
    fast: Head
    full: Head
    embedding_weight: float = 2.0
    cascade_threshold: float = 1.01
    meta: dict = field(default_factory=dict)
    encoder: str = DEFAULT_ENCODER  # the sentence encoder the full head was trained on; the worker loads it

    # ---------------------------------------------------------------- prediction
    def predict(self, texts: Sequence[str], embed: EmbedFn | None, cascade: bool = True) -> IntentPrediction:
        x = self.features.transform(texts)
        proba = self.fast.proba(x)
        need = np.ones(len(texts), dtype=bool)
        if cascade:
            need = proba.max(axis=1) < self.cascade_threshold
        if embed is not None and need.any():
            idx = np.flatnonzero(need)
            vectors = embed([texts[i] for i in idx])
            proba[idx] = self.full.proba(_stack(x[idx], vectors, self.embedding_weight))
        else:
            need[:] = False
        top = proba.argmax(axis=1)
        return IntentPrediction(
            labels=[self.classes[i] for i in top],
            confidence=proba[np.arange(len(texts)), top],
            proba=proba,
            used_embeddings=need,
        )

    # ---------------------------------------------------------------- training
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        embed: EmbedFn,
        *,
        c: float = 0.5,
        embedding_weight: float = 2.0,
        min_df: int = 1,
        calibration_folds: int = 3,
        max_cascade_loss: float = 0.001,
        progress: Progress | None = None,
        encoder: str = DEFAULT_ENCODER,
    ) -> IntentModel:
        """`embed` must be the encoder named by `encoder`: the name is saved so prediction uses the same."""
        step = progress or (lambda _msg, _frac: None)
        started = time.perf_counter()
        classes = sorted(set(labels))
        y = np.array([classes.index(label) for label in labels])
        step("tf-idf features", 0.02)
        features = TfidfFeatures(min_df=min_df).fit(texts)
        x_text = features.transform(texts)
        step(f"{encoder} embeddings", 0.08)
        vectors = embed(texts)
        x_full = _stack(x_text, vectors, embedding_weight)

        # Held-out scores for calibration and for choosing the cascade threshold.
        fast_scores = np.zeros((len(y), len(classes)), dtype=np.float32)
        full_scores = np.zeros_like(fast_scores)
        folds = min(calibration_folds, int(np.bincount(y).min())) if len(classes) > 1 else 0
        if folds >= 2:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
            for k, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y)):
                step(f"calibration fold {k + 1}/{folds}", 0.4 + 0.4 * k / folds)
                fast_scores[te] = _fit_head(x_text[tr], y[tr], c, len(classes)).scores(x_text[te])
                full_scores[te] = _fit_head(x_full[tr], y[tr], c, len(classes)).scores(x_full[te])
            fast_t = fit_temperature(fast_scores, y)
            full_t = fit_temperature(full_scores, y)
            fast_p, full_p = softmax(fast_scores, fast_t), softmax(full_scores, full_t)
            threshold = _cascade_threshold(fast_p, full_p, y, max_cascade_loss)
            keep_fast = fast_p.max(axis=1) >= threshold
            cv = {
                "cv_accuracy": round(float((full_p.argmax(axis=1) == y).mean()), 4),
                "cv_accuracy_cascade": round(
                    float(np.where(keep_fast, fast_p.argmax(axis=1) == y, full_p.argmax(axis=1) == y).mean()),
                    4,
                ),
            }
        else:
            fast_t = full_t = 5.0
            threshold = 1.01
            cv = {}
        step("final fit", 0.85)
        fast = _fit_head(x_text, y, c, len(classes))
        fast.temperature = fast_t
        full = _fit_head(x_full, y, c, len(classes))
        full.temperature = full_t
        step("done", 1.0)
        meta = {
            "format": FORMAT,
            "train_rows": len(y),
            "train_seconds": round(time.perf_counter() - started, 2),
            "c": c,
            "features": features.size,
            **cv,
        }
        return cls(classes, features, fast, full, embedding_weight, threshold, meta, encoder)

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> None:
        """manifest JSON + vocabulary JSON + weights npz (float16: the weights lose nothing that matters)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        idfs = self.features.save_vocabulary(out, "intent")
        np.savez_compressed(
            out / "intent_weights.npz",
            fast_coef=self.fast.coef.astype(np.float16),
            fast_intercept=self.fast.intercept.astype(np.float32),
            full_coef=self.full.coef.astype(np.float16),
            full_intercept=self.full.intercept.astype(np.float32),
            **idfs,
        )
        manifest = {
            **self.meta,
            "format": FORMAT,
            "encoder": self.encoder,
            "classes": self.classes,
            "embedding_weight": self.embedding_weight,
            "cascade_threshold": self.cascade_threshold,
            "fast_temperature": self.fast.temperature,
            "full_temperature": self.full.temperature,
        }
        (out / "intent.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> IntentModel:
        src = Path(directory)
        manifest = read_manifest(src, "intent", FORMAT)
        with np.load(src / "intent_weights.npz") as w:
            features = TfidfFeatures.load_vocabulary(src, "intent", w)
            fast = Head(w["fast_coef"].astype(np.float32), w["fast_intercept"], manifest["fast_temperature"])
            full = Head(w["full_coef"].astype(np.float32), w["full_intercept"], manifest["full_temperature"])
        return cls(
            manifest["classes"],
            features,
            fast,
            full,
            float(manifest["embedding_weight"]),
            float(manifest["cascade_threshold"]),
            manifest,
            manifest.get("encoder", DEFAULT_ENCODER),
        )


def _stack(x_text: sp.csr_matrix, vectors: np.ndarray, weight: float) -> sp.csr_matrix:
    return sp.hstack([x_text, sp.csr_matrix(vectors * weight)], format="csr")


def _fit_head(x: sp.csr_matrix, y: np.ndarray, c: float, n_classes: int) -> Head:
    svm = LinearSVC(C=c, dual="auto", max_iter=5000).fit(x, y)
    coef, intercept = svm.coef_, svm.intercept_
    if n_classes == 2:  # sklearn collapses binary problems to one row; keep one row per class
        coef = np.vstack([-coef[0], coef[0]]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    full_coef = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
    full_intercept = np.full(n_classes, -10.0, dtype=np.float32)
    present = svm.classes_
    full_coef[present] = coef
    full_intercept[present] = intercept
    return Head(full_coef, full_intercept)


def _cascade_threshold(fast: np.ndarray, full: np.ndarray, y: np.ndarray, max_loss: float) -> float:
    """Lowest fast-head confidence above which the fast answer is kept, within `max_loss` accuracy."""
    full_correct = full.argmax(axis=1) == y
    fast_correct = fast.argmax(axis=1) == y
    fast_conf = fast.max(axis=1)
    target = full_correct.mean() - max_loss
    # Never below 0.9: on real tickets (out of the training distribution) a fast answer needs a clear margin.
    for threshold in np.arange(0.9, 1.0, 0.005):
        keep = fast_conf >= threshold
        accuracy = np.where(keep, fast_correct, full_correct).mean()
        if accuracy >= target:
            return float(round(threshold, 3))
    return 1.01
