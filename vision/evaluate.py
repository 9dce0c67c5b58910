"""Evaluate a classifier on a labelled dataset: per-finding and mean metrics with 95% CIs.

The classifier's reported findings are matched to the dataset's labels by name (case, spaces
and underscores ignored: "PNEUMONIA" = "Pneumonia" = "pneumonia"); only matched findings are
scored, at the classifier's own decision thresholds. Images are taken as given (the chest X-ray
gate is for user uploads, not curated sets) and go through the one `preprocess` function.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from assistant.errors import InputError
from vision.backends import Classifier, load_classifier
from vision.data import LabelledSet, open_dataset
from vision.metrics import binary_report, mean_report
from vision.preprocess import preprocess


def _norm(label: str) -> str:
    return label.lower().replace("_", "").replace(" ", "")


def batched_logits(classifier: Classifier, ds: LabelledSet, indices: np.ndarray, batch_size: int = 32) -> torch.Tensor:
    """Logits (N, len(classifier.labels)) for the samples `indices`, in order."""
    out = []
    for start in range(0, len(indices), batch_size):
        batch = torch.stack(
            [preprocess(ds.loader(int(i)), classifier.spec) for i in indices[start : start + batch_size]]
        )
        with torch.no_grad():
            out.append(classifier.split(batch.to(classifier.device))[1].float().cpu())
    return torch.cat(out) if out else torch.zeros(0, len(classifier.labels))


def evaluate_dataset(
    dataset: str | Path | LabelledSet,
    model: str | Classifier = "pneumonia-xception",
    split: str = "test",
    images: str | Path | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Score a classifier on one split of a labelled dataset.

    Args:
        dataset: an opened `LabelledSet`, or a path / "packaged" for `vision.data.open_dataset`.
        model: a loaded `Classifier` or a name for `vision.backends.load_classifier`.
        split: "train", "val", "test" or "all".
        images: image folder of a NIH CSV.
        bootstrap: number of bootstrap resamples for the 95% intervals (0: none).
        seed: bootstrap and split seed.
        batch_size: inference batch size.
        cache_dir: converted-weights cache.
        device: "cpu" or "cuda".

    Returns:
        `{"model", "dataset", "split", "n", "findings": {label: metrics}, "mean": {...},
        "samples": [{"index", "patient", "targets", "probabilities"}], "meta": {...}}`.

    Raises:
        InputError: unknown split, empty split, or no finding in common with the classifier.
    """
    ds = dataset if isinstance(dataset, LabelledSet) else open_dataset(dataset, images, seed)
    clf = (
        model
        if isinstance(model, Classifier)
        else load_classifier(model, Path(cache_dir) if cache_dir else None, device)
    )
    indices = _split_indices(ds, split)
    names, targets = ds.binary_targets()
    matches = [(clf.labels.index(r), r, names.index(n)) for r in clf.reported for n in names if _norm(r) == _norm(n)]
    if not matches:
        raise InputError(f"The classifier {clf.name} reports none of the dataset's labels ({', '.join(names)}).")
    t0 = time.perf_counter()
    probs = clf.probabilities(batched_logits(clf, ds, indices, batch_size)).numpy()
    seconds = time.perf_counter() - t0
    findings = {}
    for out_i, label, col in matches:
        findings[label] = binary_report(targets[indices, col], probs[:, out_i], clf.thresholds[label], bootstrap, seed)
    samples = [
        {
            "index": int(i),
            "patient": ds.patients[int(i)] if ds.patients else None,
            "targets": {label: int(targets[i, col]) for _, label, col in matches},
            "probabilities": {label: round(float(probs[k, o]), 4) for o, label, _ in matches},
        }
        for k, i in enumerate(indices)
    ]
    return {
        "model": clf.name,
        "dataset": ds.name,
        "split": split,
        "n": int(len(indices)),
        "findings": findings,
        "mean": mean_report(findings),
        "samples": samples,
        "meta": {
            "calibrated": clf.calibrated,
            "bootstrap": bootstrap,
            "seed": seed,
            "seconds": round(seconds, 2),
            "device": str(clf.device),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    }


def _split_indices(ds: LabelledSet, split: str) -> np.ndarray:
    if split == "all":
        return np.arange(len(ds))
    if split not in ds.splits:
        raise InputError(f"Unknown split {split!r}: use train, val, test or all.")
    if len(ds.splits[split]) == 0:
        raise InputError(f"The {split} split of {ds.name} is empty: choose another split (or 'all').")
    return ds.splits[split]


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table of the per-finding metrics with their 95% intervals."""

    def cell(m: dict[str, Any]) -> str:
        if m["value"] is None:
            return "n/a"
        return f"{m['value']:.3f}" + (f" [{m['ci95'][0]:.3f}-{m['ci95'][1]:.3f}]" if m["ci95"] else "")

    head = f"{report['model']} on {report['dataset']} ({report['split']}, n={report['n']})"
    rows = [f"{'finding':<20} {'AUROC':<22} {'accuracy':<22} {'recall':<22} {'F1':<22} {'ECE':<6} correct"]
    for label, m in report["findings"].items():
        rows.append(
            f"{label:<20} {cell(m['auroc']):<22} {cell(m['accuracy']):<22} {cell(m['recall']):<22} "
            f"{cell(m['f1']):<22} {m['ece']:<6.3f} {m['correct']}/{m['n']}"
        )
    mean = report["mean"]
    rows.append("mean: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items() if v is not None))
    return "\n".join([head, *rows])
