"""Classification metrics with bootstrap 95% intervals, calibration error, and calibration fits.

scikit-learn computes AUROC / accuracy / recall / F1; we add a percentile bootstrap (resampling
images with a fixed seed; resamples with a single class are skipped for AUROC), the expected
calibration error (15 equal-width bins), per-finding threshold selection on validation (max F1)
and temperature scaling (one scalar fitted by minimising validation NLL).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np
import torch

ECE_BINS = 15


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def _thresholded(fn: Callable[..., float], threshold: float) -> Callable[[np.ndarray, np.ndarray], float]:
    def metric(y: np.ndarray, p: np.ndarray) -> float:
        return float(fn(y, (p >= threshold).astype(np.int64)))

    return metric


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of binary probabilities `p` against 0/1 labels `y`."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(y[mask].mean()) - float(p[mask].mean()))
    return float(total)


def bootstrap_ci(
    y: np.ndarray, p: np.ndarray, fn: Callable[[np.ndarray, np.ndarray], float], n: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile 95% interval of `fn(y, p)` over `n` resamples (None if n == 0 or undefined)."""
    if n <= 0 or len(y) < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        v = fn(y[idx], p[idx])
        if not np.isnan(v):
            values.append(v)
    if len(values) < max(10, n // 10):
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def binary_report(y: np.ndarray, p: np.ndarray, threshold: float, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """AUROC, accuracy, recall, F1 (each with a 95% CI), ECE and counts for one finding."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    fns = {
        "auroc": auroc,
        "accuracy": _thresholded(accuracy_score, threshold),
        "recall": _thresholded(partial(recall_score, zero_division=0), threshold),
        "f1": _thresholded(partial(f1_score, zero_division=0), threshold),
    }
    out: dict[str, Any] = {}
    for name, fn in fns.items():
        value = fn(y, p)
        ci = bootstrap_ci(y, p, fn, n_boot, seed)
        out[name] = {
            "value": None if np.isnan(value) else round(value, 4),
            "ci95": [round(c, 4) for c in ci] if ci else None,
        }
    out["ece"] = round(ece(y, p), 4)
    out["threshold"] = threshold
    out["n"], out["positives"] = int(len(y)), int(y.sum())
    out["correct"] = int(((p >= threshold).astype(np.int64) == y).sum())
    return out


def mean_report(per_label: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The mean of each metric over findings (findings where it is undefined are left out)."""
    out: dict[str, float | None] = {}
    for name in ("auroc", "accuracy", "recall", "f1"):
        vals = [r[name]["value"] for r in per_label.values() if r[name]["value"] is not None]
        out[name] = round(float(np.mean(vals)), 4) if vals else None
    out["ece"] = round(float(np.mean([r["ece"] for r in per_label.values()])), 4) if per_label else None
    return out


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold maximising F1 on validation data (0.5 when there are no positives)."""
    from sklearn.metrics import precision_recall_curve

    if y.sum() == 0 or y.sum() == len(y):
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return round(float(thresholds[int(np.argmax(f1[:-1]))]), 4)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> float:
    """Temperature scaling (Guo et al. 2017): one scalar T > 0 minimising validation NLL."""
    log_t = torch.zeros(1, requires_grad=True)
    loss_fn = torch.nn.BCEWithLogitsLoss() if multilabel else torch.nn.CrossEntropyLoss()
    target = targets.float() if multilabel else targets.long()
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(logits / log_t.exp(), target)
        loss.backward()
        return loss

    opt.step(closure)
    return round(float(log_t.detach().exp().clamp(0.05, 20.0)), 4)
