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

# tool name -> "module:function" taking Settings and returning a Tool (or None when it does not apply).
# Order matters: citations are numbered in tool order, literature first.
TOOL_BUILDERS: dict[str, str] = {
    "retrieval": "retrieval.tool:build_tool",
    "xray": "vision.tool:build_tool",
    "patient": "assistant.clinical.tools:build_patient_tool",
    "risk_score": "assistant.clinical.tools:build_score_tool",
    "differential": "assistant.clinical.kg_tools:build_differential_tool",
    "lookup": "assistant.clinical.kg_tools:build_lookup_tool",
    "entities": "assistant.clinical.kg_tools:build_entity_tool",
}

GUARDRAILS: dict[str, str] = {
    "none": "assistant.safety:Guardrails",
    "default": "assistant.safety.rails:DefaultGuardrails",
}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def enabled_tools(settings: Settings) -> list[str]:
    """Names of the tools `settings.tools` enables ("all", "none" or a comma-separated list)."""
    wanted = settings.tools.strip().lower()
    if wanted in ("all", ""):
        return list(TOOL_BUILDERS)
    names = [] if wanted == "none" else [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in TOOL_BUILDERS]
    if unknown:
        raise ConfigError(f"Unknown tool(s) {', '.join(unknown)}: choose from {', '.join(TOOL_BUILDERS) or 'none'}.")
    return names


def build_tools(settings: Settings) -> list[Tool]:
    tools = [_load(TOOL_BUILDERS[name])(settings) for name in enabled_tools(settings)]
    return [t for t in tools if t is not None]


def build_guardrails(settings: Settings) -> Guardrails:
    if settings.guardrails not in GUARDRAILS:
        raise ConfigError(f"Unknown guardrails {settings.guardrails!r}: use one of {', '.join(GUARDRAILS)}.")
    return _load(GUARDRAILS[settings.guardrails])(settings) if settings.guardrails != "none" else Guardrails()


def build_observers(settings: Settings) -> list[Any]:
    from assistant.safety.audit import AuditLog

    return [AuditLog.from_settings(settings)]


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
        tool_calling=settings.tool_calling,
    )
