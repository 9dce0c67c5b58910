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
