"""The deterministic score router, the clinical tools, and the done example through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.clinical.extract import extract, mentioned, requested_scores
from assistant.clinical.patient import PatientContext
from assistant.clinical.tools import PatientContextTool, RiskScoreTool
from assistant.engine import Assistant
from assistant.errors import InputError
from assistant.events import ToolCallEvent, ToolResultEvent
from assistant.llm.fake import EchoLLM, FakeLLM
from assistant.types import Turn
from tests.conftest import FakeRetrieval

DATA = Path(__file__).parent / "data"
DONE = ("65-year-old with cough, fever, confusion, urea 8 mmol/L, RR 32, BP 85/50: "
        "how severe is this pneumonia?")


@pytest.mark.parametrize(("text", "role", "expected"), [
    (DONE, "doctor", ["curb65"]),
    (DONE, "patient", []),  # intent only counts in doctor mode
    ("What is the CURB-65 of this patient?", "patient", ["curb65"]),
    ("CHA2DS2-VASc and HAS-BLED for this AF patient", "doctor", ["cha2ds2vasc", "hasbled"]),
    ("AF patient: stroke risk, should we anticoagulate?", "doctor", ["cha2ds2vasc"]),
    ("qSOFA please", "doctor", ["qsofa"]),
    ("Is sepsis likely to have a poor outcome, what is the risk?", "doctor", ["qsofa"]),
    ("Pre-test probability of pulmonary embolism?", "doctor", ["wells_pe"]),
    ("Sore throat: does she need antibiotics?", "doctor", ["centor"]),
    ("What is his 10-year cardiovascular risk?", "doctor", ["pce"]),
    ("What is pneumonia?", "doctor", []),
    ("Tell me about asthma inhalers", "doctor", []),
])
def test_requested_scores(text: str, role: str, expected: list[str]) -> None:
    assert requested_scores(text, role) == expected


@pytest.mark.parametrize(("text", "words", "expected"), [
    ("fever, no cough, tonsillar exudate", "tonsillar", True),
    ("fever, no cough, tonsillar exudate", "cough", False),
    ("denies haemoptysis", "ha?emoptysis", False),
    ("no heart failure or stroke", "stroke", False),
    ("no fever and a cough", "cough", True),
    ("non-smoker", "smoker", False),
    ("smoker", "smoker", True),
    ("chest pain", "cough", None),
])
def test_negation(text: str, words: str, expected: bool | None) -> None:
    assert mentioned(text, words) is expected


def test_extract_done_example() -> None:
    v = extract(DONE).values
    assert v["age"] == 65 and v["confusion"] is True and v["urea_mmol_l"] == 8
    assert v["respiratory_rate"] == 32 and (v["systolic_bp"], v["diastolic_bp"]) == (85, 50)


def test_extract_units_and_risk_phrases() -> None:
    ex = extract("70-year-old, BUN 28 mg/dL, temp 101.3 F, what is his stroke risk? urea 9")
    assert ex.values["urea_mmol_l"] == pytest.approx(10.0)  # BUN 28 mg/dL / 2.8
    assert extract("urea 48.05 mg/dL").values["urea_mmol_l"] == pytest.approx(8.0, abs=0.01)
    assert ex.values["temperature_c"] == pytest.approx(38.5, abs=0.01) and ex.values["fever"] is True
    assert "stroke_tia" not in ex.values  # "stroke risk" is the question, not a history of stroke
    assert ex.values["sex"] == "male"
    assert not any("BUN" in p for p in ex.problems)
    assert extract("urea 9 and RR 20").problems == ["urea 9 has no unit (write mmol/L or mg/dL)"]
    assert "age" not in extract("What is the 10-year ASCVD risk?").values  # "10-year" is not an age
    assert extract("temp 101.3 F in a 70-year-old").values["age"] == 70
    assert extract("72F with AF").values == extract("72F with AF").values | {"age": 72, "sex": "female"}


def test_implausible_message_values_are_dropped_and_named() -> None:
    ex = extract("Wells score: HR 900, BP 50/90, temp 60 C, aged 130")
    for key in ("heart_rate", "systolic_bp", "diastolic_bp", "temperature_c", "age"):
        assert key not in ex.values
    assert any(p.startswith("heart_rate 900 is outside the physiologic range") for p in ex.problems)
    assert any("diastolic must be below" for p in ex.problems) and any("age 130" in p for p in ex.problems)
    tool = RiskScoreTool()
    with pytest.raises(InputError, match="heart_rate 900 is outside"):
        tool(**tool.select(Turn("Wells score: HR 900, leg swelling, PE most likely, no previous DVT, "
                                "no haemoptysis, no cancer, no recent surgery", role="doctor")))


def test_message_wins_over_patient_context_and_problem_list_is_complete() -> None:
    patient = PatientContext.from_dict({"age": 80, "sex": "female", "conditions": ["Hypertension"],
                                        "vitals": {"respiratory_rate": 18}})
    v = extract("RR 34 today", patient).values
    assert v["respiratory_rate"] == 34 and v["age"] == 80
    assert v["hypertension"] is True and v["diabetes"] is False and v["heart_failure"] is False


def test_score_tool_computes_done_example_and_cites_source() -> None:
    tool = RiskScoreTool()
    inputs = tool.select(Turn(DONE, role="doctor"))
    assert inputs is not None and inputs["scores"] == ["curb65"]
    out = tool(**inputs)
    assert out.data["results"][0]["value"] == 5
    assert out.citations[0].url == "https://doi.org/10.1136/thorax.58.5.377" and out.citations[0].year == 2003
    assert "CURB-65 = 5/5" in out.context


def test_score_tool_refuses_naming_missing_inputs() -> None:
    tool = RiskScoreTool()
    inputs = tool.select(Turn("How severe is this pneumonia in a 70-year-old, urea 9?", role="doctor"))
    with pytest.raises(InputError) as info:
        tool(**inputs)
    message = str(info.value)
    for name in ("confusion", "urea_mmol_l", "respiratory_rate", "systolic_bp", "urea 9 has no unit"):
        assert name in message


def test_score_tool_uses_patient_context() -> None:
    patient = json.loads((DATA / "patient_pneumonia.json").read_text())
    turn = Turn("Is he confused? Yes, new confusion. CURB-65?", role="doctor", context={"patient": patient})
    out = RiskScoreTool()(**RiskScoreTool().select(turn))
    result = out.data["results"][0]
    assert result["value"] == 5 and result["inputs"]["urea_mmol_l"] == pytest.approx(8.0, abs=0.01)


def test_patient_tool_validates_and_reports_fields() -> None:
    tool = PatientContextTool()
    assert tool.select(Turn("hi", role="patient", context={"patient": {"age": 5}})) is None
    good = tool(**tool.select(Turn("hi", role="doctor", context={"patient": {"age": 50, "sex": "female"}})))
    assert "age 50, female" in good.context
    with pytest.raises(InputError, match="vitals.heart_rate"):
        tool(patient={"vitals": {"heart_rate": 900}})


def test_done_example_through_the_engine_with_fake_llm() -> None:
    llm = FakeLLM()
    bot = Assistant(llm, tools=[FakeRetrieval(n=1, text="BTS: CURB-65 3-5 is severe pneumonia."),
                                PatientContextTool(), RiskScoreTool()])
    events = list(bot.run(Turn(DONE, role="doctor")))
    result = events[-1].result
    calls = [e.name for e in events if isinstance(e, ToolCallEvent)]
    assert calls == ["retrieval", "risk_score"]  # no patient context given: no patient call
    record = next(e.record for e in events if isinstance(e, ToolResultEvent) and e.record.name == "risk_score")
    assert record.error is None and record.output["results"][0]["value"] == 5
    # The score's publication is numbered after the literature, like any source.
    assert [c.id for c in result.citations] == ["doc0", "score:curb65"]
    assert [c.number for c in result.citations] == [1, 2]
    assert "from the stated values [2])" in llm.calls[-1][-1]["content"]  # the tool result names its source number
    prompt = llm.calls[-1][-1]["content"]
    assert "CURB-65 = 5/5" in prompt and "[2] CURB-65" in prompt
    assert result.to_json()["citations"][1]["url"] == "https://doi.org/10.1136/thorax.58.5.377"


def test_bad_patient_context_is_reported_and_turn_completes() -> None:
    llm = EchoLLM()
    bot = Assistant(llm, tools=[PatientContextTool(), RiskScoreTool()])
    turn = Turn(DONE, role="doctor", context={"patient": {"sex": "male", "pregnant": True,
                                                          "vitals": {"heart_rate": 900}}})
    result = bot.ask(turn)
    patient = next(t for t in result.tools if t.name == "patient")
    assert patient.error and "vitals.heart_rate" in patient.error and "pregnant" in patient.error
    score = next(t for t in result.tools if t.name == "risk_score")
    assert score.error is None and score.output["results"][0]["value"] == 5  # from the message alone
    assert "The tool failed" in result.answer and "vitals.heart_rate" in result.answer
