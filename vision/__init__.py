"""Chest X-ray vision: safe image input, preprocessing, classifiers, Grad-CAM, training, evaluation.

Knows nothing of chat. The public entry points are `classify_paths` (what `medassist xray
classify --json` prints) and `evaluate_dataset` (labelled-set evaluation); both import torch
lazily so `import vision` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["classify_paths", "evaluate_dataset"]


def classify_paths(paths: list[str], heatmap_dir: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
    """Classify image files; see `vision.service.classify_paths`."""
    from vision.service import classify_paths as _classify

    return _classify(paths, heatmap_dir=heatmap_dir, model=model)


def evaluate_dataset(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Evaluate a classifier on a labelled dataset; see `vision.evaluate.evaluate_dataset`."""
    from vision.evaluate import evaluate_dataset as _evaluate

    return _evaluate(*args, **kwargs)
