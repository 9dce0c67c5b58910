"""FHIR R4 resources to our patient-context JSON shape (validated later by `PatientContext`).

Reads Patient (gender, birthDate -> age), Observation (vital signs and labs by LOINC code, with
a fallback on the code's text; blood-pressure panels by their components; pregnancy and smoking
status), Condition, MedicationStatement and AllergyIntolerance. Resources may come alone, as a
list or in a Bundle. Identifiers (names, ids, addresses, exact birth dates) are dropped here.
Entered-in-error, resolved or inactive entries are skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from assistant.errors import InputError

# LOINC code -> (group, our key).
LOINC: dict[str, tuple[str, str]] = {
    "8867-4": ("vitals", "heart_rate"), "9279-1": ("vitals", "respiratory_rate"),
    "8480-6": ("vitals", "systolic_bp"), "8462-4": ("vitals", "diastolic_bp"),
    "8310-5": ("vitals", "temperature"), "59408-5": ("vitals", "spo2"), "2708-6": ("vitals", "spo2"),
    "9269-2": ("vitals", "gcs"), "29463-7": ("vitals", "weight"), "8302-2": ("vitals", "height"),
    "3094-0": ("labs", "bun"), "2160-0": ("labs", "creatinine"), "2093-3": ("labs", "total_cholesterol"),
    "2085-9": ("labs", "hdl_cholesterol"), "2089-1": ("labs", "ldl_cholesterol"), "2345-7": ("labs", "glucose"),
    "4548-4": ("labs", "hba1c"), "2524-7": ("labs", "lactate"), "6301-6": ("labs", "inr"),
    "2951-2": ("labs", "sodium"), "2823-3": ("labs", "potassium"), "1988-5": ("labs", "crp"),
    "6690-2": ("labs", "wbc"), "718-7": ("labs", "hemoglobin"), "777-3": ("labs", "platelets"),
    "1975-2": ("labs", "bilirubin"),
}
BP_PANELS = {"85354-9", "55284-4"}
PREGNANCY_STATUS = "82810-3"
SMOKING_STATUS = "72166-2"
# Words in Observation.code.text when a coding is missing.
TEXT_KEYS: list[tuple[str, tuple[str, str]]] = [
    ("heart rate", ("vitals", "heart_rate")), ("pulse", ("vitals", "heart_rate")),
    ("respiratory rate", ("vitals", "respiratory_rate")), ("systolic", ("vitals", "systolic_bp")),
    ("diastolic", ("vitals", "diastolic_bp")), ("temperature", ("vitals", "temperature")),
    ("oxygen saturation", ("vitals", "spo2")), ("urea nitrogen", ("labs", "bun")), ("bun", ("labs", "bun")),
    ("urea", ("labs", "urea")), ("creatinine", ("labs", "creatinine")),
    ("hdl", ("labs", "hdl_cholesterol")), ("ldl", ("labs", "ldl_cholesterol")),
    ("cholesterol", ("labs", "total_cholesterol")), ("lactate", ("labs", "lactate")), ("inr", ("labs", "inr")),
]
_SKIP_STATUS = {"entered-in-error", "cancelled", "resolved", "inactive", "stopped", "completed", "not-taken",
                "refuted", "remission"}


def fhir_to_dict(resource: Any, today: dt.date | None = None) -> dict[str, Any]:
    """Our patient JSON from FHIR resources.

    Raises:
        InputError: not FHIR resources, or a resource type we do not read.
    """
    out: dict[str, Any] = {"conditions": [], "medications": [], "allergies": [], "vitals": {}, "labs": {}}
    for res in _resources(resource):
        kind = res.get("resourceType")
        reader = _READERS.get(kind)
        if reader is None:
            raise InputError(f"FHIR resource type {kind!r} is not read here: use Patient, Observation, Condition, "
                             "MedicationStatement or AllergyIntolerance.")
        reader(res, out, today or dt.date.today())
    return {k: v for k, v in out.items() if v not in ([], {})}


def patient_dict(data: Any) -> dict[str, Any]:
    """Our patient JSON from either our shape or FHIR resources (a resource, a list, a Bundle).

    This is what the HTTP API's `patient` field and the app's patient box accept.

    Raises:
        InputError: neither our shape (an object) nor FHIR resources.
    """
    if isinstance(data, list) or (isinstance(data, dict) and "resourceType" in data):
        return fhir_to_dict(data)
    if not isinstance(data, dict):
        raise InputError("The patient context must be a JSON object (docs/clinical.md) or FHIR resources.")
    return data


def _resources(resource: Any) -> list[dict[str, Any]]:
    if isinstance(resource, list):
        return [r for item in resource for r in _resources(item)]
    if not isinstance(resource, dict) or "resourceType" not in resource:
        raise InputError("This is not a FHIR resource: each needs a resourceType (Patient, Observation, ...).")
    if resource["resourceType"] == "Bundle":
        return [r for e in resource.get("entry") or [] for r in _resources(e.get("resource") or {})]
    return [resource]


def _text(concept: dict[str, Any] | None) -> str:
    concept = concept or {}
    codings = concept.get("coding") or []
    return (concept.get("text") or next((c.get("display") for c in codings if c.get("display")), "")).strip()


def _codes(concept: dict[str, Any] | None) -> set[str]:
    return {c.get("code") for c in (concept or {}).get("coding") or [] if c.get("code")}


def _status(res: dict[str, Any], key: str) -> str:
    """A status as lower-case text: a plain code, or a CodeableConcept's text/display/code."""
    value = res.get(key)
    if not isinstance(value, dict):
        return str(value or "").lower()
    return (_text(value) or next(iter(sorted(_codes(value))), "")).lower()


