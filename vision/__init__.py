"""Chest X-ray vision: safe image input, preprocessing, classifiers, Grad-CAM, training, evaluation.

Knows nothing of chat. The public entry points are `classify_paths` (what `medassist xray
classify --json` prints; see `vision.service.classify_paths`) and `evaluate_dataset`
(labelled-set evaluation; see `vision.evaluate.evaluate_dataset`). They are imported on first
access, so `import vision` does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["classify_paths", "evaluate_dataset"]

_LAZY = {"classify_paths": "vision.service", "evaluate_dataset": "vision.evaluate"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vision' has no attribute {name!r}")
