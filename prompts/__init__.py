"""Prompt templates as versioned data files, loaded by name.

Each template is a Jinja2 file in this folder (`NAME.j2`). Rendering is strict: a variable the
template uses but the caller did not pass is an error, not an empty string.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, Template


@cache
def _env() -> Environment:
    return Environment(undefined=StrictUndefined, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)


def names() -> list[str]:
    """Names of all packaged templates."""
    return sorted(p.name[:-3] for p in resources.files(__package__).iterdir() if p.name.endswith(".j2"))


@cache
def load(name: str) -> Template:
    """The template called `name` (file `prompts/NAME.j2`).

    Raises:
        KeyError: no template of that name.
    """
    path = resources.files(__package__) / f"{name}.j2"
    if not path.is_file():
        raise KeyError(f"no prompt template named {name!r}; known: {', '.join(names())}")
    return _env().from_string(path.read_text(encoding="utf-8"))


def render(template: str, /, **variables: Any) -> str:
    """Render the template called `template` with `variables`, stripped of surrounding whitespace."""
    return load(template).render(**variables).strip()
