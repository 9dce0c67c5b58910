"""Tiny generated chest-X-ray-like datasets in the three supported layouts (tests and smoke runs).

Each image is a dark field with two darker "lungs" and a bright midline; a positive finding adds
a bright blob in a lung, so a network can learn it in a few epochs. This proves the plumbing
(loading, splitting, training, calibration, metrics), never accuracy on real X-rays.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def synthetic_image(rng: np.random.Generator, size: int, positive: bool) -> np.ndarray:
    """One uint8 (size, size) image; `positive` adds an opacity in a random lung."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.55 + 0.05 * rng.standard_normal((size, size))
    for cx in (0.3, 0.7):
        img -= 0.3 * (((xx - cx) / 0.17) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1)
    img += 0.25 * (np.abs(xx - 0.5) < 0.07)
    if positive:
        cx, cy = rng.choice([0.3, 0.7]) + rng.uniform(-0.05, 0.05), rng.uniform(0.35, 0.65)
        img += 0.45 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 0.06**2)))
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def write_medmnist(path: Path, n: int = 120, size: int = 28, multilabel: bool = False, seed: int = 0) -> Path:
    """A PneumoniaMNIST-like (binary) or ChestMNIST-like (14 labels) .npz with train/val/test arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (("train", n), ("val", n // 4), ("test", n // 4)):
        if multilabel:
            labels = (rng.random((count, 14)) < 0.15).astype(np.uint8)
            labels[:, 0] = rng.random(count) < 0.5  # the learnable finding: Atelectasis
            images = np.stack([synthetic_image(rng, size, bool(l[0])) for l in labels])
        else:
            labels = (rng.random((count, 1)) < 0.5).astype(np.uint8)
            images = np.stack([synthetic_image(rng, size, bool(l[0])) for l in labels])
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def write_nih(root: Path, patients: int = 30, per_patient: int = 2, size: int = 64, seed: int = 0) -> Path:
    """A NIH ChestX-ray14-like `Data_Entry_2017.csv` plus `images/*.png`; returns the CSV path."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for p in range(1, patients + 1):
        for k in range(per_patient):
            positive = bool(rng.random() < 0.5)
            name = f"{p:08d}_{k:03d}.png"
            Image.fromarray(synthetic_image(rng, size, positive)).save(root / "images" / name)
            labels = "Effusion" + ("|Nodule" if rng.random() < 0.3 else "") if positive else "No Finding"
            rows.append({"Image Index": name, "Finding Labels": labels, "Follow-up #": k, "Patient ID": p})
    csv_path = root / "Data_Entry_2017.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def write_folder(root: Path, patients: int = 24, size: int = 64, seed: int = 0, with_splits: bool = False) -> Path:
    """A Kermany-like class-per-folder set (NORMAL/, PNEUMONIA/) with Kermany-style file names."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for p in range(patients):
        positive = p % 2 == 1
        part = ("test" if p % 5 == 0 else "train") if with_splits else ""
        cls = "PNEUMONIA" if positive else "NORMAL"
        folder = root / part / cls if part else root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(2):
            name = f"person{p}_bacteria_{p * 10 + k}.jpeg" if positive else f"IM-{p:04d}-{k + 1:04d}.jpeg"
            Image.fromarray(synthetic_image(rng, size, positive)).save(folder / name, quality=95)
    return root
