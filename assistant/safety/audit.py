"""Audit log of every turn in SQLite: time, role, safety action, tools, model, latency, redacted text.

The engine calls `AuditLog` as an observer (`log(turn, result)`) after each turn. Choices:
- WAL journal with ``synchronous=FULL``: each turn is its own committed transaction and is on disk
  when `__call__` returns, so a killed process (or a power cut) loses no committed turn. One small
  write per turn makes the extra fsync negligible next to an LLM answer, so we take FULL over
  NORMAL (which in WAL mode may lose the last transactions on power loss, not on a process kill).
- The question and answer are stored only after `phi.redact`; tool inputs are reduced to their
  names and keys (an image path or a query could carry identifiers).
- Retention: rows older than `retention_days` are deleted when the log opens and every 100 turns.
- One connection guarded by a lock, so the HTTP API may log from several threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError
from assistant.safety import phi
from assistant.safety.phi import redact

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.events import AnswerResult
    from assistant.types import Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    reasons TEXT NOT NULL,
    tools TEXT NOT NULL,
    model TEXT NOT NULL,
    latency_s REAL NOT NULL,
    citations INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_time ON turns(time);
"""
_COLUMNS = ("id", "time", "role", "action", "reasons", "tools", "model", "latency_s", "citations", "question", "answer")


class AuditLog:
    """Append-only SQLite log of turns; call it with `(turn, result)`.

    Args:
        path: the SQLite file (its folder is created).
        retention_days: delete turns older than this; 0 or less keeps everything.

    Raises:
        ConfigError: the file cannot be opened or is not an audit log.
    """

    def __init__(self, path: str | Path, retention_days: int = 30) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._writes = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"Cannot open the audit log at {self.path} ({exc}): set MEDASSIST_AUDIT_DB to a writable file.") from None
        self.purge()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        """The audit log that `settings` name (`audit_db`, `audit_retention_days`), as the turn observer.

        The redaction model loads here, while the service starts, not on the first turn (and not
        for `medassist audit export`, which only reads).
        """
        phi.warm_up()
        return cls(settings.resolved_audit_db(), settings.audit_retention_days)

    def __call__(self, turn: Turn, result: AnswerResult) -> None:
        """Record one finished turn (the engine's observer interface)."""
        row = (
            datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            turn.role,
            result.safety.action,
            json.dumps(list(result.safety.reasons)),
            json.dumps([{"name": t.name, "inputs": sorted(t.input), "error": t.error is not None, "seconds": round(t.seconds, 4)}
                        for t in result.tools]),
            result.model,
            round(result.timings.get("total", 0.0), 4),
            len(result.citations),
            redact(turn.text),
            redact(result.answer),
        )
        with self._lock:
            self._db.execute(f"INSERT INTO turns ({', '.join(_COLUMNS[1:])}) VALUES ({', '.join('?' * 10)})", row)
            self._writes += 1
            if self._writes % 100 == 0:
                self._purge_locked()

    def purge(self) -> int:
        """Delete turns older than the retention period; returns how many were deleted."""
        with self._lock:
            return self._purge_locked()

    def _purge_locked(self) -> int:
        if self.retention_days <= 0:
            return 0
        cutoff = (datetime.now(timezone.utc) - timedelta(days=self.retention_days)).isoformat(timespec="milliseconds")
        return self._db.execute("DELETE FROM turns WHERE time < ?", (cutoff,)).rowcount

    def rows(self, since: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Turns in order, as JSON-ready dicts (reasons and tools decoded)."""
        query = f"SELECT {', '.join(_COLUMNS)} FROM turns"
        args: list[Any] = []
        if since:
            query += " WHERE time >= ?"
            args.append(since)
        query += " ORDER BY id"
        if limit:
            query += " LIMIT ?"
            args.append(limit)
        with self._lock:
            fetched = self._db.execute(query, args).fetchall()
        for values in fetched:
            row = dict(zip(_COLUMNS, values))
            row["reasons"], row["tools"] = json.loads(row["reasons"]), json.loads(row["tools"])
            yield row

    def close(self) -> None:
        with self._lock:
            self._db.close()
