"""Deterministic extraction of risk-score requests and inputs from a clinician's message.

The router never asks the model: rules find which score a message asks for (its name, or an
intent such as "how severe is this pneumonia") and read the inputs from the text with regular
expressions, then fill gaps from the patient context. Rules, in order of trust:
- a value stated in the message wins over the patient context (it is the current presentation);
- a finding is True when named and not negated ("no cough", "denies haemoptysis", "without");
  False only when negated; otherwise unknown, and the score then refuses naming it;
- when a patient context lists conditions, that list is taken as the complete problem list, so
  history items it does not mention (heart failure, diabetes ...) count as absent;
- lab values need units ("urea 8 mmol/L" or "BUN 22 mg/dL"); a bare number is reported, not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.clinical.patient import LABS, VITALS, PatientContext

# Score key -> name patterns (explicit request) and intent patterns (implicit request).
EXPLICIT: dict[str, str] = {
    "curb65": r"\bcurb[- ]?65\b",
    "cha2ds2vasc": r"\bcha2?ds2?[- ]?vasc\b",
    "hasbled": r"\bhas[- ]?bled\b",
    "wells_pe": r"\bwells\b",
    "qsofa": r"\bq[- ]?sofa\b",
    "centor": r"\b(?:centor|mcisaac)\b",
    "pce": r"\b(?:pooled cohort|ascvd risk|ascvd score|10[- ]year (?:cardiovascular|cv|cvd|ascvd) risk)\b",
}
INTENT: dict[str, tuple[str, str]] = {
    "curb65": (r"\bpneumonia\b", r"\b(?:sever|how (?:bad|sick|serious)|admit|admission|icu|outpatient|mortality|risk)"),
    "qsofa": (r"\bseps(?:is|tic)\b", r"\b(?:risk|screen|sever|how (?:bad|sick|serious)|mortality|outcome)"),
    "cha2ds2vasc": (r"\b(?:atrial fibrillation|af|afib)\b", r"\b(?:stroke risk|risk of stroke|anticoagula|thromboemboli)"),
    "hasbled": (r"\b(?:bleed(?:ing)? risk|risk of (?:major )?bleed)", r"\b(?:anticoagula|warfarin|doac|atrial fibrillation|af)\b"),
    "wells_pe": (r"\b(?:pulmonary embol\w*|pe)\b", r"\b(?:probab|likel|pre-?test|risk|rule out|d-?dimer)"),
    "centor": (r"\b(?:sore throat|pharyngitis|tonsillitis|strep)", r"\b(?:antibiotic|strep|swab|culture|likel|probab|test)"),
    "pce": (r"\b(?:cardiovascular|heart attack|ascvd|cvd)\b", r"\b(?:10[- ]year|ten[- ]year|risk)"),
}

# A negation reaches over a few words (and "or" lists) but not past a comma, "and" or "with".
NEGATION = r"(?:no|not|without|denies|denied|negative for|absent|free of|non)\b(?:[ /-](?!and\b|with\b)[\w-]+){0,4}[ /-]?"


@dataclass
class Extraction:
    """Score inputs found for one message, and the problems met (e.g. a lab without unit)."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def requested_scores(text: str, role: str = "doctor") -> list[str]:
    """Scores the message asks for: by name in any role, by intent only in doctor mode."""
    low = text.lower()
    found = [k for k, pattern in EXPLICIT.items() if re.search(pattern, low)]
    if role == "doctor":
        found += [k for k, (topic, ask) in INTENT.items()
                  if k not in found and re.search(topic, low) and re.search(ask, low)]
    if "hasbled" in found and "cha2ds2vasc" in found and not re.search(EXPLICIT["hasbled"], low):
        found.remove("hasbled")  # "AF, stroke risk on anticoagulation" asks for stroke risk only
    return found


def mentioned(text: str, words: str) -> bool | None:
    """True if a finding (`words`, a regex) is named, False if it is negated, None if absent."""
    low = text.lower()
    hits = list(re.finditer(rf"\b(?:{words})", low))
    if not hits:
        return None
    for hit in hits:
        before = low[max(0, hit.start() - 40):hit.start()]
        clause = re.split(r"[.;:]|\bbut\b", before)[-1]
        if not re.search(rf"\b{NEGATION}$", clause):
            return True
    return False


def _first(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.IGNORECASE)


