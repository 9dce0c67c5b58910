"""Patient context: our JSON shape and FHIR resources, units, ranges and contradictions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from assistant.clinical.fhir import fhir_to_dict, load_patient_file
from assistant.clinical.patient import PatientContext
from assistant.errors import InputError

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2026, 11, 25)


def test_json_file_parses_with_units_converted() -> None:
    ctx = PatientContext.from_dict(load_patient_file(DATA / "patient_pneumonia.json"))
    assert ctx.age == 65 and ctx.sex == "male" and ctx.smoker is True
    assert ctx.vitals["respiratory_rate"].value == 32  # bare number: conventional unit
    assert ctx.vitals["temperature"].value == pytest.approx(38.5, abs=0.01)  # 101.3 F
    assert ctx.labs["bun"].value == pytest.approx(22.4)  # blood urea nitrogen stays BUN (mg/dL)
    assert ctx.labs["creatinine"].value == pytest.approx(123.8, abs=0.1)
    assert ctx.labs["total_cholesterol"].value == pytest.approx(201.1, abs=0.1)
    assert ctx.labs["bun"].given == "22.4 mg/dL"
    again = PatientContext.from_dict(ctx.to_dict())  # round trip through canonical units
    assert again.labs == {k: type(m)(m.value, m.unit, again.labs[k].given) for k, m in ctx.labs.items()}
    assert PatientContext.from_dict({"labs": {"urea": {"value": 48.05, "unit": "mg/dL"}}}).labs["urea"].value == \
        pytest.approx(8.0, abs=0.01)  # urea (not BUN) in mg/dL: / 6.006


def test_summary_has_the_facts_and_no_identifiers() -> None:
    ctx = PatientContext.from_fhir(json.loads((DATA / "fhir_bundle.json").read_text()), today=TODAY)
    text = ctx.summary() + json.dumps(ctx.to_dict())
    assert "Atrial fibrillation" in text and "apixaban" in text
    for identifier in ("Doe", "Jane", "example-1", "1950-03-14", "Springfield"):
        assert identifier not in text


@pytest.mark.parametrize(("data", "field"), [
    ({"vitals": {"heart_rate": 900}}, "vitals.heart_rate"),
    ({"vitals": {"temperature": {"value": 60, "unit": "C"}}}, "vitals.temperature"),
    ({"vitals": {"spo2": 130}}, "vitals.spo2"),
    ({"age": 250}, "age"),
    ({"age": "sixty"}, "age"),
    ({"sex": "robot"}, "sex"),
    ({"pregnant": "yes"}, "pregnant"),
    ({"labs": {"urea": 8}}, "labs.urea has no unit"),
    ({"labs": {"urea": {"value": 8, "unit": "furlongs"}}}, "labs.urea: unit 'furlongs'"),
    ({"labs": {"troponin": {"value": 8, "unit": "ng/L"}}}, "labs.troponin is not a known"),
    ({"labs": {"creatinine": {"value": 1.2, "unit": "mmol/L"}}}, "labs.creatinine"),
    ({"conditions": "asthma"}, "conditions must be a list"),
    ({"height_cm": 180}, "unknown field"),
    ({"sex": "male", "pregnant": True}, "sex 'male' contradicts pregnant"),
    ({"age": 4, "pregnant": True}, "pregnant = true is implausible"),
    ({"vitals": {"systolic_bp": 80, "diastolic_bp": 95}}, "vitals.diastolic_bp (95) must be below"),
])
def test_bad_values_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(InputError, match="invalid") as info:
        PatientContext.from_dict(data)
    assert field in str(info.value)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(InputError) as info:
        PatientContext.from_dict({"sex": "male", "pregnant": True, "vitals": {"heart_rate": 900}})
    assert "vitals.heart_rate" in str(info.value) and "pregnant" in str(info.value)


def test_not_an_object_is_rejected() -> None:
    with pytest.raises(InputError, match="JSON object"):
        PatientContext.from_dict([1, 2])


def test_fhir_bundle() -> None:
    d = fhir_to_dict(json.loads((DATA / "fhir_bundle.json").read_text()), today=TODAY)
    ctx = PatientContext.from_dict(d)
    assert ctx.age == 76 and ctx.sex == "female"
    assert ctx.vitals["systolic_bp"].value == 150 and ctx.vitals["diastolic_bp"].value == 90
    assert ctx.vitals["heart_rate"].value == 88  # the entered-in-error 900 is skipped
    assert ctx.labs["total_cholesterol"].value == pytest.approx(212.7, abs=0.1)
    assert ctx.labs["hdl_cholesterol"].value == 50  # matched by code text
    assert ctx.smoker is False  # ex-smoker
    assert ctx.conditions == ["Atrial fibrillation", "Essential hypertension"]  # resolved pneumonia skipped
    assert ctx.medications == ["apixaban 5 MG Oral Tablet"]  # stopped warfarin skipped
    assert ctx.allergies == ["Penicillin"]


def test_fhir_range_and_contradiction_errors_name_fields() -> None:
    d = load_patient_file(DATA / "fhir_observation_bad_hr.json")
    assert d["pregnant"] is True
    with pytest.raises(InputError) as info:
        PatientContext.from_dict(d)
    assert "vitals.heart_rate: 900 /min is outside the physiologic range" in str(info.value)
    assert "sex 'male' contradicts pregnant = true" in str(info.value)


@pytest.mark.parametrize(("resource", "message"), [
    ({"resourceType": "Encounter"}, "Encounter"),
    ({"foo": 1}, None),  # not FHIR: our shape, rejected later by from_dict
    ([{"no": "type"}], "resourceType"),
    ({"resourceType": "Patient", "birthDate": "last year"}, "birthDate"),
])
def test_fhir_bad_input(resource: object, message: str | None, tmp_path: Path) -> None:
    if message is None:
        path = tmp_path / "x.json"
        path.write_text(json.dumps(resource))
        with pytest.raises(InputError, match="unknown field"):
            PatientContext.from_dict(load_patient_file(path))
        return
    with pytest.raises(InputError, match=message):
        fhir_to_dict(resource, today=TODAY)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot read"):
        load_patient_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_patient_file(bad)


def test_patient_for_log_keeps_only_clinical_fields() -> None:
    from assistant.clinical.patient import patient_for_log

    raw = {"name": "Jane Doe", "mrn": "123456", "age": 40, "vitals": {"heart_rate": 900, "nhs_number": "943"}}
    logged = patient_for_log(raw)
    assert logged == {"age": 40, "vitals": {"heart_rate": 900}}  # invalid: known fields, as given
    assert patient_for_log({"age": 40, "sex": "f"}) == {"age": 40.0, "sex": "female"}
    assert patient_for_log("Jane") == {}
