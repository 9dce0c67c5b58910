"""Chest X-ray classifier quality: AUROC, accuracy, recall, specificity, F1, ECE, ROC and reliability.

Runs the vision helper's `vision.classify_paths` (the `medassist xray classify --json` objects) on a
labelled set, imported lazily so that the harness works without the vision module. The default set
is the 16 packaged chest X-rays of `pneumonia-model-package` (8 NORMAL, 8 PNEUMONIA, labelled by file
name: a tiny set, so the intervals are wide). `--data` takes a folder whose file or sub-folder names
say NORMAL or PNEUMONIA (bacteria/virus count as PNEUMONIA), or a CSV with `path,label` rows
(label 1/0 or the finding name).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assistant.errors import ConfigError, InputError
from assistant.assets import package_path
from eval.data import Example, Malformed
from eval.stats import auroc, bootstrap, bootstrap_pairs, ece, reliability, roc_curve
from eval.tasks.base import Aggregate, Context, Task

POSITIVE = "PNEUMONIA"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")
BATCH = 8


def label_from_name(path: Path) -> int | None:
    """1 for PNEUMONIA (bacteria, virus), 0 for NORMAL, None when the path does not say."""
    name = "/".join(path.parts[-2:]).upper()
    if "NORMAL" in name:
        return 0
    if any(word in name for word in (POSITIVE, "BACTERIA", "VIRUS")):
        return 1
    return None


def load_images(data: str | None) -> tuple[list[Example], Malformed]:
    """Labelled images from a folder, a CSV (`path,label`) or the packaged validation set."""
    if data is None:
        folder = package_path("pneumonia_model_package", "datasets/pneumonia-data/val")
    else:
        folder = Path(data)
    if folder.is_file() and folder.suffix == ".csv":
        return _from_csv(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is neither an image folder nor a CSV of path,label rows.")
    good, bad = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        label = label_from_name(path.relative_to(folder.parent))
        if label is None:
            bad.append({"where": str(path), "reason": "file or folder name says neither NORMAL nor PNEUMONIA"})
        else:
            good.append({"id": str(path.relative_to(folder)), "path": str(path), "label": label})
    return good, bad


def _from_csv(path: Path) -> tuple[list[Example], Malformed]:
    good, bad = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), 2):
            raw = str(row.get("label", "")).strip().upper()
            label = {"1": 1, "0": 0, POSITIVE: 1, "NORMAL": 0}.get(raw)
            image = (path.parent / str(row.get("path") or "")).resolve()
            if label is None or not image.is_file():
                bad.append({"where": f"{path.name}:{number}", "reason": "missing image or label not 0/1/NORMAL/PNEUMONIA"})
            else:
                good.append({"id": str(row["path"]), "path": str(image), "label": label})
    return good, bad


def positive_probability(result: dict[str, Any]) -> float | None:
    """P(PNEUMONIA) from one `classify_paths` object (None if the label is missing)."""
    for finding in result.get("findings") or []:
        if str(finding.get("label", "")).upper() == POSITIVE:
            return float(finding["probability"])
    return None


class VisionClassifier(Task):
    name: ClassVar[str] = "vision"
    description: ClassVar[str] = "chest X-ray classifier: AUROC, accuracy, recall, F1, ECE (16 packaged images or --data)"
    primary: ClassVar[str] = "auroc"

    def options(self, ctx: Context) -> dict[str, Any]:
        return {"classifier": ctx.settings.classifier}

    def load(self, ctx: Context) -> tuple[list[Example], Malformed]:
        return load_images(ctx.config.data)

    def classify(self, ctx: Context) -> Any:
        if getattr(ctx, "classify_paths", None) is not None:
            return ctx.classify_paths
        try:
            from vision import classify_paths
        except ImportError as exc:
            raise ConfigError("The vision module (vision.classify_paths) is not installed in this build.") from exc
        return classify_paths

    def run_all(self, examples: list[Example], ctx: Context, done: set[str]) -> Iterator[dict[str, Any]]:
        import time

        classify = self.classify(ctx)
        todo = [e for e in examples if e["id"] not in done]
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            t0 = time.perf_counter()
            results = classify([e["path"] for e in batch], model=None)
            per_image = (time.perf_counter() - t0) / len(batch)
            for example, result in zip(batch, results):
                yield self._row(example, result, per_image)

    def _row(self, example: Example, result: dict[str, Any], seconds: float) -> dict[str, Any]:
        row: dict[str, Any] = {"id": example["id"], "label": example["label"]}
        if "error" in result:
            return row | {"error": result["error"]}
        prob = positive_probability(result)
        if prob is None:
            return row | {"error": f"the classifier gave no {POSITIVE} probability"}
        threshold = float(result.get("threshold") or 0.5)
        predicted = int(prob >= threshold)
        return row | {"probability": round(prob, 6), "threshold": threshold, "predicted": predicted,
                      "correct": predicted == example["label"], "model": result.get("model"),
                      "is_chest_xray": result.get("is_chest_xray"), "timings": {"vision": round(seconds, 4)}}

    def aggregate(self, rows: list[dict[str, Any]], ctx: Context) -> Aggregate:
        seed = ctx.config.seed
        y = np.array([r["label"] for r in rows])
        p = np.array([r["probability"] for r in rows])
        pred = np.array([r["predicted"] for r in rows])
        pos, neg = y == 1, y == 0
        metrics = {
            "auroc": bootstrap_pairs(y, p, auroc, seed),
            "accuracy": bootstrap(pred == y, seed),
            "recall": bootstrap(pred[pos] == 1, seed),
            "specificity": bootstrap(pred[neg] == 0, seed),
            "f1": bootstrap_pairs(y, pred, _f1, seed),
            "ece": bootstrap_pairs(y, p, lambda t, s: ece(s, t), seed),
        }
        fpr, tpr = roc_curve(y, p)
        value = metrics["auroc"].value
        extra = {"curves": {POSITIVE: {"fpr": fpr, "tpr": tpr, "auroc": value}},
                 # binary calibration: predicted P(PNEUMONIA) against the observed fraction positive
                 "reliability": reliability(p, y.astype(bool)),
                 "reliability_axes": [f"predicted P({POSITIVE})", f"observed fraction {POSITIVE}"]}
        return Aggregate(metrics, {}, extra)


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float(((pred == 1) & (y == 1)).sum())
    denominator = float((pred == 1).sum() + (y == 1).sum())
    return 2 * tp / denominator if denominator else float("nan")

