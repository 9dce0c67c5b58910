"""Structured patient context: a typed, validated record of what the clinician knows.

`PatientContext` holds age, sex, pregnancy, conditions, medications, allergies, vital signs and
lab results. It is built from our JSON shape (`from_dict`, the shape the CLI file, the HTTP API and
the Gradio form send) or from FHIR R4 resources (`from_fhir`: Patient, Observation, Condition,
MedicationStatement, AllergyIntolerance, alone, in a list or in a Bundle).

Notable choices:
- Validation collects every problem and raises one `InputError` naming each field
  (`vitals.heart_rate: 900 /min is outside the physiologic range 20-300 /min`), so a form can
  show them all at once.
- Units are converted to one canonical unit per quantity (urea mmol/L, cholesterol mg/dL,
  creatinine umol/L, temperature C ...). Labs must carry a unit; vital signs may be bare numbers in
  their conventional unit (mmHg, /min, C, %, kg, cm).
- Ranges are *physiologic plausibility* limits, not reference ranges: they catch typos and unit
  mix-ups (a heart rate of 900), never flag disease.
- No identifiers: names, record numbers, addresses and birth dates are never stored (FHIR
  `birthDate` becomes an age), so the record is safe to log and to show the model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.errors import InputError

SEXES = ("female", "male", "other", "unknown")
RACES = ("white", "african_american", "other")


@dataclass(frozen=True)
class Quantity:
    """A measurable quantity: canonical unit, accepted units (factor to canonical) and plausible range."""

    canonical: str
    units: dict[str, float]
    low: float
    high: float
    offset: dict[str, float] = field(default_factory=dict)  # unit -> additive term before scaling (F -> C)

    def to_canonical(self, value: float, unit: str) -> float:
        key = _unit_key(unit)
        return (value + self.offset.get(key, 0.0)) * self.units[key]


def _unit_key(unit: str) -> str:
    u = unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "").replace("°", "")
    return {"bpm": "/min", "beats/min": "/min", "breaths/min": "/min", "{beats}/min": "/min", "beats/minute": "/min",
            "breaths/minute": "/min", "perminute": "/min", "/minute": "/min",
            "{breaths}/min": "/min", "mm[hg]": "mmhg", "cel": "c", "[degf]": "f", "degf": "f", "degc": "c",
            "percent": "%", "mg/l": "mg/l", "10*9/l": "10^9/l", "x10^9/l": "10^9/l", "10^3/ul": "10^9/l",
            "10*3/ul": "10^9/l", "{score}": "1", "score": "1", "points": "1", "[in_i]": "in", "[lb_av]": "lb",
            "lbs": "lb"}.get(u, u)


VITALS: dict[str, Quantity] = {
    "heart_rate": Quantity("/min", {"/min": 1.0}, 20, 300),
    "respiratory_rate": Quantity("/min", {"/min": 1.0}, 4, 80),
    "systolic_bp": Quantity("mmHg", {"mmhg": 1.0, "kpa": 7.50062}, 40, 300),
    "diastolic_bp": Quantity("mmHg", {"mmhg": 1.0, "kpa": 7.50062}, 15, 200),
    "temperature": Quantity("C", {"c": 1.0, "f": 5 / 9}, 25, 45, offset={"f": -32.0}),
    "spo2": Quantity("%", {"%": 1.0}, 40, 100),
    "gcs": Quantity("1", {"1": 1.0}, 3, 15),
    "weight": Quantity("kg", {"kg": 1.0, "g": 0.001, "lb": 0.45359237}, 0.3, 400),
    "height": Quantity("cm", {"cm": 1.0, "m": 100.0, "in": 2.54}, 25, 250),
}

LABS: dict[str, Quantity] = {
    # Urea as urea (60.06 g/mol: mg/dL / 6.006 = mmol/L); blood urea *nitrogen* is its own key
    # (28 g of nitrogen per mol of urea: BUN mg/dL / 2.8 = urea mmol/L).
    "urea": Quantity("mmol/L", {"mmol/l": 1.0, "mg/dl": 1 / 6.006}, 0.5, 100),
    "bun": Quantity("mg/dL", {"mg/dl": 1.0, "mmol/l": 2.8}, 1, 280),
    "creatinine": Quantity("umol/L", {"umol/l": 1.0, "mg/dl": 88.42}, 10, 3000),
    "total_cholesterol": Quantity("mg/dL", {"mg/dl": 1.0, "mmol/l": 38.67}, 40, 1000),
    "hdl_cholesterol": Quantity("mg/dL", {"mg/dl": 1.0, "mmol/l": 38.67}, 5, 250),
    "ldl_cholesterol": Quantity("mg/dL", {"mg/dl": 1.0, "mmol/l": 38.67}, 5, 800),
    "glucose": Quantity("mmol/L", {"mmol/l": 1.0, "mg/dl": 1 / 18.016}, 0.5, 100),
    "hba1c": Quantity("%", {"%": 1.0}, 2, 25),
    "lactate": Quantity("mmol/L", {"mmol/l": 1.0, "mg/dl": 1 / 9.008}, 0, 40),
    "inr": Quantity("1", {"1": 1.0, "{inr}": 1.0, "ratio": 1.0}, 0.5, 20),
    "sodium": Quantity("mmol/L", {"mmol/l": 1.0, "meq/l": 1.0}, 90, 200),
    "potassium": Quantity("mmol/L", {"mmol/l": 1.0, "meq/l": 1.0}, 1, 12),
    "crp": Quantity("mg/L", {"mg/l": 1.0, "mg/dl": 10.0}, 0, 1000),
    "wbc": Quantity("10^9/L", {"10^9/l": 1.0}, 0, 1000),
    "hemoglobin": Quantity("g/L", {"g/l": 1.0, "g/dl": 10.0, "mmol/l": 16.11}, 20, 260),
    "platelets": Quantity("10^9/L", {"10^9/l": 1.0}, 1, 3000),
    "bilirubin": Quantity("umol/L", {"umol/l": 1.0, "mg/dl": 17.1}, 0, 1000),
}


@dataclass
class Measurement:
    """A value in the canonical unit of its quantity, with the value and unit it was given in."""

    value: float
    unit: str
    given: str = ""


@dataclass
class PatientContext:
    """What is known about the patient; every field optional (None or empty means unknown)."""

    age: float | None = None
    sex: str | None = None
    pregnant: bool | None = None
    smoker: bool | None = None
    race: str | None = None
    conditions: list[str] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)
    vitals: dict[str, Measurement] = field(default_factory=dict)
    labs: dict[str, Measurement] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> PatientContext:
        """Parse and validate our JSON shape (see docs/clinical.md).

        Raises:
            InputError: one sentence naming every invalid field.
        """
        if not isinstance(data, dict):
            raise InputError("The patient context must be a JSON object with fields such as age, sex, vitals and labs.")
        problems: list[str] = []
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
        ctx = cls(
            age=_number(data.get("age"), "age", 0, 120, problems),
            sex=_choice(data.get("sex"), "sex", SEXES, problems),
            pregnant=_flag(data.get("pregnant"), "pregnant", problems),
            smoker=_flag(data.get("smoker"), "smoker", problems),
            race=_choice(data.get("race"), "race", RACES, problems),
            conditions=_strings(data.get("conditions"), "conditions", problems),
            medications=_strings(data.get("medications"), "medications", problems),
            allergies=_strings(data.get("allergies"), "allergies", problems),
            vitals=_measurements(data.get("vitals"), "vitals", VITALS, problems, unit_required=False),
            labs=_measurements(data.get("labs"), "labs", LABS, problems, unit_required=True),
        )
        problems += ctx.contradictions()
        if problems:
            raise InputError("The patient context is invalid: " + "; ".join(problems) + ".")
        return ctx

    @classmethod
    def from_fhir(cls, resource: Any, today: dt.date | None = None) -> PatientContext:
        """Parse FHIR R4 resources (one, a list, or a Bundle) and validate them."""
        from assistant.clinical.fhir import fhir_to_dict

        return cls.from_dict(fhir_to_dict(resource, today=today))

    def contradictions(self) -> list[str]:
        """Facts that cannot all be true, each naming its fields."""
        out = []
        if self.pregnant and self.sex == "male":
            out.append("sex 'male' contradicts pregnant = true")
        if self.pregnant and self.age is not None and not 8 <= self.age <= 65:
            out.append(f"pregnant = true is implausible at age {self.age:g}")
        sbp, dbp = self.vitals.get("systolic_bp"), self.vitals.get("diastolic_bp")
        if sbp and dbp and dbp.value >= sbp.value:
            out.append(f"vitals.diastolic_bp ({dbp.value:g}) must be below vitals.systolic_bp ({sbp.value:g})")
        hdl, tc = self.labs.get("hdl_cholesterol"), self.labs.get("total_cholesterol")
        if hdl and tc and hdl.value >= tc.value:
            out.append("labs.hdl_cholesterol must be below labs.total_cholesterol")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, values in canonical units (round-trips through `from_dict`)."""
        out = asdict(self)
        for group in ("vitals", "labs"):
            out[group] = {k: {"value": m["value"], "unit": m["unit"]} for k, m in out[group].items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}

    def summary(self) -> str:
        """Plain-text summary for the model's tool-results block and for logs (no identifiers)."""
        lines = []
        demo = [f"age {self.age:g}" if self.age is not None else "", self.sex or "",
                "pregnant" if self.pregnant else "", "current smoker" if self.smoker else ""]
        if any(demo):
            lines.append("Patient: " + ", ".join(d for d in demo if d))
        for label, items in (("Conditions", self.conditions), ("Medications", self.medications),
                             ("Allergies", self.allergies)):
            if items:
                lines.append(f"{label}: " + "; ".join(items))
        for label, group in (("Vital signs", self.vitals), ("Labs", self.labs)):
            if group:
                lines.append(f"{label}: " + ", ".join(f"{k.replace('_', ' ')} {_num(m.value)} {m.unit}"
                                                     for k, m in group.items()))
        return "\n".join(lines) or "No patient details given."

    def has_condition(self, *words: str) -> bool:
        """True when a listed condition contains any of `words` (case-insensitive)."""
        text = " | ".join(self.conditions).lower()
        return any(w in text for w in words)

    def has_medication(self, *words: str) -> bool:
        text = " | ".join(self.medications).lower()
        return any(w in text for w in words)


