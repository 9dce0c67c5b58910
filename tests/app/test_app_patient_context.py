"""Patient context through the adapters: the API's `patient` field and the app's patient box."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.api import ChatRequest, to_turn
from assistant.errors import InputError
from assistant.ui import Session, set_patient

DATA = Path(__file__).resolve().parents[1] / "clinical" / "data"


def _request(patient: object) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "How severe is this pneumonia?"}], role="doctor",
                       patient=patient)


def test_api_patient_in_our_shape_reaches_the_turn() -> None:
    data = json.loads((DATA / "patient_pneumonia.json").read_text())
    turn = to_turn(_request(data), None)
    assert turn.context["patient"] == data and turn.role == "doctor"


def test_api_fhir_bundle_is_converted() -> None:
    turn = to_turn(_request(json.loads((DATA / "fhir_bundle.json").read_text())), None)
    assert set(turn.context["patient"]) & {"age", "sex", "conditions", "vitals", "labs"}


def test_api_without_patient_has_empty_context() -> None:
    assert to_turn(_request(None), None).context == {}


def test_api_rejects_a_non_patient_value() -> None:
    with pytest.raises(InputError, match="FHIR"):
        to_turn(_request([{"no": "resourceType"}]), None)


def test_app_patient_box_sets_validates_and_clears() -> None:
    session = Session()
    message, session = set_patient((DATA / "patient_pneumonia.json").read_text(), session)
    assert "set" in message and session.patient is not None
    message, session = set_patient('{"vitals": {"heart_rate": "900 /min"}}', session)
    assert "heart_rate" in message and session.patient is not None  # the bad one is not kept
    message, session = set_patient("{not json", session)
    assert "not valid JSON" in message
    message, session = set_patient("", session)
    assert session.patient is None
