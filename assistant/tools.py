"""The tool interface.

A tool is declarative, as in smolagents: a `name`, a `description`, typed `inputs` and a
`forward` that returns a `ToolOutput`. The LLM never touches files or indexes: the engine calls the
tools and shows the model their results as quoted data.

Small local models cannot be trusted to decide when to call a tool, so each tool also has a
`select(turn)` router: it returns the inputs to call it with for this turn, or None. Retrieval
selects every turn with text; the X-ray tool selects every turn with an image. With
`tool_calling="native"` and a model whose chat template supports tools, the model chooses among
the tools marked `model_callable` from their `spec()`, and `from_model` turns its arguments into
inputs (the clinical tools re-read values from the text rather than trust the model's).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from assistant.errors import InputError
from assistant.types import Citation, Finding, ToolCallRecord, Turn


@dataclass
class ToolOutput:
    """What a tool returns.

    Args:
        data: JSON-serialisable result, reported in `tools[].output`.
        context: text for the model's "tool results" block (quoted as data, never as instructions);
            a marker `[[cite:ID]]` becomes the number of citation ID once numbered, e.g. " [6]".
        citations: literature snippets to number and show the model; the engine numbers them.
        findings: classifier findings, reported in `findings`.
        grounding: True for a literature tool, whose empty result means "no source found".
    """

    data: dict[str, Any] = field(default_factory=dict)
    context: str = ""
    citations: list[Citation] = field(default_factory=list)
    findings: list[Finding] | None = None
    grounding: bool = False


class Tool(ABC):
    """Base class for tools the Assistant can call."""

    name: ClassVar[str]
    description: ClassVar[str]
    inputs: ClassVar[dict[str, dict[str, str]]]  # {"query": {"type": "string", "description": ...}}
    output_type: ClassVar[str] = "object"
    model_callable: ClassVar[bool] = False  # offered to a tool-calling model (else the router alone decides)

    def select(self, turn: Turn) -> dict[str, Any] | None:
        """Return this tool's inputs if it should run for `turn`, else None."""
        return None

    def from_model(self, turn: Turn, arguments: dict[str, Any]) -> dict[str, Any]:
        """This tool's inputs from a model's call; the default checks the declared inputs are there.

        Raises:
            InputError: an input is missing or unknown (reported as the call's error).
        """
        missing = [k for k in self.inputs if k not in arguments]
        unknown = [k for k in arguments if k not in self.inputs]
        if missing or unknown:
            raise InputError(f"The model's call to {self.name} is invalid: "
                             + "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                                         + [f"unknown {', '.join(unknown)}"] * bool(unknown)) + ".")
        return dict(arguments)

    def annotate(self, turn: Turn, citations: list[Citation], records: list[ToolCallRecord]) -> None:
        """Called once per turn after the snippets shown to the model are numbered; may add to them.

        The default does nothing. The `entities` tool links each citation to graph nodes here.
        """

    @abstractmethod
    def forward(self, **inputs: Any) -> ToolOutput:
        """Run the tool. Raise `MedAssistError` with a clear sentence on bad input."""

    def __call__(self, **inputs: Any) -> ToolOutput:
        missing = [k for k in self.inputs if k not in inputs]
        if missing:
            raise TypeError(f"tool {self.name} is missing inputs: {', '.join(missing)}")
        return self.forward(**inputs)

    def spec(self) -> dict[str, Any]:
        """An OpenAI-style function description, for models that call tools themselves."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": {"type": "object", "properties": self.inputs, "required": list(self.inputs)},
        }
