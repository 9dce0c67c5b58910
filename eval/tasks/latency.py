"""Latency: per-stage timings of the whole Assistant on real patient questions.

Every task already summarises the timings its rows carry; this task exists to time the product
path end to end (`Assistant.ask`, guardrails, retrieval, vision, prompt, prefill, decode, total)
on the first user messages of single-turn HealthBench conversations. Its headline is the mean
total seconds per turn; timings depend on the machine and its load, so they are excluded from
the determinism guarantee.
"""

from __future__ import annotations

from typing import Any, ClassVar

from assistant.types import Turn
from eval.data import Example, Malformed
from eval.stats import bootstrap
from eval.tasks.base import Aggregate, Context, Task
from eval.tasks.healthbench import load_healthbench

DEFAULT_N = 20


class Latency(Task):
    name: ClassVar[str] = "latency"
    description: ClassVar[str] = f"per-stage timings of Assistant.ask on {DEFAULT_N} patient questions (or --limit N)"
    primary: ClassVar[str] = "total_s"

    def load(self, ctx: Context) -> tuple[list[Example], Malformed]:
        conversations, bad = load_healthbench()
        single = [c for c in conversations if len(c["messages"]) == 1]
        n = ctx.config.limit or DEFAULT_N
        return [{"id": c["id"], "text": str(c["messages"][0]["content"])} for c in single[:n]], bad

    def evaluate(self, example: Example, ctx: Context) -> dict[str, Any]:
        result = ctx.get_assistant().ask(Turn(text=example["text"], role="patient"))
        return {"timings": result.timings, "answer_chars": len(result.answer),
                "retrieved": [c.id for c in result.citations], "safety": result.safety.action}

    def aggregate(self, rows: list[dict[str, Any]], ctx: Context) -> Aggregate:
        stages = sorted({k for r in rows for k in r["timings"]})
        return Aggregate({f"{s}_s": bootstrap([r["timings"].get(s) for r in rows], ctx.config.seed) for s in stages})
