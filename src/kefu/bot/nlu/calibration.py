"""Probability calibration helpers: temperature-scaled softmax over linear decision scores."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

__all__ = ["DEFAULT_TEMPERATURE", "expected_calibration_error", "fit_temperature", "softmax"]

# Used when there is too little data to cross-validate; typical of LinearSVC margins on TF-IDF.
DEFAULT_TEMPERATURE = 0.25


def softmax(scores: NDArray[np.floating], temperature: float) -> NDArray[np.float64]:
    """Row-wise softmax of scores / temperature."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_temperature(scores: NDArray[np.floating], targets: NDArray[np.integer]) -> float:
    """Temperature minimizing the negative log-likelihood of held-out scores (targets are column indices)."""
    rows = np.arange(len(targets))

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))[rows, targets]
        return float(-np.mean(np.log(np.clip(p, 1e-12, None))))

    res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(100.0)), method="bounded")
    return float(np.exp(res.x))


def expected_calibration_error(confidence: NDArray[np.floating], correct: NDArray[np.bool_], n_bins: int = 10) -> float:
    """Expected calibration error of top-label confidences, equal-width bins."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if len(confidence) == 0:
        return 0.0
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)
