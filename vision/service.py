"""Classify image files: load safely -> gate -> preprocess -> classify -> Grad-CAM overlay.

`XrayService` is what the CLI (`medassist xray classify`), the Assistant's tool and
`vision.classify_paths` share. Results are cached by the file's content hash (plus model and
heatmap folder), so a follow-up question about the same scan, even re-uploaded under another
name, is answered instantly without re-running the network.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from assistant.errors import MedAssistError
from vision.backends import Classifier, load_classifier
from vision.gate import check_chest_xray
from vision.gradcam import explained_class, gradcam, overlay_png
from vision.io import load_image
from vision.preprocess import display_image, preprocess

log = logging.getLogger(__name__)
DEFAULT_MODEL = "pneumonia-xception"
CACHE_SIZE = 256


class XrayService:
    """Classifies chest X-ray files with one classifier.

    Args:
        model: classifier name (see `vision.backends.load_classifier`).
        heatmap_dir: where overlay PNGs go (None: no heatmaps).
        cache_dir: where converted weights are cached.
        device: "cpu" or "cuda" (default: cuda when available).
    """

    def __init__(
        self,
        model: str | None = None,
        heatmap_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        device: str | None = None,
    ) -> None:
        self.model_name = model or DEFAULT_MODEL
        self.heatmap_dir = Path(heatmap_dir) if heatmap_dir else None
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.device = device
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def classifier(self) -> Classifier:
        return load_classifier(self.model_name, self.cache_dir, self.device)

    def classify(self, path: str | Path) -> dict[str, Any]:
        """Classify one file; the `medassist xray classify --json` object without `path`.

        Raises:
            InputError: the file cannot be read as an image.
            ModelError / ConfigError: the classifier cannot be loaded.
        """
        data_hash = _file_hash(Path(path))
        key = f"{data_hash}:{self.model_name}:{self.heatmap_dir}"
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return dict(self._results[key], cached=True)
        result = self._run(Path(path), data_hash)
        with self._lock:
            self._results[key] = result
            while len(self._results) > CACHE_SIZE:
                self._results.popitem(last=False)
        return dict(result, cached=False)

    def _run(self, path: Path, data_hash: str) -> dict[str, Any]:
        image = load_image(path)
        gate = check_chest_xray(image)
        clf = self.classifier
        out: dict[str, Any] = {
            "is_chest_xray": gate.is_chest_xray,
            "findings": [],
            "threshold": _threshold(clf),
            "model": clf.name,
            "heatmap": None,
        }
        if not gate.is_chest_xray:
            return out | {"reason": gate.reason}
        x = preprocess(image.pixels, clf.spec)
        probs = clf.predict(x.unsqueeze(0))[0].cpu()
        out["findings"] = _findings(clf, probs)
        if self.heatmap_dir is not None:
            cam = gradcam(clf, x, explained_class(clf, probs))
            target = self.heatmap_dir / f"{data_hash[:16]}-{_safe(clf.name)}.png"
            out["heatmap"] = str(overlay_png(display_image(image.pixels, 1024), cam, target))
        return out


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return "unreadable:" + str(path)  # load_image raises the user-facing error
    return digest.hexdigest()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(name).name)[:48]


def _threshold(clf: Classifier) -> float | dict[str, float]:
    values = set(clf.thresholds.values())
    return values.pop() if len(values) == 1 else dict(clf.thresholds)


def _findings(clf: Classifier, probs: torch.Tensor) -> list[dict[str, Any]]:
    rows = []
    for label in clf.reported:
        p = float(probs[clf.labels.index(label)])
        t = clf.thresholds[label]
        rows.append({"label": label, "probability": round(p, 4), "threshold": t, "positive": p >= t})
    return sorted(rows, key=lambda r: -r["probability"]) if len(rows) > 1 else rows


_SERVICES: dict[tuple[str, str | None, str | None, str | None], XrayService] = {}
_SERVICES_LOCK = threading.Lock()


def get_service(
    model: str | None = None,
    heatmap_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
) -> XrayService:
    """A process-wide service per (model, heatmap folder, cache folder, device): every Assistant,
    CLI call and API request in the process shares its result cache."""
    cache = Path(cache_dir) if cache_dir else _default_cache()
    key = (model or DEFAULT_MODEL, str(heatmap_dir) if heatmap_dir else None, str(cache), device)
    with _SERVICES_LOCK:
        if key not in _SERVICES:
            _SERVICES[key] = XrayService(model, heatmap_dir, cache, device)
        return _SERVICES[key]


def _default_cache() -> Path:
    from assistant.config import Settings

    return Settings().cache_dir / "models" / "vision"


def classify_paths(paths: list[str], heatmap_dir: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
    """Classify files in order; a file that cannot be read gives `{"path", "error"}`.

    Args:
        paths: image files (PNG, JPEG or DICOM; the format is read from the content).
        heatmap_dir: folder for Grad-CAM overlay PNGs (None: no heatmaps).
        model: classifier name (default "pneumonia-xception").

    Returns:
        One dict per path: `{"path", "is_chest_xray", "findings": [{"label", "probability", ...}],
        "threshold", "model", "heatmap"}` (plus `reason` when the gate refused the image), or
        `{"path", "error"}`.

    Raises:
        ConfigError / ModelError: the classifier itself cannot be loaded (nothing can be classified).
    """
    service = get_service(model, heatmap_dir)
    _ = service.classifier  # load once up front: a model error is not a per-file error
    results = []
    for path in paths:
        try:
            out = service.classify(path)
            out.pop("cached", None)
            results.append({"path": str(path)} | out)
        except MedAssistError as exc:
            results.append({"path": str(path), "error": str(exc)})
    return results
