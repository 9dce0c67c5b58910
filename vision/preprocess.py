"""The ONE preprocessing function, shared by inference, training, evaluation and Grad-CAM.

The most reported bug in CheXNet re-implementations is a heatmap computed on input normalised
differently from the classifier's; here every path calls `preprocess(image, spec)` and a
checkpoint's manifest stores its `PreprocessSpec`, so training and inference cannot drift.

Choices: the image is quantised to 8 bits before resizing, because every model we run was trained
on 8-bit PNG/JPEG files (a 15-bit DICOM is windowed to [0, 1] by `vision.io` first); resizing is
Pillow's (the Keras pneumonia model was trained with Pillow nearest-neighbour resizing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

NORMALISATIONS = ("keras_tf", "xrv", "imagenet", "unit")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessSpec:
    """How a model wants its input.

    Args:
        size: square input side in pixels.
        channels: 1 (grayscale) or 3 (gray replicated to RGB).
        normalisation: "keras_tf" (x/127.5 - 1), "xrv" (torchxrayvision: [-1024, 1024]),
            "imagenet" (mean/std) or "unit" ([0, 1]).
        resample: Pillow filter name: "nearest" or "bilinear".
    """

    size: int = 224
    channels: int = 3
    normalisation: str = "imagenet"
    resample: str = "bilinear"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        return cls(**{k: data[k] for k in ("size", "channels", "normalisation", "resample") if k in data})


def preprocess(pixels: np.ndarray, spec: PreprocessSpec) -> torch.Tensor:
    """Turn a grayscale image into a model input tensor.

    Args:
        pixels: (H, W) float array in [0, 1] (from `vision.io.load_image`) or uint8 array.
        spec: the model's preprocessing.

    Returns:
        A float32 tensor (channels, size, size).

    Raises:
        ValueError: unknown normalisation or resample name, or a non-2-D array.
    """
    from PIL import Image

    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {pixels.shape}")
    if spec.normalisation not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {spec.normalisation!r}")
    resample = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR}[spec.resample]
    u8 = pixels if pixels.dtype == np.uint8 else np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    small = np.asarray(Image.fromarray(u8).resize((spec.size, spec.size), resample), dtype=np.float32)
    x = torch.from_numpy(_normalise(small, spec.normalisation)).unsqueeze(0)
    if spec.channels == 3:
        x = x.expand(3, -1, -1).clone()
        if spec.normalisation == "imagenet":
            mean = torch.tensor(_IMAGENET_MEAN).view(3, 1, 1)
            std = torch.tensor(_IMAGENET_STD).view(3, 1, 1)
            x = (x - mean) / std
    elif spec.normalisation == "imagenet":
        x = (x - _IMAGENET_MEAN[0]) / _IMAGENET_STD[0]
    return x


def _normalise(u8: np.ndarray, name: str) -> np.ndarray:
    if name == "keras_tf":
        return u8 / 127.5 - 1.0
    if name == "xrv":
        return (u8 / 255.0) * 2048.0 - 1024.0
    return u8 / 255.0  # "unit"; "imagenet" applies mean/std per channel afterwards


def display_image(pixels: np.ndarray, size: int | None = None) -> np.ndarray:
    """The uint8 image a heatmap is drawn over (optionally resized to `size` on its long side)."""
    from PIL import Image

    u8 = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    if size is None or max(u8.shape) <= size:
        return u8
    h, w = u8.shape
    scale = size / max(h, w)
    img = Image.fromarray(u8).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return np.asarray(img)
