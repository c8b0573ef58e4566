"""Cost-quality of a two-model cascade on labelled tickets: the curve, APGR and CPT, as RouteLLM defines them.

PGR (performance gap recovered) at a strong-call share s is (acc(s) - acc_cheap) / (acc_strong - acc_cheap);
APGR is its area over s in [0, 1]; CPT(x) is the smallest share whose PGR reaches x.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cascade:
    """Per-ticket outcomes of both tiers, and the router's difficulty (higher = send to strong)."""

    cheap_correct: np.ndarray
    strong_correct: np.ndarray
    difficulty: np.ndarray
    cheap_cost: float  # per ticket
    strong_cost: float

    @classmethod
    def of(cls, gold: Sequence[str], cheap: Sequence[str], strong: Sequence[str], difficulty: Sequence[float],
           cheap_cost: float, strong_cost: float) -> "Cascade":
        y = np.asarray(gold)
        return cls(np.asarray(cheap) == y, np.asarray(strong) == y, np.asarray(difficulty, dtype=float), cheap_cost, strong_cost)

    @property
    def n(self) -> int:
        return len(self.difficulty)

    def accuracy_by_strong_calls(self) -> np.ndarray:
        """acc[k] when the k hardest tickets go to the strong tier (k = 0..n)."""
        order = np.argsort(-self.difficulty, kind="stable")
        gain = (self.strong_correct[order].astype(int) - self.cheap_correct[order].astype(int)).cumsum()
        return (self.cheap_correct.sum() + np.concatenate([[0], gain])) / self.n

    def at_threshold(self, threshold: float) -> dict:
        strong = self.difficulty >= threshold
        correct = np.where(strong, self.strong_correct, self.cheap_correct)
        share = float(strong.mean())
        return {
            "threshold": round(float(threshold), 4),
            "accuracy": round(float(correct.mean()), 4),
            "strong_fraction": round(share, 4),
            "cost_per_ticket": round(self.cheap_cost + share * self.strong_cost, 6),
        }

    def threshold_for_loss(self, max_loss: float) -> float:
        """Lowest strong share whose accuracy is within `max_loss` of strong-only, as a difficulty threshold."""
        acc = self.accuracy_by_strong_calls()
        target = self.strong_correct.mean() - max_loss
        k = int(np.argmax(acc >= target - 1e-12)) if (acc >= target - 1e-12).any() else self.n
        return self._threshold_for_calls(k)

    def threshold_for_share(self, share: float) -> float:
        return self._threshold_for_calls(int(round(share * self.n)))

    def _threshold_for_calls(self, k: int) -> float:
        ranked = np.sort(self.difficulty)[::-1]
        if k <= 0:
            return float(ranked[0]) + 1e-6
        if k >= self.n:
            return float(ranked[-1])
        # Midway between the k-th hardest and the next: robust to small shifts on new data.
        return float((ranked[k - 1] + ranked[k]) / 2)

    def summary(self, threshold: float, shares: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)) -> dict:
        acc = self.accuracy_by_strong_calls()
        cheap_acc, strong_acc = float(self.cheap_correct.mean()), float(self.strong_correct.mean())
        gap = strong_acc - cheap_acc
        share_axis = np.arange(self.n + 1) / self.n
        pgr = (acc - cheap_acc) / gap if gap > 0 else np.ones_like(acc)
        reached = np.flatnonzero(pgr >= 0.95)
        return {
            "rows": self.n,
            "strong_only": {"accuracy": round(strong_acc, 4), "strong_fraction": 1.0,
                            "cost_per_ticket": round(self.strong_cost, 6)},
            "cheap_only": {"accuracy": round(cheap_acc, 4), "strong_fraction": 0.0,
                           "cost_per_ticket": round(self.cheap_cost, 6)},
            "router": self.at_threshold(threshold),
            "curve": [self.at_threshold(self.threshold_for_share(s)) for s in shares],
            "apgr": round(float(np.trapezoid(pgr, share_axis)), 4),
            "cpt95": round(float(share_axis[reached[0]]), 4) if len(reached) else 1.0,
        }
