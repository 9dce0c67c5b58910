"""The LLM interface: chat messages in, text out (whole or streamed).

Backends are small subclasses: `fake`/`echo` (no weights), `transformers` (local, GGUF presets or
any hub id / directory), `openai` (any OpenAI-compatible server such as vLLM). A llama.cpp or a
vision-language backend subclasses the same two methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.types import Message


@dataclass
class GenerationConfig:
    """Decoding settings. Greedy by default so answers are reproducible."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()


class LLM(ABC):
    """A chat model."""

    name: str = "llm"
    context_length: int = 4096

    @abstractmethod
    def stream(self, messages: list[Message], config: GenerationConfig) -> Iterator[str]:
        """Yield the reply's text in pieces as it is generated."""

    def generate(self, messages: list[Message], config: GenerationConfig | None = None) -> str:
        """Return the whole reply."""
        return "".join(self.stream(messages, config or GenerationConfig()))

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens the prompt takes, chat template included. Backends with a tokenizer override."""
        return sum(len(m["content"]) // 4 + 4 for m in messages)
