"""`medassist kg ...` and `medassist ask --patient` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from knowledge import KnowledgeGraph

DATA = Path(__file__).parent / "data"
DONE = ("65-year-old with cough, fever, confusion, urea 8 mmol/L, RR 32, BP 85/50: "
        "how severe is this pneumonia?")


@pytest.fixture(autouse=True)
def _no_kg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDASSIST_CACHE_DIR", str(tmp_path / "cache"))  # no graph: kg tools stay off


def test_kg_score_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["kg", "score", "curb65", "confusion=yes", "urea_mmol_l=8", "respiratory_rate=32",
                 "systolic_bp=85", "diastolic_bp=50", "age=65"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("CURB-65 = 5/5") and "doi.org/10.1136/thorax.58.5.377" in out


def test_kg_score_refusal_exits_2_naming_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kg", "score", "qsofa", "respiratory_rate=25"]) == 2
    err = capsys.readouterr().err
    assert "systolic_bp" in err and "altered_mentation" in err and "Traceback" not in err
    assert main(["kg", "score", "curb65", "age"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_kg_queries_on_tiny_graph(tiny_kg: KnowledgeGraph, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tiny_kg.path)
    assert main(["kg", "lookup", "HP:0001250", "--kg", path]) == 0
    assert "Seizure" in capsys.readouterr().out
    assert main(["kg", "differential", "grand", "mal", "seizure", "and", "mental", "retardation", "--kg", path,
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "OMIM:100001"
    assert main(["kg", "link", "pyrexia", "--kg", path]) == 0
    assert "HP:0001945" in capsys.readouterr().out
    assert main(["kg", "lookup", "nonsense-term", "--kg", path]) == 2
    assert "Unknown term" in capsys.readouterr().err


def test_kg_query_without_graph_says_how_to_build(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["kg", "lookup", "J18.9", "--kg", str(tmp_path / "none.sqlite3")]) == 2
    assert "medassist kg build" in capsys.readouterr().err


def test_ask_done_example_with_fake_llm(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--llm", "fake", "--role", "doctor", "--json", DONE]) == 0
    out = json.loads(capsys.readouterr().out)
    score = next(t for t in out["tools"] if t["name"] == "risk_score")
    assert score["output"]["results"][0]["value"] == 5
    assert any(c["id"] == "score:curb65" and c["url"].endswith("thorax.58.5.377") for c in out["citations"])


def test_ask_with_patient_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--llm", "echo", "--role", "doctor", "--json", "--patient",
                 str(DATA / "fhir_bundle.json"), "What is her CHA2DS2-VASc?"]) == 0
    out = json.loads(capsys.readouterr().out)
    patient = next(t for t in out["tools"] if t["name"] == "patient")
    assert patient["error"] is None and "Atrial fibrillation" in out["answer"]
    assert "Doe" not in out["answer"]  # identifiers never reach the model
    score = next(t for t in out["tools"] if t["name"] == "risk_score")
    assert score["output"]["results"][0]["value"] >= 3  # age 76 (2) + female (1) + hypertension (1)


def test_ask_with_invalid_patient_warns_and_completes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--llm", "fake", "--role", "doctor", "--json", "--patient",
                 str(DATA / "fhir_observation_bad_hr.json"), "Any concerns?"]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "vitals.heart_rate" in captured.err
    out = json.loads(captured.out)
    assert "vitals.heart_rate" in next(t for t in out["tools"] if t["name"] == "patient")["error"]


def test_ask_with_unreadable_patient_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["ask", "--llm", "fake", "--patient", str(tmp_path / "none.json"), "hi"]) == 2
    assert "Cannot read the patient file" in capsys.readouterr().err


def test_chat_session_passes_patient_context(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.clinical.tools import PatientContextTool
    from assistant.commands.chat import ChatSession
    from assistant.engine import Assistant
    from assistant.llm.fake import EchoLLM

    session = ChatSession(role="doctor")
    session.context["patient"] = {"age": 71, "sex": "female", "conditions": ["Asthma"]}
    session.ask(Assistant(EchoLLM(), tools=[PatientContextTool()]), "Any interactions to watch?")
    out = capsys.readouterr().out
    assert "age 71, female" in out and "Conditions: Asthma" in out
