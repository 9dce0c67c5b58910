"""The red-team suite as an eval task: wraps the safety helper's `run_redteam`.

`assistant.safety.redteam.run_redteam(make_assistant, limit, seed) -> (metrics, rows)` is the
cross-area contract; it is imported lazily, so the harness works without the safety module. The
suite runs as a whole (it picks its own prompts), so `--resume` reuses a finished suite's rows
rather than continuing a partial one. Its metrics are kept whole under `suite_metrics`; its
top-level numbers and `{"rate", "n"}` entries become metrics, and every boolean field common to
all rows (e.g. "passed") also gets a bootstrap 95% interval, per `section` when rows carry one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from assistant.errors import ConfigError
from eval.data import Example, Malformed
from eval.stats import Score, bootstrap
from eval.tasks.base import Aggregate, Context, Task


class RedTeam(Task):
    name: ClassVar[str] = "safety"
    description: ClassVar[str] = "red-team suite of the safety layer (refusals, escalations, leaks), as a task"
    primary: ClassVar[str] = "pass_rate"
    whole_suite: ClassVar[bool] = True

    def options(self, ctx: Context) -> dict[str, Any]:
        return {"guardrails": ctx.settings.guardrails}

    def load(self, ctx: Context) -> tuple[list[Example], Malformed]:
        return [{"id": "redteam"}], []

    def _runner(self, ctx: Context) -> Any:
        if ctx.run_redteam is not None:
            return ctx.run_redteam
        try:
            from assistant.safety.redteam import run_redteam
        except ImportError as exc:
            raise ConfigError("The red-team suite (assistant.safety.redteam) is not installed in this build.") from exc
        return run_redteam

    def run_all(self, examples: list[Example], ctx: Context, done: set[str]) -> Iterator[dict[str, Any]]:
        # The suite swaps the LLM and tools of the Assistant it gets: hand it a fresh one each time.
        metrics, rows = self._runner(ctx)(ctx.fresh_assistant, limit=ctx.config.limit, seed=ctx.config.seed)
        self.suite_metrics = metrics
        for n, row in enumerate(rows):
            yield {"id": str(row.get("id", f"redteam/{n:04d}"))} | {k: v for k, v in row.items() if k != "id"}

    def aggregate(self, rows: list[dict[str, Any]], ctx: Context) -> Aggregate:
        out: dict[str, Score] = {}
        suite = getattr(self, "suite_metrics", {})
        for key, value in sorted(suite.items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = Score(float(value), None, None, len(rows))
            elif isinstance(value, dict) and isinstance(value.get("rate"), (int, float)):  # {"n", "rate", ...}
                out[key] = Score(float(value["rate"]), None, None, int(value.get("n", len(rows))))
        flags = sorted(k for k in rows[0] if all(isinstance(r.get(k), bool) for r in rows)) if rows else []
        for key in flags:
            out[f"{key}_rate" if key != "passed" else "pass_rate"] = bootstrap([r[key] for r in rows], ctx.config.seed)
        groups: dict[str, dict[str, Score]] = {}
        group_key = next((k for k in ("section", "category", "kind") if rows and all(k in r for r in rows)), None)
        if group_key and "passed" in flags:
            for g in sorted({str(r[group_key]) for r in rows}):
                groups[g] = {"pass_rate": bootstrap([r["passed"] for r in rows if str(r[group_key]) == g], ctx.config.seed)}
        return Aggregate(out, groups, {"suite_metrics": suite} if suite else {})
