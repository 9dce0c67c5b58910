"""Shared helpers for the benchmarks in `bench/`: machine facts, a plain-text table, the JSON record.

Every result file names the machine, date, git commit, package versions and the exact command,
so a figure in docs/benchmarks can always be traced back to the run that produced it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and GPU of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None  # other work on the box skews timings
    return {"cpu": cpu, "cores": cores, "memory_gib": mem_gib, "gpu": _gpu(), "python": platform.python_version(),
            "load_average_1_5_15": load}


def _gpu() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # torch missing or broken CUDA: report no GPU
        return None


def versions(packages: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of `rows` (floats shown with 3 significant digits)."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return "-" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def results_dir() -> Path:
    """Where result JSON goes: bench/results, or $MEDASSIST_BENCH_RESULTS (tests point it at tmp_path)."""
    return Path(os.environ.get("MEDASSIST_BENCH_RESULTS") or RESULTS)


def write_result(name: str, payload: dict[str, Any], out: str | Path | None = None, smoke: bool = False) -> Path:
    """Write `payload` with the run's context to `bench/results/NAME-DATE.json` (or `out`)."""
    now = dt.datetime.now(dt.timezone.utc)
    record = {
        "benchmark": name,
        "smoke": smoke,
        "date": now.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "git_commit": git_commit(),
        "machine": machine(),
        **payload,
    }
    if out is None:
        suffix = "-smoke" if smoke else ""
        out = results_dir() / f"{name}-{now:%Y-%m-%d}{suffix}.json"
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path
