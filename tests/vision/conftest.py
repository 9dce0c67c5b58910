"""Vision fixtures: packaged real images (skipped when the asset packages are missing) and a tiny
checkpoint trained once per session on generated data, the fast stand-in for a real model."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def packaged_images() -> list[tuple[Path, int]]:
    if importlib.util.find_spec("pneumonia_model_package") is None:
        pytest.skip("pneumonia-model-package is not installed")
    from vision.xception import sample_images

    return sample_images()


@pytest.fixture(scope="session")
def rg1_dicoms() -> dict[str, Path]:
    try:
        files = importlib.metadata.files("pydicom-data") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pydicom-data is not installed")
    found = {Path(str(f)).stem.split("_")[1]: Path(f.locate()) for f in files if Path(str(f)).name.startswith("RG1_")}
    if len(found) != 4:
        pytest.skip("pydicom-data lacks the RG1 radiographs")
    return found


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'tiny' network trained for 2 epochs on a generated PneumoniaMNIST-like file (seconds)."""
    from vision.synthetic import write_medmnist
    from vision.train import TrainConfig, train

    root = tmp_path_factory.mktemp("tinyckpt")
    data = write_medmnist(root / "pneumoniamnist.npz", n=96, size=28)
    train(TrainConfig(str(data), root / "ckpt", epochs=2, size=64, batch_size=16, bootstrap=50))
    return root / "ckpt"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread per test module: on a shared 2-core CI box torch's default threads spin
    against other processes and ran about 20x slower (docs/benchmarks/vision.md). Restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converted weights and heatmaps that a test does not place itself go to tmp_path, never ~/.cache."""
    monkeypatch.setenv("MEDASSIST_CACHE_DIR", str(tmp_path / "medassist-cache"))
