"""Turning linear-model scores into calibrated probabilities (temperature scaling) and measuring ECE."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The scale that minimises log-loss of held-out scores: one parameter, so it cannot overfit."""

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    result = minimize_scalar(nll, bounds=(-3.0, 5.0), method="bounded")
    return float(np.exp(result.x))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE over equal-width confidence bins (the usual 15-bin definition)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = len(confidence)
    if total == 0:
        return 0.0
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.sum() / total * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
