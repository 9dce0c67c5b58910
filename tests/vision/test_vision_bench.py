"""The vision benchmark's CI version runs and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_vision_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_vision", Path(__file__).parents[2] / "bench" / "vision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import torch

    out = tmp_path / "vision.json"
    threads = torch.get_num_threads()
    try:
        assert module.main(["--smoke", "--threads", "1", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())
    assert result["smoke"] and result["median_ms"] and result["peak_rss_mib"] > 0
    assert all(row["total"] > 0 for row in result["median_ms"].values())
    assert "vision bench" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_vision_with_copied_weights_images_and_batches(tmp_path: Path) -> None:
    """The options the GPU run used: a converted weights file, a folder of images, batch sizes."""
    spec = importlib.util.spec_from_file_location("bench_vision", Path(__file__).parents[2] / "bench" / "vision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    from vision.xception import PneumoniaXception

    torch.manual_seed(0)
    save_file(PneumoniaXception().state_dict(), str(tmp_path / "w.safetensors"))
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((64, 64), 40 * i, dtype=np.uint8)).save(images / f"x{i}.png")
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "vision.json"
    threads = torch.get_num_threads()
    try:
        assert module.main(["--weights", str(tmp_path / "w.safetensors"), "--images", str(images), "--batch", "1", "4",
                            "--repeats", "1", "--threads", "1", "--device", "cpu", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())
    assert result["weights"].endswith("w.safetensors") and result["median_ms"]["png"]["images"] == 3
    assert [b["batch"] for b in result["batches"]] == [1, 4] and all(b["images_per_s"] > 0 for b in result["batches"])
