"""Labelled chest X-ray datasets in three layouts, with patient-wise splits.

- MedMNIST `.npz` (ChestMNIST: 14 multi-label NIH findings; PneumoniaMNIST: normal/pneumonia):
  arrays `{train,val,test}_images` / `_labels`; its own splits are used (they are patient-wise
  upstream).
- NIH ChestX-ray14: the `Data_Entry_2017.csv` columns `Image Index`, `Finding Labels` (pipe
  separated, "No Finding") and `Patient ID`, images in a folder; split 70/10/20 by patient.
- Class-per-folder (the Kermany set): `ROOT/CLASS/*.jpeg` or `ROOT/{train,val,test}/CLASS/*`;
  patient ids are parsed from Kermany names (`person1946_bacteria_4874` -> `person1946`,
  `NORMAL2-IM-1427-0001` -> `NORMAL2-IM-1427`) and used for the split when the folders carry none.
- "packaged": the 16 labelled images shipped with pneumonia-model-package (all in "test").
Images are decoded with `vision.io.load_image` (files) or taken from the arrays, so every path
ends in the same `vision.preprocess.preprocess`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.errors import InputError

NIH_LABELS = [
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
]
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom"}
_PATIENT_RES = (re.compile(r"^(person\d+)_", re.I), re.compile(r"^(.*IM-\d+)-\d+", re.I))


@dataclass
class LabelledSet:
    """A labelled dataset.

    Args:
        name: where it came from.
        labels: class names (multi-class) or finding names (multi-label).
        multilabel: True for multi-hot targets (N, L); else integer classes (N,).
        targets: the labels.
        loader: index -> (H, W) float image in [0, 1] (or uint8).
        splits: split name -> sample indices.
        patients: patient id per sample, when known.
    """

    name: str
    labels: list[str]
    multilabel: bool
    targets: np.ndarray
    loader: Callable[[int], np.ndarray]
    splits: dict[str, np.ndarray]
    patients: list[str] | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.targets)

    def binary_targets(self) -> tuple[list[str], np.ndarray]:
        """Per-finding 0/1 columns: the labels for multi-label sets, the positive class for binary
        sets, one-vs-rest columns otherwise."""
        if self.multilabel:
            return list(self.labels), self.targets.astype(np.int64)
        if len(self.labels) == 2:
            return [self.labels[1]], (self.targets == 1).astype(np.int64)[:, None]
        return list(self.labels), np.eye(len(self.labels), dtype=np.int64)[self.targets]


def open_dataset(source: str | Path, images: str | Path | None = None, seed: int = 0) -> LabelledSet:
    """Open a dataset by its layout (an .npz, a .csv, a folder, or "packaged").

    Raises:
        InputError: missing path or unrecognised layout.
    """
    if str(source) == "packaged":
        return packaged_set()
    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"The dataset {path} does not exist: pass an .npz, a NIH CSV or a class-per-folder root.")
    if path.suffix == ".npz":
        return medmnist_set(path)
    if path.suffix == ".csv":
        return nih_set(path, Path(images) if images else path.parent / "images", seed)
    if path.is_dir():
        return folder_set(path, seed)
    raise InputError(f"Cannot tell the layout of {path.name}: use an .npz, a .csv or a folder.")


def patient_split(
    groups: list[str], seed: int = 0, fractions: tuple[float, float] = (0.7, 0.1)
) -> dict[str, np.ndarray]:
    """Split sample indices by group (patient) so no patient is in two splits.

    Args:
        groups: group id per sample.
        seed: shuffling seed.
        fractions: (train, val) shares of the groups; the rest is test.
    """
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    n_train = int(round(fractions[0] * len(unique)))
    n_val = int(round(fractions[1] * len(unique)))
    if len(unique) >= 3:  # keep every split non-empty on tiny sets
        n_train, n_val = max(1, min(n_train, len(unique) - 2)), max(1, n_val)
    assign = {}
    for rank, g in enumerate(order):
        assign[unique[g]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return {s: np.array([i for i, g in enumerate(groups) if assign[g] == s], dtype=np.int64) for s in SPLITS}


# --- MedMNIST -------------------------------------------------------------------------------


def medmnist_set(path: Path) -> LabelledSet:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path.name} is not a readable MedMNIST .npz file.") from exc
    if not all(f"{s}_images" in arrays and f"{s}_labels" in arrays for s in SPLITS):
        raise InputError(f"{path.name} lacks MedMNIST arrays (train/val/test _images and _labels).")
    images = np.concatenate([arrays[f"{s}_images"] for s in SPLITS])
    labels = np.concatenate([arrays[f"{s}_labels"] for s in SPLITS])
    sizes = [len(arrays[f"{s}_labels"]) for s in SPLITS]
    bounds = np.cumsum([0, *sizes])
    splits = {s: np.arange(bounds[i], bounds[i + 1]) for i, s in enumerate(SPLITS)}
    if images.ndim == 4:  # colour MedMNIST: average to gray
        images = images.mean(axis=3).astype(np.uint8)
    if labels.shape[1] > 1:
        names = NIH_LABELS if labels.shape[1] == 14 else [f"finding_{i}" for i in range(labels.shape[1])]
        return LabelledSet(path.name, names, True, labels.astype(np.int64), lambda i: images[i], splits)
    classes = int(labels.max()) + 1
    names = ["NORMAL", "PNEUMONIA"] if classes <= 2 else [f"class_{i}" for i in range(classes)]
    return LabelledSet(path.name, names, False, labels[:, 0].astype(np.int64), lambda i: images[i], splits)


# --- NIH ChestX-ray14 ---------------------------------------------------------------------------


def nih_set(csv_path: Path, image_dir: Path, seed: int = 0) -> LabelledSet:
    rows = _read_csv(csv_path, ("Image Index", "Finding Labels", "Patient ID"))
    files, targets, patients = [], [], []
    for row in rows:
        found = {x.strip() for x in row["Finding Labels"].split("|")} - {"No Finding", ""}
        unknown = found - set(NIH_LABELS)
        if unknown:
            raise InputError(f"{csv_path.name}: unknown finding {sorted(unknown)[0]!r} for {row['Image Index']}.")
        files.append(image_dir / row["Image Index"])
        targets.append([int(l in found) for l in NIH_LABELS])
        patients.append(row["Patient ID"].strip())
    return LabelledSet(
        csv_path.name,
        list(NIH_LABELS),
        True,
        np.array(targets, dtype=np.int64),
        _file_loader(files),
        patient_split(patients, seed),
        patients,
    )


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{path.name} lacks the NIH columns {', '.join(missing)}.")
            rows = list(reader)
    except OSError as exc:
        raise InputError(f"Cannot read {path.name}: {exc.strerror}.") from exc
    if not rows:
        raise InputError(f"{path.name} has no rows.")
    return rows


def _file_loader(files: list[Path]) -> Callable[[int], np.ndarray]:
    from vision.io import load_image

    return lambda i: load_image(files[i]).pixels


# --- class per folder ---------------------------------------------------------------------------


def kermany_patient(name: str) -> str | None:
    """The patient id in a Kermany file name, or None."""
    for pattern in _PATIENT_RES:
        m = pattern.match(name)
        if m:
            return m.group(1)
    return None


def folder_set(root: Path, seed: int = 0) -> LabelledSet:
    has_splits = all((root / s).is_dir() for s in ("train", "test"))
    parts = [s for s in SPLITS if (root / s).is_dir()] if has_splits else [None]
    classes = sorted({d.name for p in parts for d in (root / p if p else root).iterdir() if d.is_dir()})
    if len(classes) < 2:
        raise InputError(f"{root} needs at least two class folders (e.g. NORMAL/ and PNEUMONIA/).")
    files, targets, which = [], [], []
    for part in parts:
        for k, cls in enumerate(classes):
            folder = (root / part / cls) if part else root / cls
            for f in sorted(folder.glob("*")) if folder.is_dir() else []:
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(f), targets.append(k), which.append(part)
    if not files:
        raise InputError(f"No images found under {root}.")
    patients = [kermany_patient(f.name) or f.stem for f in files]
    if has_splits:
        if "val" not in parts:  # Kermany's val/ has 16 images: carve val from train by patient
            train_idx = [i for i, w in enumerate(which) if w == "train"]
            sub = patient_split([patients[i] for i in train_idx], seed, (0.9, 0.1))
            for i in sub["val"].tolist() + sub["test"].tolist():
                which[train_idx[i]] = "val"
        splits = {s: np.array([i for i, w in enumerate(which) if w == s], dtype=np.int64) for s in SPLITS}
    else:
        splits = patient_split(patients, seed)
    return LabelledSet(
        root.name, classes, False, np.array(targets, dtype=np.int64), _file_loader(files), splits, patients
    )


def packaged_set() -> LabelledSet:
    """The 16 labelled images shipped with pneumonia-model-package (all in the "test" split)."""
    from vision.xception import sample_images

    samples = sample_images()
    files = [p for p, _ in samples]
    idx = np.arange(len(samples))
    return LabelledSet(
        "pneumonia-model-package val (16 images)",
        ["NORMAL", "PNEUMONIA"],
        False,
        np.array([y for _, y in samples], dtype=np.int64),
        _file_loader(files),
        {"train": idx[:0], "val": idx[:0], "test": idx},
        [kermany_patient(p.name) or p.stem for p in files],
    )
