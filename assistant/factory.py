"""Wire an `Assistant` from `Settings`: the model, the tools, the guardrails, the observers.

Tools and guardrails are named here by import path so that `assistant` does not import
`retrieval` or `vision` (or torch) until a command needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from assistant.config import Settings
from assistant.engine import Assistant
from assistant.errors import ConfigError
from assistant.llm import LLM, GenerationConfig, load_llm
from assistant.safety import Guardrails
from assistant.tools import Tool

# "module:function" taking Settings and returning a Tool (or None when it does not apply).
TOOL_BUILDERS: list[str] = [
    "assistant.clinical.tools:build_patient_tool",
    "assistant.clinical.tools:build_score_tool",
    "assistant.clinical.kg_tools:build_differential_tool",
    "assistant.clinical.kg_tools:build_lookup_tool",
    "assistant.clinical.kg_tools:build_entity_tool",
]

GUARDRAILS: dict[str, str] = {
    "none": "assistant.safety:Guardrails",
}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_tools(settings: Settings) -> list[Tool]:
    tools = [_load(path)(settings) for path in TOOL_BUILDERS]
    return [t for t in tools if t is not None]


def build_guardrails(settings: Settings) -> Guardrails:
    if settings.guardrails not in GUARDRAILS:
        raise ConfigError(f"Unknown guardrails {settings.guardrails!r}: use one of {', '.join(GUARDRAILS)}.")
    return _load(GUARDRAILS[settings.guardrails])(settings) if settings.guardrails != "none" else Guardrails()


def build_observers(settings: Settings) -> list[Any]:
    return []


def build_assistant(settings: Settings, llm: LLM | None = None, tools: list[Tool] | None = None) -> Assistant:
    """The Assistant that `settings` describe; pass `llm`/`tools` to reuse loaded ones."""
    generation = GenerationConfig(
        max_new_tokens=settings.max_new_tokens, temperature=settings.temperature, seed=settings.seed
    )
    return Assistant(
        llm or load_llm(settings.llm, settings.context_length),
        tools=build_tools(settings) if tools is None else tools,
        guardrails=build_guardrails(settings),
        generation=generation,
        observers=build_observers(settings),
    )
