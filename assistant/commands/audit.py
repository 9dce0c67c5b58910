"""`medassist audit`: read the audit log (`export --json` prints one JSON object per turn)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("audit", help="read or prune the audit log of turns (PHI-redacted)")
    sub = p.add_subparsers(dest="audit_command", required=True)
    export = sub.add_parser("export", help="print the logged turns, oldest first")
    export.add_argument("--json", action="store_true", help="one JSON object per line (JSON Lines)")
    export.add_argument("--since", help="only turns at or after this ISO time, e.g. 2026-11-01")
    export.add_argument("--limit", type=int, help="at most this many turns")
    export.add_argument("--db", help="audit SQLite file (MEDASSIST_AUDIT_DB)")
    export.set_defaults(func=run_export)
    purge = sub.add_parser("purge", help="delete turns older than MEDASSIST_AUDIT_RETENTION_DAYS")
    purge.add_argument("--db", help="audit SQLite file (MEDASSIST_AUDIT_DB)")
    purge.set_defaults(func=run_purge)


def _open(args: argparse.Namespace):  # noqa: ANN202 - AuditLog, imported lazily
    from assistant.config import Settings
    from assistant.errors import InputError
    from assistant.safety.audit import AuditLog

    settings = Settings()
    path = args.db or settings.resolved_audit_db()
    if getattr(args, "limit", None) is not None and args.limit < 1:
        raise InputError("--limit must be a positive number of turns.")
    return AuditLog(path, settings.audit_retention_days)


def run_export(args: argparse.Namespace) -> int:
    log = _open(args)
    for row in log.rows(since=args.since, limit=args.limit):
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            tools = ",".join(t["name"] for t in row["tools"]) or "-"
            print(f"{row['time']}  {row['role']:<7} {row['action']:<8} {tools:<16} {row['model']:<14} "
                  f"{row['latency_s']:>7.3f}s  {row['question'][:60]}")
    log.close()
    return 0


def run_purge(args: argparse.Namespace) -> int:
    log = _open(args)
    print(f"deleted {log.purge()} turn(s) older than {log.retention_days} days")
    log.close()
    return 0
