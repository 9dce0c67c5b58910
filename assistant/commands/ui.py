"""`medassist ui`: the Gradio app (patient and doctor modes) on 127.0.0.1 by default.

The page opens at once; the model loads in the background and the page shows the progress.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.cli import add_settings_flags

    p = subparsers.add_parser("ui", help="start the Gradio chat app (patient and doctor modes)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_flags(p, default_port=None)
    add_settings_flags(p)
    p.set_defaults(func=run)


def add_server_flags(p: argparse.ArgumentParser, default_port: int | None) -> None:
    """--host/--port flags shared by `ui` and `serve` (defaults: MEDASSIST_HOST / MEDASSIST_PORT)."""
    p.add_argument("--host", help="address to listen on (MEDASSIST_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, default=default_port, help="port (default: MEDASSIST_PORT, 7860)")


def make_service(settings: object) -> object:
    """The background-loading service for `settings` (shared by `ui` and `serve`)."""
    from assistant.factory import build_assistant
    from assistant.service import AssistantService

    print("settings: " + json.dumps(settings.public()), file=sys.stderr)  # type: ignore[attr-defined]
    return AssistantService(lambda: build_assistant(settings), max_waiting=settings.max_waiting)  # type: ignore[attr-defined]


def run(args: argparse.Namespace) -> int:
    from assistant.cli import settings_from_args
    from assistant.ui import build_ui

    settings = settings_from_args(args)
    host, port = args.host or settings.host, args.port or settings.port
    demo = build_ui(make_service(settings), settings)  # type: ignore[arg-type]
    print(f"MedAssist UI on http://{host}:{port} (not a medical device)", file=sys.stderr)
    demo.launch(server_name=host, server_port=port, show_error=False, footer_links=[])
    return 0
