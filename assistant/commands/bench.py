"""`medassist bench NAME [--smoke] [--args '...']`: run one of the repository's benchmarks.

The benchmarks are scripts in the repository's `bench/` folder (each `bench/NAME.py` has
`main(argv) -> int`, prints a table and writes JSON to `bench/results/`). They are not part of
the installed package: they need a source checkout, which this command finds next to the
`assistant` package.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
from pathlib import Path
from types import ModuleType

from assistant.errors import ConfigError

BENCHMARKS = ("llm", "retrieval", "vision", "serving", "e2e")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="run a benchmark: llm, retrieval, vision, serving or e2e",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    p.add_argument("--smoke", action="store_true", help="seconds-long version (what CI runs)")
    p.add_argument("--args", default="", metavar="'ARGS'",
                   help="options passed on to the benchmark, quoted (e.g. --args='--models smollm2-135m', --args=--help)")
    p.set_defaults(func=run)


def bench_dir() -> Path:
    """The repository's `bench/` folder (next to the `assistant` package in a source checkout)."""
    return Path(__file__).resolve().parents[2] / "bench"


def load_bench(name: str) -> ModuleType:
    """Import `bench/NAME.py` from the source checkout.

    Raises:
        ConfigError: unknown name, or the script is not there (e.g. an installed wheel).
    """
    if name not in BENCHMARKS:
        raise ConfigError(f"Unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}.")
    path = bench_dir() / f"{name}.py"
    if not path.is_file():
        raise ConfigError(
            f"Benchmark script {path} is not there: benchmarks run from a source checkout of MedAssist "
            "(git clone, then `medassist bench` from it), not from an installed wheel."
        )
    root = str(path.parent.parent)
    if root not in sys.path:  # so a benchmark can import `bench._common` and the repo's packages
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(f"medassist_bench_{name}", path)
    assert spec is not None and spec.loader is not None  # a .py file always has a loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look a class's module up here
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    module = load_bench(args.name)
    extra = shlex.split(args.args)
    return int(module.main((["--smoke"] if args.smoke else []) + extra) or 0)
