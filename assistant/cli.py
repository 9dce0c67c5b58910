"""The `medassist` command line: one subcommand per job.

Each subcommand lives in a module with `register(subparsers)`; heavy imports happen inside the
command, so `medassist --help` is instant. A `MedAssistError` prints one sentence and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence

from assistant.config import Settings
from assistant.errors import MedAssistError

COMMAND_MODULES = [
    "assistant.commands.ask",
    "assistant.commands.chat",
    "assistant.commands.models",
    "retrieval.cli",
    "vision.cli",
    "assistant.commands.audit",
    "assistant.commands.safety",
    "assistant.commands.ui",
    "assistant.commands.serve",
    "eval.cli",
    "assistant.commands.bench",
    "assistant.commands.kg",
]


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that builds an Assistant (each overrides MEDASSIST_*)."""
    parser.add_argument("--llm", help="model: preset, hub id, directory, fake, echo or openai:MODEL@URL (MEDASSIST_LLM)")
    parser.add_argument("--max-new-tokens", type=int, help="answer length limit in tokens")
    parser.add_argument("--index-dir", help="retrieval index folder (MEDASSIST_INDEX_DIR)")
    parser.add_argument("--guardrails", help="safety layer: default or none (MEDASSIST_GUARDRAILS)")
    parser.add_argument("--tools", help="tools to enable: all, none, or e.g. retrieval,xray (MEDASSIST_TOOLS)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print settings and logs to stderr")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    names = ("llm", "max_new_tokens", "index_dir", "guardrails", "tools", "host", "port")
    overrides = {k: getattr(args, k, None) for k in names}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if getattr(args, "verbose", False):
        print("settings: " + json.dumps(settings.public()), file=sys.stderr)
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medassist",
        description="MedAssist: medical consultation assistant (not a medical device; not medically validated).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _quiet_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # per-load weight bars; index builds keep theirs
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `medassist` and `python -m assistant`; returns the exit code."""
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MedAssistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
