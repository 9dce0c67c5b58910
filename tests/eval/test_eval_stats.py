"""Statistics: intervals, paired tests, ranking and calibration metrics against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.stats import auroc, bootstrap, ece, latency_summary, mcnemar, paired_bootstrap, reliability, roc_curve


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [True] * 60 + [False] * 40
    a, b = bootstrap(values, seed=3), bootstrap(values, seed=3)
    assert a == b
    assert a.value == pytest.approx(0.6)
    assert a.ci_low < 0.6 < a.ci_high
    assert 0.45 < a.ci_low and a.ci_high < 0.75  # ~ +-1.96 * sqrt(.24/100)
    assert bootstrap([], seed=0).value is None


def test_mcnemar_exact_values():
    # 10 discordant pairs split 8/2: two-sided exact p = 2 * P(X <= 2 | n=10, 0.5) = 0.109375
    a = [True] * 8 + [False] * 2 + [True] * 5
    b = [False] * 8 + [True] * 2 + [True] * 5
    result = mcnemar(a, b)
    assert (result["a_only"], result["b_only"]) == (8, 2)
    assert result["p_value"] == pytest.approx(0.109375)
    assert mcnemar([True], [True])["p_value"] == 1.0


def test_paired_bootstrap_detects_a_clear_difference():
    a = [0.0] * 50
    b = [1.0] * 30 + [0.0] * 20
    out = paired_bootstrap(a, b, seed=0)
    assert out["diff"] == pytest.approx(0.6)
    assert out["ci_low"] > 0.4 and out["p_value"] < 0.01


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0), ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
     ([0, 1], [0.5, 0.5], 0.5), ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75)],
)
def test_auroc(labels, scores, expected):
    assert auroc(np.array(labels), np.array(scores)) == pytest.approx(expected)


def test_auroc_single_class_is_nan():
    assert math.isnan(auroc(np.array([1, 1]), np.array([0.2, 0.4])))


def test_roc_curve_runs_from_origin_to_one():
    fpr, tpr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert all(x <= y for x, y in zip(fpr, fpr[1:]))


def test_ece_zero_when_calibrated_and_large_when_overconfident():
    conf = np.array([0.75] * 4)
    assert ece(conf, np.array([1, 1, 1, 0])) == pytest.approx(0.0)
    assert ece(np.array([0.95] * 4), np.array([0, 0, 0, 0])) == pytest.approx(0.95)
    bins = reliability([0.05, 0.95], [False, True])
    assert [b["count"] for b in bins] == [1, 1]


def test_latency_summary():
    out = latency_summary([{"total": 1.0, "llm": 0.5}, {"total": 3.0}])
    assert out["total"]["mean"] == 2.0 and out["total"]["n"] == 2 and out["llm"]["n"] == 1