def extract(text: str, patient: PatientContext | None = None) -> Extraction:
    """Every score input this message and patient context give (canonical units)."""
    ex = Extraction()
    _demographics(text, ex)
    _vitals(text, ex)
    _labs(text, ex)
    _findings(text, ex)
    _check_ranges(ex)
    if patient is not None:
        _from_patient(patient, ex)
    _derived(ex)
    return ex


def _demographics(text: str, ex: Extraction) -> None:
    if m := _first(r"\b(\d{1,3})[- ]?(?:years?|yrs?|y)[- ]?(?:old|of age)\b|\baged? (\d{1,3})\b|\b(\d{1,3}) ?y/?o\b|"
                   r"(?<![\d.])\b(\d{1,3})(?:M|F)\b", text):
        ex.values["age"] = float(next(g for g in m.groups() if g))
    low = text.lower()
    # "65F" / "65M" shorthand only without a space, so "101.3 F" stays a temperature.
    if re.search(r"\b(?:woman|female|lady|girl|she|her)\b", low) or re.search(r"(?<![\d.])\b\d{1,3}F\b", text):
        ex.values["sex"] = "female"
    elif re.search(r"\b(?:man|male|gentleman|boy|he|his)\b", low) or re.search(r"(?<![\d.])\b\d{1,3}M\b", text):
        ex.values["sex"] = "male"
    if re.search(r"\b(?:african[- ]american|black)\b", low):
        ex.values["race"] = "african_american"
    elif re.search(r"\b(?:white|caucasian)\b", low):
        ex.values["race"] = "white"


def _vitals(text: str, ex: Extraction) -> None:
    if m := _first(r"\b(?:RR|resp(?:iratory)? rate|respirations?)\s*(?:of|is|was|=|:)?\s*(\d{1,3})", text):
        ex.values["respiratory_rate"] = float(m.group(1))
    if m := _first(r"\b(?:BP|blood pressure)\s*(?:of|is|was|=|:)?\s*(\d{2,3})\s*/\s*(\d{2,3})", text):
        ex.values["systolic_bp"], ex.values["diastolic_bp"] = float(m.group(1)), float(m.group(2))
    elif m := _first(r"\b(?:SBP|systolic(?: BP| blood pressure)?)\s*(?:of|is|was|=|:)?\s*(\d{2,3})", text):
        ex.values["systolic_bp"] = float(m.group(1))
    if m := _first(r"\b(?:HR|heart rate|pulse(?: rate)?)\s*(?:of|is|was|=|:)?\s*(\d{2,3})", text):
        ex.values["heart_rate"] = float(m.group(1))
    if m := _first(r"\b(?:temp(?:erature)?|T)\s*(?:of|is|was|=|:)?\s*(\d{2,3}(?:\.\d+)?)\s*°?\s*([CF])?\b", text):
        value, unit = float(m.group(1)), (m.group(2) or "").upper()
        celsius = (value - 32) * 5 / 9 if unit == "F" or (not unit and value > 50) else value
        ex.values["temperature_c"] = celsius
    if m := _first(r"\bGCS\s*(?:of|is|was|=|:)?\s*(\d{1,2})\b", text):
        ex.values["gcs"] = float(m.group(1))


_LAB_PATTERNS: dict[str, str] = {
    "bun": r"\b(?:BUN|blood urea nitrogen|urea nitrogen)",
    "urea": r"\b(?<!blood )urea(?! nitrogen)",
    "total_cholesterol": r"\b(?:total cholesterol|TC|cholesterol)",
    "hdl_cholesterol": r"\b(?:HDL(?:[- ]c(?:holesterol)?)?)",
}


def _labs(text: str, ex: Extraction) -> None:
    for key, name in _LAB_PATTERNS.items():
        m = _first(name + r"\s*(?:of|is|was|=|:)?\s*(\d+(?:\.\d+)?)\s*(mmol/?l|mg/?dl)?", text)
        if m is None:
            continue
        value, unit = float(m.group(1)), m.group(2)
        if unit is None:
            ex.problems.append(f"{key.replace('_', ' ')} {value:g} has no unit (write mmol/L or mg/dL)")
            continue
        unit = unit.lower().replace("mmoll", "mmol/l").replace("mgdl", "mg/dl")
        ex.values[key] = LABS[key].to_canonical(value, unit)


