"""Events that `Assistant.run` yields, in order, for one turn.

A turn yields: `SafetyEvent` (input rails), then for each tool a `ToolCallEvent` and a
`ToolResultEvent`, a `CitationsEvent` if anything was retrieved, `TokenEvent`s as text streams,
and finally one `FinalEvent` holding the whole `AnswerResult`. Adapters render these; they never
reach into the engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.types import Citation, Finding, SafetyDecision, ToolCallRecord


@dataclass
class SafetyEvent:
    decision: SafetyDecision
    stage: str = "input"  # "input" or "output"


@dataclass
class ToolCallEvent:
    name: str
    input: dict[str, Any]


@dataclass
class ToolResultEvent:
    record: ToolCallRecord


@dataclass
class CitationsEvent:
    citations: list[Citation]


@dataclass
class TokenEvent:
    text: str


@dataclass
class AnswerResult:
    """The whole outcome of a turn: the shape of `medassist ask --json`."""

    answer: str
    citations: list[Citation] = field(default_factory=list)
    findings: list[Finding] | None = None
    safety: SafetyDecision = field(default_factory=SafetyDecision)
    tools: list[ToolCallRecord] = field(default_factory=list)
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON contract shared by the CLI, the API and the eval harness."""
        return {
            "answer": self.answer,
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "text"} | {"text": c.text}
                for c in self.citations
            ],
            "findings": None if self.findings is None else [asdict(f) for f in self.findings],
            "safety": self.safety.public(),
            "tools": [asdict(t) for t in self.tools],
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            **self.extra,
        }


@dataclass
class FinalEvent:
    result: AnswerResult


Event = SafetyEvent | ToolCallEvent | ToolResultEvent | CitationsEvent | TokenEvent | FinalEvent
