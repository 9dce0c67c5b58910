"""The LLM interface: chat messages in, text out (whole or streamed).

Backends are small subclasses: `fake`/`echo` (no weights), `transformers` (local, GGUF presets or
any hub id / directory), `openai` (any OpenAI-compatible server such as vLLM). A llama.cpp or a
vision-language backend subclasses the same two methods.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from assistant.types import Message

log = logging.getLogger(__name__)
TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


@dataclass
class GenerationConfig:
    """Decoding settings. Greedy by default so answers are reproducible."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass
class GenerationStats:
    """Figures of the last generation, for benchmarks and logs.

    Args:
        prompt_tokens: tokens in the rendered prompt.
        cached_tokens: prompt tokens whose KV state was reused instead of evaluated.
        completion_tokens: tokens generated.
        ttft: seconds from the call to the first generated text.
        seconds: seconds for the whole generation.
    """

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    ttft: float = 0.0
    seconds: float = 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        decode = self.seconds - self.ttft
        return (self.completion_tokens - 1) / decode if self.completion_tokens > 1 and decode > 0 else 0.0


@dataclass
class ToolCall:
    """One call the model asked for: a tool name and its JSON arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def parse_tool_calls(text: str) -> list[ToolCall]:
    """The `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks in `text` (Hermes/Qwen style).

    A reply that is a bare JSON object is read as one call. A block that is not a JSON object with
    a string `name` is skipped and logged, never guessed at.
    """
    calls = []
    blocks = TOOL_CALL.findall(text) or _bare_call(text)
    for block in blocks:
        try:
            raw = json.loads(block)
        except json.JSONDecodeError:
            log.warning("ignored a tool call that is not JSON: %.200s", block)
            continue
        args = raw.get("arguments", {}) if isinstance(raw, dict) else None
        if isinstance(args, str):  # some servers send the arguments as a JSON string
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                args = None
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not isinstance(args, dict):
            log.warning("ignored a malformed tool call: %.200s", block)
            continue
        calls.append(ToolCall(raw["name"], args))
    return calls


def _bare_call(text: str) -> list[str]:
    """A reply that is one JSON object without the tags (small Qwen models do this, sometimes in {{double braces}})."""
    head = text.strip()
    while head.startswith("{{") and head.endswith("}}"):
        head = head[1:-1].strip()
    if not head.startswith("{"):
        return []
    try:
        _, end = json.JSONDecoder().raw_decode(head)
    except json.JSONDecodeError:
        return [head]  # reported as not JSON below
    return [head[:end]]


class LLM(ABC):
    """A chat model.

    A backend whose chat template (or server) supports tool calling sets `supports_tools` and
    accepts `tools` (OpenAI-style function specs) in `stream`, answering a tool call as
    `<tool_call>{"name": ..., "arguments": ...}</tool_call>` text.
    """

    name: str = "llm"
    context_length: int = 4096
    supports_tools: bool = False

    @abstractmethod
    def stream(self, messages: list[Message], config: GenerationConfig,
               tools: list[dict[str, Any]] | None = None) -> Iterator[str]:
        """Yield the reply's text in pieces as it is generated (`tools`: only if `supports_tools`)."""

    def generate(self, messages: list[Message], config: GenerationConfig | None = None) -> str:
        """Return the whole reply."""
        return "".join(self.stream(messages, config or GenerationConfig()))

    def call_tools(self, messages: list[Message], tools: list[dict[str, Any]], config: GenerationConfig) -> list[ToolCall]:
        """The tools the model asks to call for `messages` ([] when it would answer directly).

        Generation stops as soon as the reply does not open with a tool call, so a model that
        answers directly costs its prefill and a few tokens.
        """
        if not self.supports_tools or not tools:
            return []
        specs = [{"type": "function", "function": t} for t in tools]
        text = ""
        for piece in self.stream(messages, config, tools=specs):
            text += piece
            head = text.lstrip()
            if len(head) >= len("<tool_call>") and not head.startswith(("<tool_call>", "{")):
                break
        return parse_tool_calls(text)

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens the prompt takes, chat template included. Backends with a tokenizer override."""
        return sum(len(m["content"]) // 4 + 4 for m in messages)
