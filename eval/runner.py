"""The runner: load each task's examples, stream per-sample rows to disk, aggregate, write results.

Per-sample rows go to `samples_<task>_<hash>.jsonl` as soon as each one is done (flushed and
fsynced), where the hash covers everything that changes a row (task, model, RAG, mode, data,
seed, task options) but not `--limit`/`--subset`: a row depends only on its example, so `--resume`
picks up after a crash or Ctrl-C, and a subset run's rows are reused by a later full run in the
same folder. Aggregates only ever cover the examples of the current run.

`results_<time>.json` holds, per task, the metrics with bootstrap 95% intervals, n, skipped rows,
per-group metrics and a latency summary, plus the config, model, index manifest, git hash, package
versions, seed and wall time. Apart from `created`, `wall_time_s` and each task's `latency`, the same
seed and config give the same file contents.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError, InputError, ModelError
from eval.stats import latency_summary
from eval.tasks import TASKS
from eval.tasks.base import Context, Task, config_hash

log = logging.getLogger(__name__)
PACKAGES = ("medassist", "torch", "transformers", "sentence-transformers", "faiss-cpu", "numpy", "keras")
TIMING_KEYS = ("created", "wall_time_s", "latency")  # what may differ between identical runs


@dataclass
class TaskRun:
    """The outcome of one task in a run."""

    name: str
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)


def get_task(name: str) -> Task:
    """A fresh task object by name.

    Raises:
        ConfigError: no task has that name.
    """
    if name not in TASKS:
        raise ConfigError(f"Unknown eval task {name!r}: run `medassist eval ls` for the list.")
    return TASKS[name]()


def run(task_names: list[str], ctx: Context, out_dir: Path, resume: bool = False, overwrite: bool = False,
        progress: bool = True) -> tuple[Path, list[TaskRun]]:
    """Run tasks and write results, report and plots into `out_dir`.

    Args:
        task_names: tasks to run, in order.
        ctx: run context (settings, config, lazily built resources).
        out_dir: output folder (created).
        resume: continue from the per-sample rows already in `out_dir`.
        overwrite: discard earlier rows of the same config instead of refusing.
        progress: print one progress line per example to stderr.

    Returns:
        The results file and the task runs.

    Raises:
        ConfigError: unknown task, or earlier rows exist and neither resume nor overwrite was given.
    """
    tasks = [get_task(n) for n in task_names]
    out_dir.mkdir(parents=True, exist_ok=True)
    start, stamp, git = time.perf_counter(), _stamp(out_dir), git_info()  # the code that runs, taken at start
    runs = [_run_task(t, ctx, out_dir, resume, overwrite, progress) for t in tasks]
    results = _results(runs, ctx, time.perf_counter() - start, git)
    path = out_dir / f"results_{stamp}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    from eval.report import write_report

    write_report(results, runs, out_dir, stamp)
    return path, runs


def _stamp(out_dir: Path) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    n, candidate = 1, stamp
    while (out_dir / f"results_{candidate}.json").exists():
        n, candidate = n + 1, f"{stamp}-{n}"
    return candidate


def _run_task(task: Task, ctx: Context, out_dir: Path, resume: bool, overwrite: bool, progress: bool) -> TaskRun:
    examples, malformed = task.load(ctx)
    for bad in malformed:
        log.warning("%s: skipped malformed row %s (%s)", task.name, bad["where"], bad["reason"])
    if malformed:
        print(f"{task.name}: skipped {len(malformed)} malformed row(s); see results 'malformed'", file=sys.stderr)
    if ctx.config.limit is not None:
        examples = examples[: ctx.config.limit]
    if not examples:
        raise InputError(f"Task {task.name} has no usable examples: check its data.")
    payload = _hash_payload(task, ctx)
    digest = config_hash(task.name, payload)
    samples = out_dir / f"samples_{task.name}_{digest}.jsonl"
    done = _previous(samples, resume, overwrite)
    wanted = {e["id"] for e in examples}
    todo = [e for e in examples if e["id"] not in done]
    if task.whole_suite and done:
        todo = []  # a whole suite's rows are reused as they are
    if progress and done:
        print(f"{task.name}: resuming, {len(wanted & set(done))} of {len(examples)} already done", file=sys.stderr)
    with samples.open("a", encoding="utf-8") as f:
        for i, row in enumerate(_rows(task, todo, ctx), 1):
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
            done[row["id"]] = row
            if progress:
                mark = "error" if "error" in row else ("ok" if row.get("correct") else "-")
                print(f"{task.name}: {i}/{len(todo)} {row['id']} {mark}", file=sys.stderr)
    rows = list(done.values()) if task.whole_suite else [done[e["id"]] for e in examples if e["id"] in done]
    return TaskRun(task.name, _summary(task, ctx, rows, malformed, samples, digest, payload, len(examples)), rows)


def _rows(task: Task, todo: list[dict[str, Any]], ctx: Context) -> Any:
    """Rows of `todo`; an example that raises InputError or ModelError becomes an error row, the run goes on."""
    if type(task).run_all is not Task.run_all:
        if todo:
            yield from task.run_all(todo, ctx, set())
        return
    for example in todo:
        try:
            yield {"id": example["id"]} | task.evaluate(example, ctx)
        except (InputError, ModelError) as exc:  # a ConfigError (missing module, bad flag) stops the run
            yield {"id": example["id"], "error": str(exc)}


def _previous(samples: Path, resume: bool, overwrite: bool) -> dict[str, dict[str, Any]]:
    """Rows already on disk for this config (resume), after dropping a line cut off by a crash."""
    if not samples.exists() or samples.stat().st_size == 0:
        return {}
    if overwrite:
        samples.unlink()
        return {}
    if not resume:
        raise ConfigError(f"{samples} already holds rows of this run: pass --resume to continue it, "
                          "--overwrite to start again, or another --out.")
    rows: dict[str, dict[str, Any]] = {}
    lines = [ln for ln in samples.read_text(encoding="utf-8").split("\n") if ln.strip()]
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # the last line of a killed run may be cut short
        if isinstance(row, dict) and "id" in row and "error" not in row:
            rows[row["id"]] = row  # error rows are retried
    if len(rows) != len(lines):
        samples.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows.values()), encoding="utf-8")
    return rows


def _hash_payload(task: Task, ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    config = ctx.config.to_json()
    for key in ("limit", "subset"):
        config.pop(key)
    return {"config": config, "options": task.options(ctx), "llm": s.llm, "max_new_tokens": s.max_new_tokens,
            "temperature": s.temperature, "retrieval_k": s.retrieval_k, "embedder": s.embedder,
            "index_dir": str(s.index_dir) if s.index_dir else None, "guardrails": s.guardrails}


def _summary(task: Task, ctx: Context, rows: list[dict[str, Any]], malformed: list[dict[str, str]],
             samples: Path, digest: str, payload: dict[str, Any], n_examples: int) -> dict[str, Any]:
    good = [r for r in rows if "error" not in r]
    aggregate = task.aggregate(good, ctx).to_json() if good else {"metrics": {}, "groups": {}}
    return {
        "description": task.description,
        "primary": task.primary,
        "n": len(good),
        "n_examples": n_examples,
        "n_errors": len(rows) - len(good),
        "errors": [{"id": r["id"], "error": r["error"]} for r in rows if "error" in r][:20],
        "malformed": malformed,
        "samples": samples.name,
        "config_hash": digest,
        "options": payload["options"],
        **aggregate,
        "latency": latency_summary([r["timings"] for r in good if isinstance(r.get("timings"), dict)]),
    }


def _results(runs: list[TaskRun], ctx: Context, wall: float, git: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings.public()
    model = ctx.assistant.llm.name if ctx.assistant is not None else settings["llm"]
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 2),
        "model": model,
        "rag": _rag_used(ctx),
        "config": ctx.config.to_json(),
        "seed": ctx.config.seed,
        "settings": {k: settings[k] for k in ("llm", "max_new_tokens", "temperature", "seed", "embedder",
                                               "retrieval_k", "retrieval_min_score", "guardrails", "classifier")},
        "index_manifest": index_manifest(ctx) if _rag_used(ctx) or ctx.retriever is not None else None,
        "git": git,
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "tasks": {r.name: r.summary for r in runs},
    }


def _rag_used(ctx: Context) -> bool | None:
    """Whether the Assistant had a retrieval tool (None when no task built an Assistant)."""
    if ctx.assistant is None:
        return None
    return any(t.name == "retrieval" for t in ctx.assistant.tools) and ctx.config.rag is not False


def index_manifest(ctx: Context) -> dict[str, Any] | None:
    """The retrieval index's `manifest.json` (what was indexed, with which embedder), if any."""
    path = ctx.settings.resolved_index_dir() / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def git_info() -> dict[str, Any]:
    """The commit of this code and whether the work tree had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def strip_timings(results: dict[str, Any]) -> dict[str, Any]:
    """A copy of a results dict without the fields that legitimately differ between identical runs."""
    out = {k: v for k, v in results.items() if k not in TIMING_KEYS}
    out["tasks"] = {n: {k: v for k, v in t.items() if k not in TIMING_KEYS} for n, t in results["tasks"].items()}
    return out
