"""Classifier backends behind one interface: labels, probabilities, an embedding, a Grad-CAM layer.

A `Classifier` wraps a torch module and knows how to split its forward pass at the Grad-CAM
layer (`split(x) -> (feature map, logits)`), how to turn logits into probabilities (softmax,
sigmoid, torchxrayvision's operating-point normalisation, with an optional temperature fitted on
validation data) and which labels to report. Backends, by name (`load_classifier`):
- "pneumonia-xception": the packaged Keras model, ported (offline default; uncalibrated softmax);
- "xrv-<weights>" e.g. "xrv-densenet121-res224-all": torchxrayvision DenseNet-121, 18 findings;
  weights download from GitHub on the user's machine the first time (torchxrayvision unpickles
  them), then are cached as safetensors; "xrv-random" is the same network randomly initialised,
  for tests and benchmarks only;
- a folder holding `manifest.json` + `model.safetensors`: a checkpoint from `medassist xray train`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from assistant.errors import ConfigError, ModelError
from vision.preprocess import PreprocessSpec

XRV_WEIGHTS = (
    "densenet121-res224-all",
    "densenet121-res224-nih",
    "densenet121-res224-pc",
    "densenet121-res224-chex",
    "densenet121-res224-rsna",
    "densenet121-res224-mimic_nb",
    "densenet121-res224-mimic_ch",
)


@dataclass
class Classifier:
    """One loaded classifier.

    Args:
        name: what `model` reports, e.g. "pneumonia-xception".
        module: the torch network (eval mode).
        labels: one per output logit.
        reported: the labels shown as findings (a binary softmax model reports its positive class).
        mode: "softmax", "sigmoid" or "xrv" (sigmoid + torchxrayvision operating-point normalisation).
        thresholds: decision threshold per reported label.
        spec: the preprocessing the network was trained with.
        temperature: logits are divided by it before the softmax/sigmoid (1.0: uncalibrated).
        calibrated: True when the temperature and thresholds were fitted on validation data.
        splitter: `(module, x) -> (Grad-CAM feature map, logits)`.
        op_threshs: torchxrayvision operating points (mode "xrv"), mapped to probability 0.5.
        info: provenance shown in docs and reports (training data, calibration).
    """

    name: str
    module: nn.Module
    labels: list[str]
    reported: list[str]
    mode: str
    thresholds: dict[str, float]
    spec: PreprocessSpec
    splitter: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    temperature: float = 1.0
    calibrated: bool = False
    op_threshs: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass returning (feature map at the Grad-CAM layer, logits)."""
        return self.splitter(self.module, x)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities (N, len(labels)) from logits, temperature applied."""
        z = logits / self.temperature
        if self.mode == "softmax":
            return torch.softmax(z, dim=1)
        p = torch.sigmoid(z)
        if self.mode == "xrv" and self.op_threshs is not None:
            p = _op_norm(p, self.op_threshs.to(p.device))
        return p

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities for a batch of preprocessed inputs (N, C, H, W)."""
        return self.probabilities(self.split(x.to(self.device))[1])

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features of the Grad-CAM layer's network (N, D)."""
        return torch.relu(self.split(x.to(self.device))[0]).mean(dim=(2, 3))


