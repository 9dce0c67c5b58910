"""Fixtures for the eval harness tests: fake models, fake scorer, a run context factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.engine import Assistant
from assistant.llm.fake import FakeLLM
from eval.tasks.base import Context, RunConfig


class LetterScorer:
    """Fake log-likelihood scorer: prefers one letter, with fixed log-probabilities."""

    def __init__(self, favourite: str = "A") -> None:
        self.favourite = favourite
        self.calls = 0

    def logprobs(self, messages: list, continuations: list[str]) -> list[float]:
        self.calls += 1
        return [-0.2 if c == self.favourite else -2.0 - i for i, c in enumerate(continuations)]


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., Context]:
    """Build a Context around a fake Assistant; keyword arguments go to RunConfig."""

    def make(reply: str = '{"answer_choice": "A"}', tools: list | None = None, llm: FakeLLM | None = None,
             **config: object) -> Context:
        settings = Settings(llm="fake", cache_dir=tmp_path / "cache")
        assistant = Assistant(llm or FakeLLM(reply=reply), tools=tools or [])
        return Context(settings=settings, config=RunConfig(**config), assistant=assistant)

    return make