# Input name -> regex of words that name the finding.
FINDINGS: dict[str, str] = {
    "confusion": r"confus|disorient|delirium|altered mental|new(?:ly)? (?:confused|disoriented)",
    "altered_mentation": r"confus|disorient|delirium|altered mental|altered mentation|obtunded|drowsy|gcs ?<",
    "cough": r"cough",
    "fever": r"fever|febrile|pyrexi",
    "tonsillar_exudate": r"tonsillar (?:exudate|swelling)|exudat|swollen tonsil|enlarged tonsil",
    "tender_anterior_nodes": r"tender (?:anterior )?(?:cervical )?(?:lymph ?)?(?:nodes|adenopathy|lymphadenopathy)|"
                             r"(?:anterior )?cervical (?:lymph)?adenopathy|swollen (?:neck |cervical )?(?:lymph )?(?:nodes|glands)",
    "dvt_signs": r"(?:signs|symptoms) of dvt|leg swelling|calf (?:swelling|tenderness)|swollen (?:calf|leg)",
    "pe_most_likely": r"pe (?:is )?(?:the )?most likely|most likely (?:diagnosis )?(?:is )?pe|pe likely diagnosis",
    "immobilisation_or_surgery": r"immobili[sz]|bed ?ridden|bedbound|recent surgery|post-?op|surgery (?:\d+|two|three) weeks",
    "previous_vte": r"previous (?:dvt|pe|vte)|prior (?:dvt|pe|vte)|history of (?:dvt|pe|vte)",
    "haemoptysis": r"ha?emoptysis|coughing (?:up )?blood",
    "malignancy": r"malignan|cancer|metasta|on chemo",
    "heart_failure": r"heart failure|chf|lv dysfunction|reduced ejection fraction|hfref",
    "hypertension": r"hypertensi|high blood pressure|htn",
    "diabetes": r"diabet|t2dm|t1dm",
    "stroke_tia": r"stroke|tia\b|transient ischa?emic|thromboembol",
    "stroke": r"stroke",
    "vascular_disease": r"vascular disease|myocardial infarction|\bmi\b|peripheral arter|pad\b|aortic plaque|coronary artery disease",
    "smoker": r"smoker|smokes|smoking",
    "bp_treated": r"(?:on|taking|treated with) (?:antihypertensive|bp med|blood pressure med)|treated hypertension",
    "abnormal_renal_function": r"dialysis|renal transplant|kidney transplant|chronic kidney disease|ckd|renal (?:impairment|failure)",
    "abnormal_liver_function": r"cirrhosis|liver disease|hepatic impairment",
    "bleeding": r"(?:history of|previous|prior|recent|major) (?:gi |gastrointestinal )?(?:bleed|ha?emorrhag)|"
                r"(?:gi|upper gi|lower gi|gastrointestinal) bleed|bled\b|bleeding (?:disorder|diathesis|tendency)",
    "labile_inr": r"labile inr|unstable inr|inr (?:labile|unstable|fluctuat)",
    "antiplatelet_or_nsaid": r"aspirin|clopidogrel|antiplatelet|nsaid|ibuprofen|naproxen|diclofenac",
    "alcohol": r"alcohol (?:excess|abuse|use disorder)|heavy drink|drinks heavily|\d+ drinks",
}
# History items for which a patient context's condition list counts as complete.
HISTORY = ("heart_failure", "hypertension", "diabetes", "stroke_tia", "stroke", "vascular_disease",
           "previous_vte", "malignancy", "abnormal_renal_function", "abnormal_liver_function", "bleeding")
MEDICATION_FINDINGS = {"antiplatelet_or_nsaid": FINDINGS["antiplatelet_or_nsaid"],
                       "bp_treated": r"amlodipine|lisinopril|ramipril|enalapril|losartan|valsartan|candesartan|"
                                     r"bendroflumethiazide|hydrochlorothiazide|indapamide|chlortalidone|bisoprolol|"
                                     r"atenolol|metoprolol|nifedipine|diltiazem|verapamil|doxazosin|spironolactone"}


# Phrases that name a risk being asked about, not a finding ("stroke risk" is not a stroke).
RISK_PHRASES = (r"\b(?:(?:stroke|bleeding|bleed|cardiovascular|pe|sepsis|mortality) risk|"
                r"risk of (?:a |major )?(?:stroke|bleeding|bleed|pe|pulmonary embolism|sepsis)|"
                r"stroke prevention|prevent(?:ing)? (?:a )?stroke)\b")


