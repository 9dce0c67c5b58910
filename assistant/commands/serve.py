"""`medassist serve`: the OpenAI-compatible HTTP API (and, with --ui, the Gradio app at /ui).

POST /v1/chat/completions, GET /v1/models, GET /healthz. Set MEDASSIST_API_KEYS (comma-separated)
to require `Authorization: Bearer KEY`; MEDASSIST_API_RATE_LIMIT is requests a minute per key.
"""

from __future__ import annotations

import argparse
import sys

from assistant.commands.ui import add_server_flags, make_service


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.cli import add_settings_flags

    p = subparsers.add_parser("serve", help="start the OpenAI-compatible HTTP API", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_flags(p, default_port=8000)
    p.add_argument("--ui", action="store_true", help="also serve the Gradio app at /ui")
    add_settings_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.api import create_app
    from assistant.cli import settings_from_args

    settings = settings_from_args(args)
    service = make_service(settings)
    ui = None
    if args.ui:
        from assistant.ui import build_ui

        ui = build_ui(service, settings)  # type: ignore[arg-type]
    host = args.host or settings.host
    if not settings.api_keys and host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: no MEDASSIST_API_KEYS set and listening beyond loopback", file=sys.stderr)
    print(f"MedAssist API on http://{host}:{args.port}/v1 (not a medical device)", file=sys.stderr)
    uvicorn.run(create_app(service, settings, ui=ui), host=host, port=args.port, log_level="warning")  # type: ignore[arg-type]
    return 0
