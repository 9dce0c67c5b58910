"""The Task interface and the run context every task receives.

A task is small, as in nanochat and lm-evaluation-harness: `load` returns its examples (and the
malformed rows it skipped), `evaluate` turns one example into one per-sample row (written to JSONL
at once), and `aggregate` turns all rows into metrics with bootstrap intervals. Tasks that can only
run as a whole (the red-team suite) override `run_all` instead of `evaluate`.

`Context` builds the expensive things (the Assistant, the LLM, a retriever, a judge) lazily and
once, so `medassist eval ls` and tasks that need no model stay instant. Tests inject fakes.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from assistant.config import Settings
from assistant.engine import Assistant
from assistant.errors import ConfigError
from assistant.llm.base import LLM
from assistant.tools import Tool
from eval.data import Example, Malformed
from eval.stats import Score


@dataclass
class RunConfig:
    """What a run was asked to do; everything here goes into the results file and the config hash.

    Args:
        rag: True/False forces retrieval on/off; None uses it when a retrieval tool is available.
        mode: multiple-choice scoring, "generate" (MIRAGE: answer parsed from output) or "loglik".
        limit: only the first N examples (after `subset`).
        subset: a stratified subset of N examples, drawn with `seed`.
        seed: seeds subsets, bootstrap intervals and sampling.
        data: dataset path or "hf" for tasks that read one.
        judge: model spec of the HealthBench rubric judge (None: rule checks only).
    """

    rag: bool | None = None
    mode: str = "generate"
    limit: int | None = None
    subset: int | None = None
    seed: int = 0
    data: str | None = None
    judge: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Context:
    """Lazily built resources shared by the tasks of one run.

    Tests pass ready-made objects (`assistant`, `llm`, `scorer`, `retriever`, `judge`, ...); the
    CLI passes only `settings` and `config` and everything is built on first use.
    """

    settings: Settings
    config: RunConfig = field(default_factory=RunConfig)
    assistant: Assistant | None = None
    scorer: Any = None
    retriever: Any = None
    judge: LLM | None = None
    make_assistant: Callable[[], Assistant] | None = None
    classify_paths: Callable[..., list[dict[str, Any]]] | None = None  # vision contract (tests inject a fake)
    run_redteam: Callable[..., tuple[dict[str, Any], list[dict[str, Any]]]] | None = None  # safety contract

    def get_assistant(self) -> Assistant:
        """The Assistant of this run: `build_assistant(settings)`, without tools when RAG is off."""
        if self.assistant is None:
            self.assistant = self._build()
        return self.assistant

    def _build(self) -> Assistant:
        if self.make_assistant is not None:
            return self.make_assistant()
        from assistant.factory import build_assistant, build_tools

        tools = build_tools(self.settings)
        if self.config.rag is False:
            tools = [t for t in tools if t.name != "retrieval"]
        elif self.config.rag and not any(t.name == "retrieval" for t in tools):
            raise ConfigError("--rag needs the retrieval tool, which is not installed or has no index: "
                              "build the index (`medassist index build`) or pass --no-rag.")
        return build_assistant(self.settings, tools=tools)

    def fresh_assistant(self) -> Assistant:
        """A new Assistant sharing this run's model and tools, for callers that modify the one they get."""
        if self.make_assistant is not None:
            return self.make_assistant()
        from assistant.factory import build_assistant

        base = self.get_assistant()
        return build_assistant(self.settings, llm=base.llm, tools=list(base.tools))

    def llm(self) -> LLM:
        return self.get_assistant().llm

    def retrieval_tool(self) -> Tool | None:
        """The Assistant's retrieval tool, or None when RAG is off or unavailable."""
        if self.config.rag is False:
            return None
        return next((t for t in self.get_assistant().tools if t.name == "retrieval"), None)

    def get_scorer(self) -> Any:
        if self.scorer is None:
            from assistant.llm import CATALOG, load_llm
            from eval.loglik import TransformersScorer

            llm = self.llm()
            if not hasattr(llm, "tokenizer") and self.settings.llm in CATALOG:
                # Presets generate on llama.cpp when it is installed; scoring needs logits from transformers.
                llm = load_llm(f"transformers:{self.settings.llm}", self.settings.context_length)
            self.scorer = TransformersScorer(llm)
        return self.scorer

    def get_judge(self) -> LLM | None:
        if self.judge is None and self.config.judge:
            from assistant.llm import load_llm

            self.judge = self.llm() if self.config.judge == self.settings.llm else load_llm(self.config.judge)
        return self.judge


@dataclass
class Aggregate:
    """A task's summary: headline metrics, per-group metrics and extras for plots."""

    metrics: dict[str, Score]
    groups: dict[str, dict[str, Score]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "groups": {g: {k: v.to_json() for k, v in m.items()} for g, m in self.groups.items()},
            **self.extra,
        }


class Task(ABC):
    """One evaluation task."""

    name: ClassVar[str]
    description: ClassVar[str]
    primary: ClassVar[str] = "accuracy"  # the headline metric
    whole_suite: ClassVar[bool] = False  # rows are not one per loaded example (e.g. the red-team suite)

    def options(self, ctx: Context) -> dict[str, Any]:
        """Task settings beyond `RunConfig` that change results (part of the config hash)."""
        return {}

    @abstractmethod
    def load(self, ctx: Context) -> tuple[list[Example], Malformed]:
        """All examples (each a dict with a unique `id`) and the malformed rows that were skipped."""

    def evaluate(self, example: Example, ctx: Context) -> dict[str, Any]:
        """One per-sample row (JSON-serialisable; `id` is added by the runner).

        Tasks either override this or override `run_all` (batched tasks such as safety).
        """
        raise TypeError(f"task {type(self).__name__} overrides neither evaluate() nor run_all()")

    def run_all(self, examples: list[Example], ctx: Context, done: set[str]) -> Iterator[dict[str, Any]]:
        """Rows for all examples not in `done`; the default calls `evaluate` one by one."""
        for example in examples:
            if example["id"] not in done:
                yield {"id": example["id"]} | self.evaluate(example, ctx)

    @abstractmethod
    def aggregate(self, rows: list[dict[str, Any]], ctx: Context) -> Aggregate:
        """Metrics over all rows, with bootstrap intervals seeded by `ctx.config.seed`."""


def config_hash(task: str, payload: dict[str, Any]) -> str:
    """A short stable hash of everything that changes a task's results."""
    text = json.dumps({"task": task, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]
