"""`medassist ask`: one question (or a JSONL batch) in, one answer (or JSON line) out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import InputError, MedAssistError
from assistant.types import ROLES, Turn


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.cli import add_settings_flags

    p = subparsers.add_parser("ask", help="answer one question (or a --batch file) and exit",
                              description="Answer one question. With --json, print the machine-readable result.")
    p.add_argument("text", nargs="?", help="the question")
    p.add_argument("--role", choices=ROLES, default="patient")
    p.add_argument("--image", help="attach a chest X-ray (PNG, JPEG or DICOM)")
    p.add_argument("--batch", type=Path, help="JSONL file: one {text, role?, image?, id?} per line")
    p.add_argument("--json", action="store_true", help="print one JSON object per answer")
    p.add_argument("--patient", type=Path, help="patient context: our JSON shape or FHIR resources (docs/clinical.md)")
    add_settings_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from assistant.cli import settings_from_args
    from assistant.factory import build_assistant

    if args.batch is None and not (args.text or "").strip():
        raise InputError("The question is empty: pass it as `medassist ask \"...\"` or use --batch FILE.jsonl.")
    rows = list(read_batch(args.batch)) if args.batch else [{"text": args.text, "role": args.role, "image": args.image}]
    if args.patient is not None:
        from assistant.clinical.cli import load_patient_for_cli

        patient = load_patient_for_cli(args.patient)
        rows = [{"patient": patient} | row for row in rows]
    assistant = build_assistant(settings_from_args(args))
    failed = 0
    for row in rows:
        out = answer_row(assistant, row, args.role, batch=args.batch is not None)
        failed += "error" in out
        if args.json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(out.get("answer") or f"error: {out['error']}", flush=True)
            _print_sources(out)
    return 2 if failed else 0


def answer_row(assistant: Any, row: dict[str, Any], default_role: str, batch: bool = False) -> dict[str, Any]:
    """Answer one row. In a batch a bad row gives an `error` object and the batch goes on."""
    head = {"id": row["id"]} if "id" in row else {}
    if "_error" in row:
        return head | {"error": row["_error"]}
    try:
        context = {"patient": row["patient"]} if row.get("patient") is not None else {}
        turn = Turn(text=str(row.get("text") or ""), role=row.get("role") or default_role, image=row.get("image"),
                    context=context)
        return head | assistant.ask(turn).to_json()
    except MedAssistError as exc:
        if not batch:
            raise
        return head | {"error": str(exc)}


def read_batch(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL batch file; a malformed line becomes an error row, in order."""
    try:
        # split on newlines only: splitlines() also breaks at U+2028 inside JSON strings
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise InputError(f"Cannot read the batch file {path}: {exc.strerror}.") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not an object")
        except ValueError:
            row = {"id": f"line{number}", "text": "", "_error": f"line {number} is not a JSON object"}
        yield row


def _print_sources(out: dict[str, Any]) -> None:
    for c in out.get("citations") or []:
        print(f"  [{c['number']}] {c['title']} — {c['source']}", file=sys.stdout)
    for tool in out.get("tools") or []:  # e.g. an attached file that is not an X-ray (the UI shows these too)
        if tool.get("error"):
            print(f"note: the {tool['name']} tool failed: {tool['error']}", file=sys.stderr)
