"""Statistics for eval results: bootstrap intervals, paired tests, ranking and calibration metrics.

Everything is seeded and NumPy-only so the same rows give the same numbers. Intervals are
percentile bootstrap 95% intervals over samples; paired comparisons use the exact McNemar test
for binary outcomes and a paired bootstrap of the mean difference otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

N_BOOTSTRAP = 1000


@dataclass
class Score:
    """A metric value with its bootstrap 95% interval and the number of samples behind it."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    def to_json(self) -> dict[str, float | int | None]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def bootstrap(values: Sequence[float], seed: int = 0, statistic: Callable[[np.ndarray], float] = np.mean,
              n_resamples: int = N_BOOTSTRAP) -> Score:
    """The statistic of `values` with a percentile bootstrap 95% interval.

    Args:
        values: one number per sample (booleans count as 0/1); NaNs are dropped.
        seed: RNG seed, so the interval is reproducible.
        statistic: function of a 1-D array.
        n_resamples: bootstrap resamples.

    Returns:
        A `Score`; all None when there are no values.
    """
    x = np.asarray([float(v) for v in values if v is not None], dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Score(None, None, None, 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    stats = np.array([statistic(x[i]) for i in idx])
    low, high = np.percentile(stats, [2.5, 97.5])
    return Score(float(statistic(x)), float(low), float(high), int(x.size))


def bootstrap_pairs(y_true: Sequence[int], y_score: Sequence[float], metric: Callable[[np.ndarray, np.ndarray], float],
                    seed: int = 0, n_resamples: int = N_BOOTSTRAP) -> Score:
    """A metric of (label, score) pairs (e.g. AUROC) with a bootstrap 95% interval.

    Resamples whose metric is undefined (a single class) are skipped.
    """
    t, s = np.asarray(y_true, dtype=int), np.asarray(y_score, dtype=float)
    if t.size == 0:
        return Score(None, None, None, 0)
    value = metric(t, s)
    rng = np.random.default_rng(seed)
    stats = [metric(t[i], s[i]) for i in rng.integers(0, t.size, size=(n_resamples, t.size))]
    stats = [v for v in stats if not math.isnan(v)]
    if math.isnan(value) or not stats:
        return Score(None if math.isnan(value) else float(value), None, None, int(t.size))
    low, high = np.percentile(stats, [2.5, 97.5])
    return Score(float(value), float(low), float(high), int(t.size))


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> dict[str, float | int]:
    """Exact (binomial) McNemar test for paired binary outcomes.

    Returns:
        `b_only` (A wrong, B right), `a_only` (A right, B wrong) and the two-sided `p_value`.
    """
    a_only = sum(1 for x, y in zip(a, b) if x and not y)
    b_only = sum(1 for x, y in zip(a, b) if y and not x)
    n = a_only + b_only
    if n == 0:
        return {"a_only": 0, "b_only": 0, "p_value": 1.0}
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return {"a_only": a_only, "b_only": b_only, "p_value": min(1.0, 2 * tail)}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], seed: int = 0,
                     n_resamples: int = 10_000) -> dict[str, float]:
    """Mean difference B - A over paired samples, its 95% interval and a two-sided bootstrap p-value."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        return {"diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_resamples, d.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    # p-value: how often the resampled difference lands on the other side of zero (two-sided).
    p = 2 * min(float((means <= 0).mean()), float((means >= 0).mean()))
    return {"diff": float(d.mean()), "ci_low": float(low), "ci_high": float(high), "p_value": min(1.0, p)}


def auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN with a single class."""
    pos, neg = y_score[y_true == 1], y_score[y_true == 0]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def roc_curve(y_true: Sequence[int], y_score: Sequence[float]) -> tuple[list[float], list[float]]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    t, s = np.asarray(y_true, dtype=int), np.asarray(y_score, dtype=float)
    fpr, tpr = [0.0], [0.0]
    n_pos, n_neg = max(int(t.sum()), 1), max(int((1 - t).sum()), 1)
    for threshold in sorted(set(s.tolist()), reverse=True):
        pred = s >= threshold
        tpr.append(float((pred & (t == 1)).sum() / n_pos))
        fpr.append(float((pred & (t == 0)).sum() / n_neg))
    if fpr[-1] != 1.0 or tpr[-1] != 1.0:
        fpr.append(1.0)
        tpr.append(1.0)
    return fpr, tpr


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict[str, float]]:
    """Equal-width confidence bins: count, mean confidence and accuracy of each non-empty bin."""
    c, y = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(c, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(mask.sum()),
                        "confidence": float(c[mask].mean()), "accuracy": float(y[mask].mean())})
    return out


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins (weighted mean |accuracy - confidence|)."""
    table = reliability(confidence, correct, bins)
    total = sum(b["count"] for b in table)
    if total == 0:
        return math.nan
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in table) / total)


def latency_summary(rows: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-stage mean, median and 95th percentile (seconds) over the rows' timing dicts."""
    stages = sorted({k for r in rows for k in r})
    out = {}
    for stage in stages:
        x = np.asarray([r[stage] for r in rows if stage in r], dtype=float)
        out[stage] = {"n": int(x.size), "mean": round(float(x.mean()), 4),
                      "p50": round(float(np.percentile(x, 50)), 4), "p95": round(float(np.percentile(x, 95)), 4)}
    return out
