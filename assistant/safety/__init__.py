"""Safety layer interface: input rails before the LLM, output rails while it streams.

`Guardrails` here is the pass-through base the engine talks to; the rules, the learned classifier,
PHI redaction and the audit log plug in as subclasses and observers without touching the engine.
"""

from __future__ import annotations

from assistant.types import SafetyDecision, Turn


class OutputFilter:
    """Streaming output rail: `feed` text as it arrives, emit what is safe to show now.

    The base passes everything through. A subclass may hold text back (only what it must),
    rewrite it, or append to it in `close`.
    """

    sources = 0

    def set_sources(self, count: int) -> None:
        """Told by the engine before streaming: how many numbered snippets the model was shown."""
        self.sources = count

    def feed(self, text: str) -> str:
        return text

    def close(self) -> str:
        return ""


class Guardrails:
    """Pass-through guardrails: answer everything, change nothing."""

    name = "none"

    def check_input(self, turn: Turn) -> SafetyDecision:
        """Decide `answer`, `escalate` or `refuse` for the user's text before the LLM runs."""
        return SafetyDecision()

    def warm_up(self) -> None:
        """Load whatever the first check would load (servers call this while starting)."""

    def quote(self, text: str) -> str:
        """Neutralise untrusted text (retrieved snippets, tool output) before it enters a prompt."""
        return text

    def output_filter(self, turn: Turn, decision: SafetyDecision) -> OutputFilter:
        """A fresh streaming output rail for one answer."""
        return OutputFilter()
