"""`medassist eval`: run tasks (`run`), list them (`ls`), compare two results files (`compare`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.cli import add_settings_flags

    p = subparsers.add_parser("eval", help="offline benchmarks: run tasks, list them, compare runs",
                              description="Offline eval harness. Results are research measurements, "
                                          "not a medical validation.")
    sub = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)

    r = sub.add_parser("run", help="run one or more tasks and write results, samples, report and plots",
                       description="Run eval tasks. Writes results_<time>.json, samples_<task>_<hash>.jsonl, "
                                   "report_<time>.md and plots_<time>/ into --out.")
    r.add_argument("tasks", nargs="+", metavar="TASK", help="task names (see `medassist eval ls`)")
    rag = r.add_mutually_exclusive_group()
    rag.add_argument("--rag", dest="rag", action="store_true", default=None,
                     help="retrieve with the Assistant's retrieval tool (error if it is unavailable)")
    rag.add_argument("--no-rag", dest="rag", action="store_false", help="closed-book: no retrieval tool")
    r.add_argument("--mode", choices=("generate", "loglik"), default="generate",
                   help="multiple choice: parse the answer from generated text (MIRAGE) or score option letters")
    r.add_argument("--limit", type=int, help="only the first N examples (after --subset)")
    r.add_argument("--subset", type=int, help="a fixed stratified subset of N examples (drawn with --seed)")
    r.add_argument("--seed", type=int, default=0, help="seed for subsets and bootstrap intervals (default 0)")
    r.add_argument("--data", help="dataset: file (MIRAGE benchmark.json, JSONL, BEIR folder, image folder) or 'hf'")
    r.add_argument("--judge", help="HealthBench rubric judge model (any --llm value); default: rule checks only")
    r.add_argument("--out", type=Path, default=Path("eval-results"), help="output folder (default eval-results)")
    r.add_argument("--resume", action="store_true", help="continue from the per-sample rows already in --out")
    r.add_argument("--overwrite", action="store_true", help="discard earlier rows of this config in --out")
    r.add_argument("-q", "--quiet", action="store_true", help="no per-example progress lines")
    add_settings_flags(r)
    r.set_defaults(func=run_command)

    ls = sub.add_parser("ls", help="list the tasks")
    ls.set_defaults(func=ls_command)

    c = sub.add_parser("compare", help="difference between two results files, with significance",
                       description="Compare two runs task by task: paired by example id (exact McNemar test "
                                   "and paired bootstrap) when both runs' sample files are found.")
    c.add_argument("a", type=Path, metavar="A.json")
    c.add_argument("b", type=Path, metavar="B.json")
    c.add_argument("--out", type=Path, help="also write compare.md and a per-group plot here")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=compare_command)


def _positive(name: str, value: int | None) -> None:
    from assistant.errors import InputError

    if value is not None and value < 1:
        raise InputError(f"--{name} must be a positive number.")


def run_command(args: argparse.Namespace) -> int:
    from assistant.cli import settings_from_args
    from eval.runner import run
    from eval.tasks.base import Context, RunConfig

    _positive("limit", args.limit)
    _positive("subset", args.subset)
    config = RunConfig(rag=args.rag, mode=args.mode, limit=args.limit, subset=args.subset, seed=args.seed,
                       data=args.data, judge=args.judge)
    settings = settings_from_args(args)
    ctx = Context(settings=settings.model_copy(update={"seed": args.seed}), config=config)
    path, runs = run(args.tasks, ctx, args.out, resume=args.resume, overwrite=args.overwrite,
                     progress=not args.quiet)
    from eval.report import fmt

    for task in runs:
        primary = task.summary.get("primary")
        score = task.summary.get("metrics", {}).get(primary)
        print(f"{task.name}: {primary} {fmt(score)} (n={task.summary['n']}, errors={task.summary['n_errors']})")
    print(f"results: {path}")
    return 0


def ls_command(args: argparse.Namespace) -> int:
    from eval.tasks import TASKS

    width = max(len(n) for n in TASKS)
    for name, cls in TASKS.items():
        print(f"{name:<{width}}  {cls.description}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from eval.compare import compare, render

    table = compare(args.a, args.b, seed=args.seed)
    print(render(table))
    if args.out:
        from eval.compare import write

        print(f"written: {write(table, args.a, args.b, args.out)}", file=sys.stderr)
    return 0
