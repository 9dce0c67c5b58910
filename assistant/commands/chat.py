"""`medassist chat`: an interactive terminal conversation, streamed.

Commands inside the chat: `/image PATH` attaches an X-ray to the next question, `/role doctor`
or `/role patient` switches role, `/reset` forgets the conversation, `/quit` leaves.
"""

from __future__ import annotations

import argparse
import sys

from assistant.errors import MedAssistError
from assistant.events import CitationsEvent, FinalEvent, SafetyEvent, TokenEvent, ToolCallEvent
from assistant.types import ROLES, Message, Turn

HELP = "commands: /image PATH, /role patient|doctor, /reset, /quit"


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.cli import add_settings_flags

    p = subparsers.add_parser("chat", help="interactive terminal chat", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", choices=ROLES, default="patient")
    p.add_argument("--patient", help="patient context: our JSON shape or FHIR resources (docs/clinical.md)")
    add_settings_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from assistant.cli import settings_from_args
    from assistant.factory import build_assistant

    settings = settings_from_args(args)
    print("settings: " + json.dumps(settings.public()), file=sys.stderr)
    print(f"Loading {settings.llm} ...", file=sys.stderr)
    assistant = build_assistant(settings)
    print(f"MedAssist ({assistant.llm.name}). Not a medical device. {HELP}", file=sys.stderr)
    session = ChatSession(role=args.role)
    if getattr(args, "patient", None):
        from assistant.clinical.cli import load_patient_for_cli

        session.context["patient"] = load_patient_for_cli(args.patient)
    while True:
        try:
            line = input(f"{session.role}> ")
        except EOFError:
            return 0
        if not session.command(line):
            return 0
        if line.strip() and not line.startswith("/"):
            session.ask(assistant, line)


class ChatSession:
    """State of one terminal conversation: role, pending image, history."""

    def __init__(self, role: str = "patient") -> None:
        self.role = role
        self.image: str | None = None
        self.history: list[Message] = []
        self.context: dict = {}

    def command(self, line: str) -> bool:
        """Handle a /command; return False to quit."""
        word, _, arg = line.strip().partition(" ")
        if word == "/quit":
            return False
        if word == "/reset":
            self.history, self.image = [], None
        elif word == "/role" and arg in ROLES:
            self.role = arg
        elif word == "/image":
            self.image = arg.strip() or None
        elif word.startswith("/"):
            print(HELP)
        return True

    def ask(self, assistant, text: str) -> None:
        turn = Turn(text=text, role=self.role, image=self.image, history=list(self.history),  # type: ignore[arg-type]
                    context=dict(self.context))
        try:
            for event in assistant.run(turn):
                _show(event)
        except MedAssistError as exc:
            print(f"\nerror: {exc}")
            return
        answer = event.result.answer if isinstance(event, FinalEvent) else ""
        self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]


def _show(event: object) -> None:
    if isinstance(event, SafetyEvent) and event.decision.action != "answer":
        print(f"[safety: {event.decision.action}]")
    elif isinstance(event, ToolCallEvent):
        print(f"[tool: {event.name}]", file=sys.stderr)
    elif isinstance(event, TokenEvent):
        print(event.text, end="", flush=True)
    elif isinstance(event, CitationsEvent):
        pass
    elif isinstance(event, FinalEvent):
        print()
        for c in event.result.citations:
            print(f"  [{c.number}] {c.title} — {c.source}")
