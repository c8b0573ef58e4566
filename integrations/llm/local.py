"""The offline engine as a routing tier: its TF-IDF head is the cheap tier, TF-IDF + MiniLM the strong one.

In production the offline engine is the last tier of every chain (the router keeps its decision when all
models fail); here its two intent heads are exposed as tiers of different real cost so `triage route-eval`
and `triage calibrate` can measure a cost-quality curve with no API key.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.triage.embeddings import Embedder, shared_embedder
from app.triage.intent import IntentModel


@dataclass
class TierAnswers:
    labels: list[str]
    confidence: np.ndarray
    ms_per_ticket: float  # measured on this machine: the tier's cost


@dataclass
class LocalTiers:
    """Both offline tiers over one trained intent model (the heads share the TF-IDF features)."""

    model: IntentModel
    embedder: Embedder

    cheap_name = "local:tfidf-linear"
    strong_name = "local:tfidf+minilm-linear"

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], embedder: Embedder | None = None) -> "LocalTiers":
        embedder = embedder or shared_embedder()
        return cls(IntentModel.train(list(texts), list(labels), embedder.embed), embedder)

    def cheap(self, texts: Sequence[str]) -> TierAnswers:
        started = time.perf_counter()
        proba = self.model.fast.proba(self.model.features.transform(texts))
        return self._answers(proba, started, len(texts))

    def strong(self, texts: Sequence[str]) -> TierAnswers:
        started = time.perf_counter()
        prediction = self.model.predict(list(texts), self.embedder.embed, cascade=False)
        return self._answers(prediction.proba, started, len(texts))

    def _answers(self, proba: np.ndarray, started: float, n: int) -> TierAnswers:
        top = proba.argmax(axis=1)
        return TierAnswers(
            labels=[self.model.classes[i] for i in top],
            confidence=proba[np.arange(len(top)), top],
            ms_per_ticket=(time.perf_counter() - started) * 1000 / max(1, n),
        )