_FIELDS = {"age", "sex", "pregnant", "smoker", "race", "conditions", "medications", "allergies", "vitals", "labs"}


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def _number(value: Any, name: str, low: float, high: float, problems: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{name} must be a number, got {value!r}")
        return None
    if not low <= value <= high:
        problems.append(f"{name}: {value:g} is outside the plausible range {low:g}-{high:g}")
        return None
    return float(value)


def _choice(value: Any, name: str, choices: tuple[str, ...], problems: list[str]) -> str | None:
    if value is None:
        return None
    v = str(value).strip().lower().replace(" ", "_")
    v = {"f": "female", "m": "male", "woman": "female", "man": "male", "black": "african_american",
         "african american": "african_american"}.get(v, v)
    if v not in choices:
        problems.append(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return None
    return v


def _flag(value: Any, name: str, problems: list[str]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    problems.append(f"{name} must be true or false, got {value!r}")
    return None


def _strings(value: Any, name: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{name} must be a list of strings")
        return []
    return [v.strip() for v in value if v.strip()]


def _measurements(value: Any, group: str, table: dict[str, Quantity], problems: list[str],
                  unit_required: bool) -> dict[str, Measurement]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{group} must be an object such as {{\"heart_rate\": {{\"value\": 80, \"unit\": \"/min\"}}}}")
        return {}
    out = {}
    for key, raw in value.items():
        m = _measurement(key, raw, f"{group}.{key}", table, problems, unit_required)
        if m is not None:
            out[key] = m
    return out


def _measurement(key: str, raw: Any, name: str, table: dict[str, Quantity], problems: list[str],
                 unit_required: bool) -> Measurement | None:
    quantity = table.get(key)
    if quantity is None:
        problems.append(f"{name} is not a known measurement (known: {', '.join(table)})")
        return None
    value, unit = (raw.get("value"), raw.get("unit")) if isinstance(raw, dict) else (raw, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{name} needs a numeric value, got {value!r}")
        return None
    if unit is None or not str(unit).strip():
        if unit_required:
            problems.append(f"{name} has no unit (use one of {', '.join(quantity.units)})")
            return None
        unit = quantity.canonical
    if _unit_key(str(unit)) not in quantity.units:
        problems.append(f"{name}: unit {unit!r} is not accepted (use one of {', '.join(quantity.units)})")
        return None
    canonical = quantity.to_canonical(float(value), str(unit))
    if not quantity.low <= canonical <= quantity.high:
        problems.append(f"{name}: {value:g} {unit} is outside the physiologic range "
                        f"{quantity.low:g}-{quantity.high:g} {quantity.canonical}")
        return None
    return Measurement(round(canonical, 4), quantity.canonical, f"{value:g} {unit}")


def patient_from_turn_context(context: dict[str, Any]) -> PatientContext | None:
    """The validated `PatientContext` in `Turn.context["patient"]`, or None when there is none.

    Raises:
        InputError: the context is there but invalid.
    """
    raw = context.get("patient")
    if raw is None:
        return None
    return raw if isinstance(raw, PatientContext) else PatientContext.from_dict(raw)


def patient_for_log(raw: Any) -> dict[str, Any]:
    """What an audit log may keep of a turn's patient context: known clinical fields only.

    A valid context is logged in canonical units; an invalid one keeps just its known fields,
    so free-form extras (a name, a record number, an address sent by mistake) never reach a log.
    """
    if isinstance(raw, PatientContext):
        return raw.to_dict()
    if not isinstance(raw, dict):
        return {}
    try:
        return PatientContext.from_dict(raw).to_dict()
    except InputError:
        kept = {k: v for k, v in raw.items() if k in _FIELDS}
        for group, table in (("vitals", VITALS), ("labs", LABS)):
            if isinstance(kept.get(group), dict):
                kept[group] = {k: v for k, v in kept[group].items() if k in table}
        return kept
