"""The `medassist` CLI: the JSON contract, batches, and one-sentence errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDASSIST_AUDIT_DB", str(tmp_path / "audit.sqlite3"))


def test_ask_json_contract(capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "What is asthma?", "--llm", "fake", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"answer", "citations", "findings", "safety", "tools", "model", "timings"} <= set(out)
    assert out["model"] == "fake" and out["safety"]["action"] in ("answer", "escalate", "refuse")
    assert isinstance(out["citations"], list) and isinstance(out["tools"], list)


def test_batch_keeps_order_and_reports_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "text": "What is asthma?"}\nnot json\n{"id": "c", "text": ""}\n'
                     '{"id": "d", "text": "What is a stroke?", "role": "doctor"}\n')
    assert main(["ask", "--batch", str(batch), "--llm", "fake", "--json"]) == 2
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "line2", "c", "d"]
    assert "answer" in rows[0] and "answer" in rows[3]
    assert "line 2" in rows[1]["error"] and "empty" in rows[2]["error"]


@pytest.mark.parametrize("args, message", [
    (["ask", "", "--llm", "fake"], "empty"),
    (["ask", "hi", "--llm", "no-such-model"], "Unknown model"),
    (["ask", "--batch", "/nonexistent.jsonl", "--llm", "fake"], "Cannot read"),
    (["models", "fetch", "gpt-99"], "Unknown model"),
    (["ask", "word " * 6000, "--llm", "fake"], "too long"),
])
def test_errors_are_one_sentence_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err


def test_help_and_module_entry_point() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0 and "ask" in proc.stdout and "models" in proc.stdout


def test_models_list_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"qwen2.5-coder-1.5b", "smollm2-135m"}
    assert all({"installed", "converted", "sha256"} <= set(r) for r in rows)


def test_settings_print_masks_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("MEDASSIST_API_KEYS", "sk-very-secret")
    assert main(["ask", "hi", "--llm", "fake", "-v", "--json"]) == 0
    err = capsys.readouterr().err
    assert "settings:" in err and "sk-very-secret" not in err and '"api_keys": "***"' in err


def test_chat_session_over_stdin() -> None:
    proc = subprocess.run([sys.executable, "-m", "assistant", "chat", "--llm", "fake"], cwd=ROOT, text=True,
                          input="What is asthma?\n/role doctor\nAnd in adults?\n/quit\n", capture_output=True,
                          timeout=120)
    assert proc.returncode == 0
    assert proc.stdout.count("canned answer") == 2 and "doctor>" in proc.stdout


def test_batch_text_may_contain_unicode_line_separators(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text(json.dumps({"id": "a", "text": "What is asthma?\u2028Briefly."}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    assert main(["ask", "--batch", str(batch), "--llm", "fake", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
    assert [r["id"] for r in rows] == ["a"] and "answer" in rows[0]


def test_plain_ask_says_when_an_attached_file_is_not_an_xray(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "scan.dcm"
    bad.write_bytes(b"not a dicom")
    assert main(["ask", "What do you see?", "--llm", "fake", "--image", str(bad), "--tools", "xray"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() and "xray tool failed" in captured.err and "scan.dcm" in captured.err