def _patient(res: dict[str, Any], out: dict[str, Any], today: dt.date) -> None:
    if res.get("gender"):
        out["sex"] = res["gender"]
    born = res.get("birthDate")
    if born:
        try:
            b = dt.date.fromisoformat(born[:10]) if len(born) >= 10 else dt.date(int(born[:4]), 7, 1)
        except ValueError as exc:
            raise InputError(f"Patient.birthDate {born!r} is not a date (YYYY-MM-DD).") from exc
        out["age"] = today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def _observation(res: dict[str, Any], out: dict[str, Any], today: dt.date) -> None:
    if str(res.get("status", "")).lower() in _SKIP_STATUS:
        return
    codes = _codes(res.get("code"))
    if codes & BP_PANELS:
        for comp in res.get("component") or []:
            _put_quantity(comp, out)
        return
    if PREGNANCY_STATUS in codes:
        value = _text(res.get("valueCodeableConcept")).lower()
        out["pregnant"] = "pregnant" in value and "not" not in value
        return
    if SMOKING_STATUS in codes:
        value = _text(res.get("valueCodeableConcept")).lower()
        out["smoker"] = "current" in value or value in ("smoker", "every day smoker", "some day smoker")
        return
    _put_quantity(res, out)


def _put_quantity(res: dict[str, Any], out: dict[str, Any]) -> None:
    codes = _codes(res.get("code"))
    target = next((LOINC[c] for c in codes if c in LOINC), None)
    if target is None:
        label = _text(res.get("code")).lower()
        target = next((t for word, t in TEXT_KEYS if word in label), None)
    if target is None:
        return  # an observation we have no use for
    q = res.get("valueQuantity") or {}
    group, key = target
    out[group][key] = {"value": q.get("value"), "unit": q.get("code") or q.get("unit")}  # UCUM code first


def _condition(res: dict[str, Any], out: dict[str, Any], today: dt.date) -> None:
    if _status(res, "clinicalStatus") in _SKIP_STATUS or _status(res, "verificationStatus") in _SKIP_STATUS:
        return
    if name := _text(res.get("code")):
        out["conditions"].append(name)


def _medication(res: dict[str, Any], out: dict[str, Any], today: dt.date) -> None:
    if str(res.get("status", "")).lower() in _SKIP_STATUS:
        return
    concept = res.get("medicationCodeableConcept") or (res.get("medication") or {}).get("concept")
    if name := _text(concept):
        out["medications"].append(name)


def _allergy(res: dict[str, Any], out: dict[str, Any], today: dt.date) -> None:
    if _status(res, "clinicalStatus") in _SKIP_STATUS:
        return
    if name := _text(res.get("code")):
        out["allergies"].append(name)


_READERS = {"Patient": _patient, "Observation": _observation, "Condition": _condition,
            "MedicationStatement": _medication, "AllergyIntolerance": _allergy}


def load_patient_file(path: str | Path) -> dict[str, Any]:
    """Read a patient file: our JSON shape, or FHIR JSON (a resource, a list, or a Bundle).

    Returns our JSON shape, not yet range-checked (tools validate it, so a bad value is reported
    in the turn and the turn still completes).

    Raises:
        InputError: unreadable file, not JSON, or not a patient record.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the patient file {path}: {exc.strerror}.") from exc
    except ValueError as exc:
        raise InputError(f"The patient file {path} is not valid JSON ({exc}).") from exc
    is_fhir = (isinstance(data, dict) and "resourceType" in data) or (
        isinstance(data, list) and all(isinstance(r, dict) and "resourceType" in r for r in data))
    if is_fhir:
        return fhir_to_dict(data)
    if not isinstance(data, dict):
        raise InputError(f"The patient file {path} must hold a JSON object (our shape) or FHIR resources.")
    return data
