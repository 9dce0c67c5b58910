"""Grad-CAM for every backend, and the heatmap overlay PNG.

Grad-CAM (Selvaraju et al. 2017): weight each channel of a convolutional feature map by the mean
gradient of the explained class score, sum, keep the positive part. The feature map comes from
`Classifier.split`, so the heatmap is computed on exactly the tensor the classifier saw (same
`preprocess` output). We explain the predicted class only: for a binary softmax model, the class
on the side of the threshold the probability falls; for multi-label models, the most probable
reported finding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vision.backends import Classifier


def gradcam(classifier: Classifier, x: torch.Tensor, class_index: int) -> np.ndarray:
    """The Grad-CAM map for one preprocessed input.

    Args:
        classifier: the loaded classifier.
        x: one input (C, H, W) from `vision.preprocess.preprocess`.
        class_index: the output logit to explain.

    Returns:
        A float32 map (h, w) in [0, 1] at the feature map's resolution (all zeros if flat).
    """
    with torch.enable_grad():
        inp = x.unsqueeze(0).to(classifier.device)
        acts, logits = classifier.split(inp)
        grads = torch.autograd.grad(logits[0, class_index], acts)[0]
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * acts).sum(dim=1))[0].detach().float().cpu().numpy()
    peak = float(cam.max())
    return (cam / peak).astype(np.float32) if peak > 0 else np.zeros_like(cam, dtype=np.float32)


def explained_class(classifier: Classifier, probs: torch.Tensor) -> int:
    """The logit index to explain: the predicted class (see module docstring)."""
    labels = classifier.labels
    if classifier.mode == "softmax":
        positive = classifier.reported[0]
        i = labels.index(positive)
        return i if float(probs[i]) >= classifier.thresholds[positive] else int(torch.argmax(probs))
    reported = [labels.index(l) for l in classifier.reported]
    return max(reported, key=lambda i: float(probs[i]))


def overlay_png(display: np.ndarray, cam: np.ndarray, path: Path, alpha: float = 0.4) -> Path:
    """Write the image with the heatmap blended over it (jet colour map) as a PNG.

    Args:
        display: uint8 grayscale image (H, W).
        cam: map in [0, 1] at any resolution; upsampled bilinearly to (H, W).
        path: output PNG path (folders are created).
        alpha: heatmap opacity.
    """
    from matplotlib import colormaps
    from PIL import Image

    h, w = display.shape
    cam_img = Image.fromarray(np.clip(cam * 255, 0, 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)
    heat = colormaps["jet"](np.asarray(cam_img, dtype=np.float32) / 255.0)[..., :3]
    base = np.repeat(display[..., None].astype(np.float32) / 255.0, 3, axis=2)
    blended = np.clip((1 - alpha) * base + alpha * heat, 0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((blended * 255).astype(np.uint8)).save(path, format="PNG", compress_level=1)
    return path
