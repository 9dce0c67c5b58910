"""Train a chest X-ray classifier: preprocess, split, train (Adam + BCE / cross-entropy), validate,
calibrate, test, and save a pickle-free checkpoint.

The workflow of the seed, made reproducible: fixed seeds (Python, NumPy, torch, the data
loader's shuffling), patient-wise splits (`vision.data`), the best epoch chosen on validation
mean AUROC, then temperature scaling and per-finding thresholds (max F1) fitted on validation,
and the test metrics measured once with the calibrated model. The checkpoint folder holds
`model.safetensors` and `manifest.json` (labels, thresholds, temperature, input size,
preprocessing, metrics, seed), which `vision.backends.load_checkpoint` reads. No augmentation:
horizontal flips would move the heart, and the pipeline is meant to be simple to audit.
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from assistant.errors import InputError
from vision.backends import load_checkpoint
from vision.data import LabelledSet, open_dataset
from vision.metrics import auroc, best_threshold, fit_temperature
from vision.nets import ARCHS, build_net
from vision.preprocess import PreprocessSpec, preprocess


@dataclass
class TrainConfig:
    """Training settings (the `medassist xray train` flags)."""

    dataset: str
    out: Path
    images: str | None = None
    arch: str = "tiny"
    size: int | None = None
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    device: str | None = None
    bootstrap: int = 200


class _Items(torch.utils.data.Dataset):
    """Samples of one split, preprocessed on the fly by the shared `preprocess`."""

    def __init__(self, ds: LabelledSet, indices: np.ndarray, spec: PreprocessSpec) -> None:
        self.ds, self.indices, self.spec = ds, indices, spec

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = int(self.indices[k])
        return preprocess(self.ds.loader(i), self.spec), torch.as_tensor(self.ds.targets[i])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(config: TrainConfig, log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Train, calibrate, test and save a checkpoint; returns its manifest.

    Raises:
        InputError: unknown architecture, empty split, or unreadable dataset.
    """
    if config.arch not in ARCHS:
        raise InputError(f"Unknown architecture {config.arch!r}: use one of {', '.join(ARCHS)}.")
    seed_everything(config.seed)
    ds = open_dataset(config.dataset, config.images, config.seed)
    for s in ("train", "val", "test"):
        if len(ds.splits[s]) == 0:
            raise InputError(f"The {s} split of {ds.name} is empty: the dataset is too small to train on.")
    size = config.size or (28 if str(config.dataset).endswith(".npz") else 224)
    spec = PreprocessSpec(size, 1, "imagenet", "bilinear")
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = build_net(config.arch, len(ds.labels), 1).to(device)
    loss_fn = torch.nn.BCEWithLogitsLoss() if ds.multilabel else torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    loader = torch.utils.data.DataLoader(
        _Items(ds, ds.splits["train"], spec),
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )
    best, best_auc, history = copy.deepcopy(net.state_dict()), -2.0, []
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        loss = _epoch(net, loader, loss_fn, opt, device, ds.multilabel)
        val_auc = _val_auroc(net, ds, spec, device)
        history.append({"epoch": epoch, "train_loss": round(loss, 4), "val_mean_auroc": val_auc})
        seconds = time.perf_counter() - t0
        log(f"epoch {epoch}/{config.epochs}: train loss {loss:.4f}, val mean AUROC {val_auc}, {seconds:.1f}s")
        score = val_auc if val_auc is not None else -1.0  # undefined AUROC (one class in val): keep the latest
        if score >= best_auc:
            best, best_auc = copy.deepcopy(net.state_dict()), score
    net.load_state_dict(best)
    return _save(net.eval(), ds, spec, config, history, log)


def _epoch(net: torch.nn.Module, loader: Any, loss_fn: Any, opt: Any, device: torch.device, multilabel: bool) -> float:
    net.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        loss = loss_fn(net(x), y.float() if multilabel else y.long())
        loss.backward()
        opt.step()
        total, count = total + loss.item() * len(x), count + len(x)
    return total / max(count, 1)


def _logits(
    net: torch.nn.Module, ds: LabelledSet, idx: np.ndarray, spec: PreprocessSpec, device: torch.device
) -> torch.Tensor:
    net.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(idx), 64):
            x = torch.stack([preprocess(ds.loader(int(i)), spec) for i in idx[start : start + 64]]).to(device)
            outs.append(net(x).float().cpu())
    return torch.cat(outs)


def _probs(logits: torch.Tensor, multilabel: bool, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    return (torch.sigmoid(z) if multilabel else torch.softmax(z, dim=1)).numpy()


def _reported(ds: LabelledSet) -> tuple[list[str], list[int]]:
    names, _ = ds.binary_targets()
    return names, [ds.labels.index(n) for n in names]


def _val_auroc(net: torch.nn.Module, ds: LabelledSet, spec: PreprocessSpec, device: torch.device) -> float | None:
    idx = ds.splits["val"]
    probs = _probs(_logits(net, ds, idx, spec, device), ds.multilabel)
    names, cols = _reported(ds)
    _, targets = ds.binary_targets()
    aucs = [auroc(targets[idx, k], probs[:, c]) for k, c in enumerate(cols)]
    aucs = [a for a in aucs if not np.isnan(a)]
    return round(float(np.mean(aucs)), 4) if aucs else None


def _save(
    net: torch.nn.Module,
    ds: LabelledSet,
    spec: PreprocessSpec,
    config: TrainConfig,
    history: list[dict[str, Any]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    from safetensors.torch import save_file

    from vision.evaluate import evaluate_dataset

    device = next(net.parameters()).device
    val = ds.splits["val"]
    val_logits = _logits(net, ds, val, spec, device)
    targets = torch.as_tensor(ds.targets[val])
    temperature = fit_temperature(val_logits, targets, ds.multilabel)
    names, cols = _reported(ds)
    _, binary = ds.binary_targets()
    val_probs = _probs(val_logits, ds.multilabel, temperature)
    thresholds = {
        n: best_threshold(binary[val, k], val_probs[:, c]) for k, (n, c) in enumerate(zip(names, cols, strict=True))
    }
    manifest: dict[str, Any] = {
        "name": config.out.name,
        "arch": config.arch,
        "labels": ds.labels,
        "reported": names,
        "mode": "sigmoid" if ds.multilabel else "softmax",
        "thresholds": thresholds,
        "temperature": temperature,
        "calibrated": True,
        "calibration": "temperature scaling + max-F1 thresholds on the validation split",
        "preprocessing": spec.to_dict(),
        "dataset": ds.name,
        "seed": config.seed,
        "epochs": config.epochs,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "optimizer": "Adam",
        "loss": "BCEWithLogits" if ds.multilabel else "CrossEntropy",
        "splits": {s: int(len(v)) for s, v in ds.splits.items()},
        "patient_wise": ds.patients is not None or str(config.dataset).endswith(".npz"),
        "history": history,
        "torch": torch.__version__,
    }
    config.out.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(config.out / "model.safetensors")
    )
    (config.out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    report = evaluate_dataset(ds, load_checkpoint(config.out), "test", bootstrap=config.bootstrap, seed=config.seed)
    manifest["metrics"] = {
        "test": {
            "n": report["n"],
            "mean": report["mean"],
            "findings": {k: _brief(v) for k, v in report["findings"].items()},
        },
        "val_mean_auroc": max((h["val_mean_auroc"] or 0.0) for h in history),
    }
    (config.out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    log(f"saved {config.out} (test mean AUROC {report['mean']['auroc']})")
    return manifest


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("auroc", "accuracy", "recall", "f1", "ece", "threshold", "n", "positives")}
