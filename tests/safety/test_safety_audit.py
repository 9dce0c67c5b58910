"""Audit log: WAL + synchronous=FULL SQLite, redacted text, retention, export CLI, crash durability."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.engine import Assistant
from assistant.llm.fake import FakeLLM
from assistant.safety.audit import AuditLog
from assistant.safety.rails import DefaultGuardrails
from assistant.types import Turn

ROOT = Path(__file__).resolve().parents[2]


def _assistant(log: AuditLog) -> Assistant:
    rails = DefaultGuardrails(None)
    rails.use_classifier = False
    return Assistant(FakeLLM(), guardrails=rails, observers=[log])


def test_turn_is_logged_redacted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite3")
    _assistant(log).ask(Turn("I am Marisol Ferndale, MRN 5583920, phone (559) 555-0142: is my cough serious?"))
    (row,) = list(log.rows())
    assert row["role"] == "patient" and row["action"] == "answer" and row["model"] == "fake"
    assert row["latency_s"] >= 0 and "[PHONE]" in row["question"]
    for secret in ("Marisol", "5583920", "555-0142"):
        assert secret not in json.dumps(row)


def test_database_is_wal_and_full_sync(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite3")
    assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_retention_deletes_old_turns(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    log = AuditLog(path, retention_days=30)
    _assistant(log).ask(Turn("What is a normal heart rate?"))
    old = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat()
    log._db.execute("UPDATE turns SET time = ?", (old,))
    assert log.purge() == 1 and list(log.rows()) == []


def test_killed_process_loses_no_committed_turn(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    code = (
        "import os\n"
        "from assistant.engine import Assistant\nfrom assistant.llm.fake import FakeLLM\n"
        "from assistant.safety.audit import AuditLog\nfrom assistant.types import Turn\n"
        f"log = AuditLog({str(path)!r})\n"
        "a = Assistant(FakeLLM(), observers=[log])\n"
        "for i in range(3):\n    a.ask(Turn(f'question {i}'))\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert proc.returncode == -9
    rows = sqlite3.connect(path).execute("SELECT question FROM turns ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["question 0", "question 1", "question 2"]


def test_export_json_prints_one_object_per_turn(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.sqlite3"
    monkeypatch.setenv("MEDASSIST_AUDIT_DB", str(path))
    assert main(["ask", "--llm", "fake", "What is a normal blood pressure?"]) == 0
    assert main(["ask", "--llm", "fake", "I want to kill myself"]) == 0
    capsys.readouterr()
    assert main(["audit", "export", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == ["answer", "escalate"]
    assert set(rows[0]) >= {"time", "role", "action", "reasons", "tools", "model", "latency_s", "question", "answer"}


def test_unwritable_audit_path_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["audit", "export", "--db", str(blocker / "a.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot open the audit log") and "Traceback" not in err
