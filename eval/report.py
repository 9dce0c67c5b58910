"""Report writers: the markdown table of a run (with its plots) and the comparison of two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval import plots


def fmt(score: dict[str, Any] | None) -> str:
    """`0.612 [0.583, 0.641]` for a score dict, `-` when empty."""
    if not score or score.get("value") is None:
        return "-"
    if score.get("ci_low") is None:
        return f"{score['value']:.3f}"
    return f"{score['value']:.3f} [{score['ci_low']:.3f}, {score['ci_high']:.3f}]"


def write_report(results: dict[str, Any], runs: list[Any], out_dir: Path, stamp: str) -> Path:
    """Write `report_<stamp>.md` and its PNG plots (in `plots_<stamp>/`) next to the results file."""
    plot_dir = out_dir / f"plots_{stamp}"
    lines = [
        f"# Eval report {stamp}",
        "",
        f"Model `{results['model']}`; RAG: {results['rag']}; mode: {results['config']['mode']}; "
        f"seed {results['seed']}; subset: {results['config']['subset']}; limit: {results['config']['limit']}; "
        f"git {str(results['git'].get('commit'))[:10]}{' (dirty)' if results['git'].get('dirty') else ''}; "
        f"wall time {results['wall_time_s']} s. Intervals are bootstrap 95%.",
        "",
        "| task | metric | value [95% CI] | n |",
        "|---|---|---|---|",
    ]
    for name, task in results["tasks"].items():
        for metric, score in task.get("metrics", {}).items():
            lines.append(f"| {name} | {metric} | {fmt(score)} | {score.get('n', '')} |")
    for name, task in results["tasks"].items():
        lines += _task_section(name, task, plot_dir)
    path = out_dir / f"report_{stamp}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _task_section(name: str, task: dict[str, Any], plot_dir: Path) -> list[str]:
    lines = ["", f"## {name}", "", task["description"], "",
             f"{task['n']} scored of {task['n_examples']} examples; {task['n_errors']} errors; "
             f"{len(task['malformed'])} malformed rows skipped. Per-sample rows: `{task['samples']}`.", ""]
    groups = task.get("groups") or {}
    if groups:
        metrics = sorted({m for g in groups.values() for m in g})
        lines += ["| group | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        lines += [f"| {g} | " + " | ".join(fmt(groups[g].get(m)) for m in metrics) + " |" for g in sorted(groups)]
        lines.append("")
        metric = task.get("primary") if task.get("primary") in metrics else metrics[0]
        lines.append(_image(plots.group_accuracy, plot_dir, f"{name}_groups.png", groups,
                            f"{name}: {metric} per group", metric=metric))
    if task.get("curves"):
        lines.append(_image(plots.roc, plot_dir, f"{name}_roc.png", task["curves"], f"{name}: ROC"))
    if task.get("reliability"):
        axes = tuple(task.get("reliability_axes") or ("confidence", "accuracy"))
        lines.append(_image(plots.reliability_diagram, plot_dir, f"{name}_reliability.png", task["reliability"],
                            f"{name}: reliability", axes=axes))
    if task.get("latency"):
        lines += ["", "| stage | n | mean s | p50 s | p95 s |", "|---|---|---|---|---|"]
        lines += [f"| {s} | {v['n']} | {v['mean']} | {v['p50']} | {v['p95']} |" for s, v in task["latency"].items()]
    return lines


def _image(fn: Any, plot_dir: Path, filename: str, *args: Any, **kwargs: Any) -> str:
    plot_dir.mkdir(parents=True, exist_ok=True)
    fn(*args, path=plot_dir / filename, **kwargs)
    return f"\n![{filename}]({plot_dir.name}/{filename})\n"
