"""Plain data types shared by the engine, tools, guardrails and adapters.

Everything here is JSON-serialisable through `dataclasses.asdict`, because `medassist ask --json`,
the HTTP API and the audit log all print these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Role = Literal["patient", "doctor"]
ROLES: tuple[Role, ...] = ("patient", "doctor")
SafetyActionName = Literal["answer", "escalate", "refuse"]


class Message(TypedDict):
    """One chat message, OpenAI style: `role` is system, user or assistant."""

    role: str
    content: str


@dataclass
class Citation:
    """A snippet that was shown to the model, numbered as the answer cites it ([1], [2], ...).

    `entities` holds the knowledge-graph nodes the snippet names ({"id", "name", "kind"}), filled by
    the `entities` tool when the graph is built, so citations, the message and tool results share ids.
    """

    id: str
    title: str
    source: str
    score: float
    text: str = ""
    url: str | None = None
    year: int | None = None
    number: int = 0
    entities: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Finding:
    """One classifier output: a label and its calibrated probability."""

    label: str
    probability: float
    positive: bool = False


@dataclass
class SafetyDecision:
    """What the safety layer decided for a turn, and why.

    `message` is shown to the user before (escalate) or instead of (refuse) the model's answer; with
    "answer" it is a safety-net line that closes the answer (a red-flag rule the classifier overruled).
    `final` means the message is the whole answer and the model does not run, e.g. an escalation
    for someone asking how to end their life: crisis resources, never a method.
    """

    action: SafetyActionName = "answer"
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    final: bool = False

    def public(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": list(self.reasons)}


@dataclass
class ToolCallRecord:
    """One tool call as reported in `tools` of `medassist ask --json`."""

    name: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Turn:
    """One user turn: what the engine is asked to answer.

    Args:
        text: the user's message.
        role: "patient" (plain language) or "doctor" (clinical terminology, image tools).
        image: path of an attached image (PNG, JPEG or DICOM), if any.
        history: earlier messages of this conversation, oldest first (user/assistant only).
        context: structured extras for tools (e.g. patient context); passed through untouched.
    """

    text: str
    role: Role = "patient"
    image: str | None = None
    history: list[Message] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
