"""Two LLMs that need no weights, selectable like any model.

`fake` gives deterministic canned answers (cites the first snippet it was shown), for fast checks
of everything but the model. `echo` returns its entire prompt, system prompt included: the
"obedient" model that the safety tests attack, since anything in its prompt reaches its output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.llm.base import LLM, GenerationConfig
from assistant.types import Message


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


class FakeLLM(LLM):
    """Deterministic canned answers; counts one token per whitespace-separated word."""

    name = "fake"

    def __init__(self, context_length: int = 4096, reply: str | None = None, tool_reply: str | None = None) -> None:
        self.context_length = context_length
        self.reply = reply
        self.tool_reply = tool_reply  # what it says when offered tools (a `<tool_call>` block, say)
        self.supports_tools = tool_reply is not None
        self.calls: list[list[Message]] = []
        self.tool_specs: list[list[dict]] = []

    def compose(self, messages: list[Message]) -> str:
        if self.reply is not None:
            return self.reply
        prompt = messages[-1]["content"]
        cited = "[1]" if re.search(r"^\[1\]", prompt, re.M) else ""
        return (
            f"This is a canned answer from the fake model{(' ' + cited) if cited else ''}. "
            "Please discuss your situation with a clinician."
        )

    def stream(self, messages: list[Message], config: GenerationConfig, tools: list[dict] | None = None) -> Iterator[str]:
        self.calls.append(list(messages))
        if tools:
            self.tool_specs.append(tools)
        words = _words(self.tool_reply if tools and self.tool_reply is not None else self.compose(messages))
        yield from words[: config.max_new_tokens]

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(len(m["content"].split()) + 2 for m in messages)


class EchoLLM(FakeLLM):
    """Returns its whole prompt, every message, as its answer."""

    name = "echo"

    def compose(self, messages: list[Message]) -> str:
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages)
