"""`medassist eval compare A.json B.json`: what changed between two runs, and whether it is significant.

For each task in both files, the per-sample JSONL files (found next to each results file) are
joined on example id. Binary outcomes (`correct`) get the exact McNemar test; numeric ones (e.g. a
rubric score) a paired bootstrap. Without sample files only the two intervals are shown, unpaired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from eval.report import fmt
from eval.stats import mcnemar, paired_bootstrap

# Per-sample field holding each task's outcome, in order of preference.
OUTCOME_FIELDS = ("correct", "score", "passed", "hit@10")


@dataclass
class Row:
    """One task's comparison."""

    task: str
    metric: str
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    paired: dict[str, Any] = field(default_factory=dict)
    groups: tuple[dict[str, Any], dict[str, Any]] = ({}, {})


def load_results(path: Path) -> dict[str, Any]:
    """A results file, or a clear error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read results file {path}: pass a results_<time>.json from `medassist eval run`.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise InputError(f"{path} is not a results file of `medassist eval run`.")
    return data


def _samples(results_path: Path, task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    path = Path(results_path).parent / task.get("samples", "")
    rows: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").split("\n"):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "id" in row and "error" not in row:
            rows[str(row["id"])] = row
    return rows


def compare(a_path: Path, b_path: Path, seed: int = 0) -> list[Row]:
    """Compare every task present in both results files.

    Raises:
        InputError: a file is unreadable or the two share no task.
    """
    a, b = load_results(a_path), load_results(b_path)
    common = [t for t in a["tasks"] if t in b["tasks"]]
    if not common:
        raise InputError(f"{a_path} and {b_path} have no task in common.")
    out = []
    for name in common:
        ta, tb = a["tasks"][name], b["tasks"][name]
        metric = ta.get("primary") or "accuracy"
        row = Row(name, metric, ta.get("metrics", {}).get(metric), tb.get("metrics", {}).get(metric),
                  groups=(ta.get("groups") or {}, tb.get("groups") or {}))
        row.paired = _paired(_samples(a_path, ta), _samples(b_path, tb), seed)
        out.append(row)
    return out


def _paired(sa: dict[str, dict[str, Any]], sb: dict[str, dict[str, Any]], seed: int) -> dict[str, Any]:
    ids = sorted(set(sa) & set(sb))
    field_ = next((f for f in OUTCOME_FIELDS if ids and all(f in sa[i] and f in sb[i] for i in ids)), None)
    if field_ is None:
        return {}
    xa = [sa[i][field_] for i in ids]
    xb = [sb[i][field_] for i in ids]
    result: dict[str, Any] = {"n": len(ids), "field": field_}
    result |= {"bootstrap": paired_bootstrap([float(x) for x in xa], [float(x) for x in xb], seed)}
    if all(isinstance(x, bool) for x in xa + xb):
        result["mcnemar"] = mcnemar(xa, xb)
    return result


def render(rows: list[Row]) -> str:
    """A markdown table: A, B, the paired difference B - A with its interval, and the p-value."""
    lines = ["| task | metric | A | B | paired n | B - A [95% CI] | p (test) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r.paired
        if p:
            boot = p["bootstrap"]
            diff = f"{boot['diff']:+.3f} [{boot['ci_low']:+.3f}, {boot['ci_high']:+.3f}]"
            test = (f"{p['mcnemar']['p_value']:.4f} (McNemar, {p['mcnemar']['a_only']} vs {p['mcnemar']['b_only']} discordant)"
                    if "mcnemar" in p else f"{boot['p_value']:.4f} (paired bootstrap)")
            n = str(p["n"])
        else:
            diff, test, n = "-", "no paired samples found", "0"
        lines.append(f"| {r.task} | {r.metric} | {fmt(r.a)} | {fmt(r.b)} | {n} | {diff} | {test} |")
    return "\n".join(lines)


def write(rows: list[Row], a_path: Path, b_path: Path, out_dir: Path) -> Path:
    """`compare.md` with the table and one per-group plot per task (e.g. RAG vs no-RAG per subject)."""
    from eval import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Comparison", "", f"A: `{a_path}`  ", f"B: `{b_path}`", "", render(rows), ""]
    names = (_label(load_results(a_path)), _label(load_results(b_path)))
    for r in rows:
        ga, gb = r.groups
        common = sorted(set(ga) & set(gb))
        if common and all(r.metric in ga[g] and r.metric in gb[g] for g in common):
            lines += [f"### {r.task}: {r.metric} per group", "", f"| group | {names[0]} | {names[1]} |", "|---|---|---|"]
            lines += [f"| {g} | {fmt(ga[g][r.metric])} | {fmt(gb[g][r.metric])} |" for g in common]
            lines.append("")
            png = plots.paired_groups(ga, gb, names, f"{r.task}: {names[0]} vs {names[1]}",
                                      out_dir / f"compare_{r.task}.png", metric=r.metric)
            lines.append(f"![{png.name}]({png.name})")
    path = out_dir / "compare.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _label(results: dict[str, Any]) -> str:
    rag = results.get("rag")
    return f"{results.get('model')} ({'RAG' if rag else 'no RAG' if rag is False else 'n/a'})"
