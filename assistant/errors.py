"""User-facing errors.

Every error a person can cause (bad input, a missing model, a corrupt file) is raised as a
`MedAssistError` whose message is one sentence saying what is wrong and what to do. Adapters
(CLI, UI, API) show that sentence and keep serving; they never show a traceback.
"""

from __future__ import annotations


class MedAssistError(Exception):
    """An error with a message fit to show a user as it is."""

    exit_code = 2


class ConfigError(MedAssistError):
    """A setting, model name or path is wrong."""


class ModelError(MedAssistError):
    """A model is missing, corrupt, or failed while generating."""


class InputError(MedAssistError):
    """The user's message or file cannot be used."""
