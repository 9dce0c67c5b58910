"""Matplotlib PNG plots for eval reports (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(ax: Any, labels: list[str], scores: list[dict[str, Any]], offset: float = 0.0, width: float = 0.8,
          label: str | None = None) -> None:
    values = [s.get("value") or 0.0 for s in scores]
    low = [v - (s.get("ci_low") if s.get("ci_low") is not None else v) for v, s in zip(values, scores)]
    high = [(s.get("ci_high") if s.get("ci_high") is not None else v) - v for v, s in zip(values, scores)]
    xs = [i + offset for i in range(len(labels))]
    ax.bar(xs, values, width=width, yerr=[low, high], capsize=3, label=label)


def group_accuracy(groups: dict[str, dict[str, Any]], title: str, path: Path, metric: str = "accuracy") -> Path:
    """Bar chart of a metric per group (e.g. accuracy per subject) with 95% interval whiskers."""
    plt = _plt()
    labels = sorted(groups)
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(labels)), 4))
    _bars(ax, labels, [groups[g][metric] for g in labels])
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def paired_groups(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], names: tuple[str, str], title: str,
                  path: Path, metric: str = "accuracy") -> Path:
    """Side-by-side bars of two runs per group (e.g. RAG vs no-RAG per subject)."""
    plt = _plt()
    labels = sorted(set(a) & set(b))
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(labels)), 4))
    _bars(ax, labels, [a[g][metric] for g in labels], -0.2, 0.4, names[0])
    _bars(ax, labels, [b[g][metric] for g in labels], 0.2, 0.4, names[1])
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def roc(curves: dict[str, dict[str, Any]], title: str, path: Path) -> Path:
    """ROC curves, one per label: `{label: {"fpr": [...], "tpr": [...], "auroc": float}}`."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for label, c in curves.items():
        auc = c.get("auroc")
        ax.plot(c["fpr"], c["tpr"], marker=".", label=f"{label} (AUROC {auc:.3f})" if auc is not None else label)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def reliability_diagram(bins: list[dict[str, float]], title: str, path: Path,
                        axes: tuple[str, str] = ("confidence", "accuracy")) -> Path:
    """Accuracy (or observed frequency) against mean confidence per bin; the diagonal is perfect calibration."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    ax.bar(centres, [b["accuracy"] for b in bins], width=0.09, alpha=0.7, label=axes[1])
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="black",
            label="bin mean")
    for b, x in zip(bins, centres):
        ax.annotate(str(b["count"]), (x, b["accuracy"]), ha="center", va="bottom", fontsize=7)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