def _op_norm(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """torchxrayvision's operating-point normalisation: each threshold maps to 0.5."""
    below = p / (2 * t)
    above = 0.5 + (p - t) / (2 * (1 - t))
    out = torch.where(p < t, below, above)
    return torch.where(torch.isnan(t), p, out)


# --- backends ---------------------------------------------------------------------------------


def _xception_split(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    import torch.nn.functional as F

    m = module
    h = F.relu(m.bn2(m.conv2(F.relu(m.bn1(m.conv1(x))))))
    acts = m.blocks[:11](h)  # block12 output: 9x9 at 150 px (the last block is only 5x5)
    h = m.blocks[11:](acts)
    h = F.relu(m.sep14b(F.relu(m.sep14a(h)))).mean(dim=(2, 3))
    return acts, m.fc2(m.dropout(F.relu(m.fc1(h))))


def load_xception(cache_dir: Path | None, weights: Path | None = None) -> Classifier:
    from vision.xception import PneumoniaXception, load_pneumonia_xception

    module = load_pneumonia_xception(cache_dir, weights)
    return Classifier(
        name="pneumonia-xception",
        module=module,
        labels=list(PneumoniaXception.labels),
        reported=["PNEUMONIA"],
        mode="softmax",
        thresholds={"PNEUMONIA": 0.5},
        spec=PreprocessSpec(150, 3, "keras_tf", "nearest"),
        splitter=_xception_split,
        info={"trained_on": "Kermany pediatric chest X-rays (pneumonia-model-package 0.3.0)", "calibration": "none"},
    )


def _xrv_split(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    acts = module.features(x)
    pooled = torch.relu(acts).mean(dim=(2, 3))
    return acts, module.classifier(pooled)


def load_xrv(weights: str | None, cache_dir: Path | None, seed: int = 0) -> Classifier:
    """torchxrayvision DenseNet-121; `weights=None` gives a seeded random network (tests only)."""
    try:
        import torchxrayvision as xrv
    except ImportError as exc:
        raise ConfigError("torchxrayvision is not installed: run `pip install 'medassist[xrv]'`.") from exc
    if weights is None:
        torch.manual_seed(seed)
        module, op = xrv.models.DenseNet(weights=None), None
        labels = list(xrv.datasets.default_pathologies)
    else:
        module, labels, op = _xrv_pretrained(xrv, weights, cache_dir)
    reported = [label for label in labels if label]  # torchxrayvision marks untrained outputs with ""
    return Classifier(
        name=f"xrv-{weights or 'random'}",
        module=module.eval(),
        labels=labels,
        reported=reported,
        mode="xrv",
        thresholds={l: 0.5 for l in reported},
        spec=PreprocessSpec(224, 1, "xrv", "bilinear"),
        splitter=_xrv_split,
        op_threshs=op,
        calibrated=op is not None,
        info={
            "trained_on": "torchxrayvision weights " + (weights or "none (random initialisation: meaningless outputs)")
        },
    )


def _xrv_pretrained(xrv: Any, weights: str, cache_dir: Path | None) -> tuple[nn.Module, list[str], torch.Tensor | None]:
    from safetensors.torch import load_file, save_file

    if weights not in XRV_WEIGHTS:
        raise ConfigError(f"Unknown torchxrayvision weights {weights!r}: use one of {', '.join(XRV_WEIGHTS)}.")
    info = xrv.models.model_urls[weights]
    cached = Path(cache_dir or ".") / "xrv" / f"{weights}.safetensors"
    module = xrv.models.DenseNet(weights=None, num_classes=len(info["labels"]))
    if cached.is_file():
        module.load_state_dict(load_file(str(cached)))
    else:
        try:  # first use: torchxrayvision downloads from GitHub and unpickles its own release file
            loaded = xrv.models.DenseNet(weights=weights, cache_dir=str(Path(cache_dir or ".") / "xrv"))
        except Exception as exc:
            raise ModelError(
                f"Cannot download torchxrayvision weights {weights}: this machine needs internet once."
            ) from exc
        state = {k: v.contiguous() for k, v in loaded.state_dict().items() if k != "op_threshs"}
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(cached))
        module.load_state_dict(state)
    op = torch.tensor(info["op_threshs"], dtype=torch.float32) if "op_threshs" in info else None
    return module, list(info["labels"]), op


def _net_split(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    acts = module.body(x)
    return acts, module.head(acts)


def load_checkpoint(folder: Path) -> Classifier:
    """A checkpoint written by `vision.train` (`manifest.json` + `model.safetensors`, no pickle).

    Raises:
        ModelError: missing or inconsistent files.
    """
    from safetensors.torch import load_file

    from vision.nets import build_net

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        state = load_file(str(folder / "model.safetensors"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"The checkpoint in {folder} is missing or corrupt (manifest.json + model.safetensors)."
        ) from exc
    spec = PreprocessSpec.from_dict(manifest["preprocessing"])
    module = build_net(manifest["arch"], len(manifest["labels"]), spec.channels)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"The checkpoint weights in {folder} do not match its manifest.") from exc
    return Classifier(
        name=manifest.get("name", folder.name),
        module=module.eval(),
        labels=list(manifest["labels"]),
        reported=list(manifest["reported"]),
        mode=manifest["mode"],
        thresholds=dict(manifest["thresholds"]),
        spec=spec,
        splitter=_net_split,
        temperature=float(manifest.get("temperature", 1.0)),
        calibrated=bool(manifest.get("calibrated", False)),
        info={"trained_on": manifest.get("dataset", "unknown"), "calibration": manifest.get("calibration", "none")},
    )


_CACHE: dict[tuple[str, str], Classifier] = {}
_LOCK = threading.Lock()


def load_classifier(name: str, cache_dir: Path | None = None, device: str | None = None) -> Classifier:
    """Load (once per process) the classifier called `name`.

    Args:
        name: "pneumonia-xception", "xrv-random", "xrv-<torchxrayvision weights>" or a checkpoint folder.
        cache_dir: where converted weights are cached.
        device: "cpu" or "cuda" (default: cuda when available).

    Raises:
        ConfigError: unknown name.
        ModelError: weights missing or corrupt.
    """
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    key = (name, dev)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(name, cache_dir)
            _CACHE[key].module.to(dev)
        return _CACHE[key]


def _load(name: str, cache_dir: Path | None) -> Classifier:
    if name == "pneumonia-xception":
        return load_xception(cache_dir)
    if name == "xrv-random":
        return load_xrv(None, cache_dir)
    if name.startswith("xrv-"):
        return load_xrv(name[4:], cache_dir)
    folder = Path(name).expanduser()
    if (folder / "manifest.json").is_file():
        return load_checkpoint(folder)
    raise ConfigError(
        f"Unknown classifier {name!r}: use pneumonia-xception, xrv-random, xrv-<weights> or a checkpoint folder."
    )