def _findings(text: str, ex: Extraction) -> None:
    text = re.sub(RISK_PHRASES, " ", text.lower())
    for name, words in FINDINGS.items():
        state = mentioned(text, words)
        if state is not None:
            ex.values[name] = state
    if re.search(r"\b(?:alert and oriented|a&o ?x ?[34]|orientated|gcs (?:of )?15)\b", text.lower()):
        ex.values.setdefault("confusion", False)
        ex.values.setdefault("altered_mentation", False)


def _from_patient(p: PatientContext, ex: Extraction) -> None:
    v = ex.values
    for key, value in (("age", p.age), ("sex", p.sex), ("race", p.race), ("smoker", p.smoker)):
        if value is not None:
            v.setdefault(key, value)
    for key in ("heart_rate", "respiratory_rate", "systolic_bp", "diastolic_bp", "gcs"):
        if key in p.vitals:
            v.setdefault(key, p.vitals[key].value)
    if "temperature" in p.vitals:
        v.setdefault("temperature_c", p.vitals["temperature"].value)
    for key in ("urea", "bun", "total_cholesterol", "hdl_cholesterol"):
        if key in p.labs:
            v.setdefault(key, p.labs[key].value)
    conditions = " ; ".join(p.conditions)
    for name in HISTORY:
        if p.conditions:
            v.setdefault(name, bool(mentioned(conditions, FINDINGS[name])))
    if p.medications:
        meds = " ; ".join(p.medications)
        for name, words in MEDICATION_FINDINGS.items():
            v.setdefault(name, bool(mentioned(meds, words)))
    if "creatinine" in p.labs and p.labs["creatinine"].value >= 200:
        v.setdefault("abnormal_renal_function", True)


# Extracted value -> its quantity, for the same plausibility ranges as the patient context.
_RANGED = {"heart_rate": VITALS["heart_rate"], "respiratory_rate": VITALS["respiratory_rate"],
           "systolic_bp": VITALS["systolic_bp"], "diastolic_bp": VITALS["diastolic_bp"], "gcs": VITALS["gcs"],
           "temperature_c": VITALS["temperature"], "urea": LABS["urea"], "bun": LABS["bun"],
           "total_cholesterol": LABS["total_cholesterol"], "hdl_cholesterol": LABS["hdl_cholesterol"]}


def _check_ranges(ex: Extraction) -> None:
    """Drop implausible values from the message (a heart rate of 900), reporting each by name."""
    for key, q in _RANGED.items():
        value = ex.values.get(key)
        if value is not None and not q.low <= value <= q.high:
            del ex.values[key]
            ex.problems.append(f"{key} {value:g} is outside the physiologic range {q.low:g}-{q.high:g} {q.canonical}")
    age = ex.values.get("age")
    if age is not None and age > 120:
        del ex.values["age"]
        ex.problems.append(f"age {age:g} is not plausible")
    sbp, dbp = ex.values.get("systolic_bp"), ex.values.get("diastolic_bp")
    if sbp is not None and dbp is not None and dbp >= sbp:
        del ex.values["systolic_bp"], ex.values["diastolic_bp"]
        ex.problems.append(f"blood pressure {sbp:g}/{dbp:g}: the diastolic must be below the systolic")


def _derived(ex: Extraction) -> None:
    """Inputs that follow from others: mmol/L urea, >38 C fever, GCS < 15, SBP > 160, treated BP."""
    v = ex.values
    if "urea" in v:
        v["urea_mmol_l"] = v["urea"]
    elif "bun" in v:
        v["urea_mmol_l"] = v["bun"] / 2.8
    for key in ("total_cholesterol", "hdl_cholesterol"):
        if key in v:
            v[f"{key}_mg_dl"] = v[key]
    if "temperature_c" in v and "fever" not in v:
        v["fever"] = v["temperature_c"] > 38
    if "gcs" in v:
        v.setdefault("altered_mentation", v["gcs"] < 15)
        v.setdefault("confusion", v["gcs"] < 15)
    if "systolic_bp" in v and "uncontrolled_hypertension" not in v:
        v["uncontrolled_hypertension"] = v["systolic_bp"] > 160
    if v.get("hypertension") is False:
        v.setdefault("bp_treated", False)

