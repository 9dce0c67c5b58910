"""Validated clinical risk scores as deterministic functions.

Each score is a `Score` record: its inputs, a pure `compute` function and its source publication.
`compute_score(key, inputs)` refuses, naming every missing input, instead of guessing: an input
that is None or absent is *unknown*, never "normal". Inputs are in canonical units (urea mmol/L,
cholesterol mg/dL, blood pressure mmHg, rates per minute, age years); `assistant.clinical.patient`
converts units before they get here.

The scores, with the publications whose tables the code follows:
- CURB-65: Lim et al., Thorax 2003 (derivation; 30-day mortality by score).
- CHA2DS2-VASc: Lip et al., Chest 2010.
- HAS-BLED: Pisters et al., Chest 2010.
- Wells (PE): Wells et al., Thromb Haemost 2000 (three-tier and two-tier categories).
- qSOFA: Seymour et al., JAMA 2016 (Sepsis-3).
- Centor / McIsaac: McIsaac et al., CMAJ 1998 (Centor's four criteria plus an age term).
- 10-year ASCVD risk: the Pooled Cohort Equations of Goff et al., 2013 ACC/AHA guideline on the
  assessment of cardiovascular risk (coefficients, baseline survival and means of its Table A).
None of these is a diagnosis; the interpretations quote the source's risk bands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.errors import InputError


@dataclass(frozen=True)
class Reference:
    """The publication a score comes from; cited like a literature snippet."""

    text: str
    year: int
    doi: str | None = None
    pmid: str | None = None

    @property
    def url(self) -> str | None:
        if self.doi:
            return f"https://doi.org/{self.doi}"
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else None


@dataclass
class ScoreResult:
    """A computed score: total, points per criterion, and what the source says it means."""

    key: str
    name: str
    value: float
    max_value: float | None
    unit: str
    components: dict[str, float]
    interpretation: str
    inputs: dict[str, Any]
    reference: Reference
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the model and the chat step, e.g. 'CURB-65 = 5/5 (...)'."""
        total = f"{_fmt(self.value)}{self.unit}" + (f"/{_fmt(self.max_value)}" if self.max_value is not None else "")
        parts = ", ".join(f"{k} {'+' if v >= 0 else ''}{_fmt(v)}" for k, v in self.components.items() if v)
        return f"{self.name} = {total}" + (f" ({parts})" if parts else "") + f". {self.interpretation}"


@dataclass(frozen=True)
class Score:
    """A score's definition: inputs (name -> description) and a function of complete inputs."""

    key: str
    name: str
    inputs: dict[str, str]
    compute: Callable[[dict[str, Any]], ScoreResult]
    reference: Reference
    optional: tuple[str, ...] = ()


class MissingInputsError(InputError):
    """A score was asked for without all its inputs; `missing` names them."""

    def __init__(self, score: str, missing: list[str], descriptions: Mapping[str, str]) -> None:
        self.missing = missing
        named = "; ".join(f"{m} ({descriptions[m]})" for m in missing)
        super().__init__(f"{score} was not computed because these inputs are unknown: {named}; "
                         "give them rather than letting the tool guess.")


def _fmt(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else f"{x:g}")


def _pts(flag: bool, points: float = 1) -> float:
    return points if flag else 0


# ---------------------------------------------------------------- CURB-65 (Lim et al. 2003)
CURB65_REF = Reference("Lim WS, van der Eerden MM, Laing R, et al. Defining community acquired pneumonia severity "
                       "on presentation to hospital: an international derivation and validation study. "
                       "Thorax 2003;58(5):377-382.", 2003, doi="10.1136/thorax.58.5.377")


def _curb65(x: dict[str, Any]) -> ScoreResult:
    c = {
        "confusion": _pts(x["confusion"]),
        "urea > 7 mmol/L": _pts(x["urea_mmol_l"] > 7),
        "respiratory rate >= 30/min": _pts(x["respiratory_rate"] >= 30),
        "SBP < 90 or DBP <= 60 mmHg": _pts(x["systolic_bp"] < 90 or x["diastolic_bp"] <= 60),
        "age >= 65": _pts(x["age"] >= 65),
    }
    total = int(sum(c.values()))
    # Risk groups and their 30-day mortality in the derivation cohort (Lim 2003), as the BTS uses them.
    if total <= 1:
        band = "low risk (group 1, 30-day mortality about 1.5%): may be suitable for home treatment"
    elif total == 2:
        band = ("intermediate risk (group 2, 30-day mortality about 9.2%): consider a short inpatient stay or "
                "hospital-supervised outpatient treatment")
    else:
        band = ("high risk (group 3, score 3-5, 30-day mortality about 22%): manage in hospital as severe "
                "pneumonia; with a score of 4 or 5 assess for ICU care")
    text = band + "."
    return ScoreResult("curb65", "CURB-65", total, 5, "", c, text, x, CURB65_REF)


# ---------------------------------------------------------------- CHA2DS2-VASc (Lip et al. 2010)
CHA2DS2VASC_REF = Reference("Lip GYH, Nieuwlaat R, Pisters R, Lane DA, Crijns HJGM. Refining clinical risk "
                            "stratification for predicting stroke and thromboembolism in atrial fibrillation "
                            "using a novel risk factor-based approach. Chest 2010;137(2):263-272.",
                            2010, doi="10.1378/chest.09-1584")


def _cha2ds2vasc(x: dict[str, Any]) -> ScoreResult:
    age = x["age"]
    c = {
        "congestive heart failure / LV dysfunction": _pts(x["heart_failure"]),
        "hypertension": _pts(x["hypertension"]),
        "age >= 75": _pts(age >= 75, 2),
        "diabetes mellitus": _pts(x["diabetes"]),
        "stroke / TIA / thromboembolism": _pts(x["stroke_tia"], 2),
        "vascular disease (prior MI, PAD, aortic plaque)": _pts(x["vascular_disease"]),
        "age 65-74": _pts(65 <= age < 75),
        "sex category (female)": _pts(x["sex"] == "female"),
    }
    total = int(sum(c.values()))
    if total == 0:
        band = "low risk (score 0): no antithrombotic therapy recommended by the 2010 source"
    elif total == 1:
        band = "intermediate risk (score 1): oral anticoagulation or aspirin per the 2010 source; current guidelines weigh female sex alone differently"
    else:
        band = "high risk (score >= 2): oral anticoagulation recommended by the 2010 source"
    return ScoreResult("cha2ds2vasc", "CHA2DS2-VASc", total, 9, "", c, band + ".", x, CHA2DS2VASC_REF)


# ---------------------------------------------------------------- HAS-BLED (Pisters et al. 2010)
HASBLED_REF = Reference("Pisters R, Lane DA, Nieuwlaat R, et al. A novel user-friendly score (HAS-BLED) to assess "
                        "1-year risk of major bleeding in patients with atrial fibrillation: the Euro Heart Survey. "
                        "Chest 2010;138(5):1093-1100.", 2010, doi="10.1378/chest.10-0134")


def _hasbled(x: dict[str, Any]) -> ScoreResult:
    c = {
        "hypertension (uncontrolled, SBP > 160 mmHg)": _pts(x["uncontrolled_hypertension"]),
        "abnormal renal function": _pts(x["abnormal_renal_function"]),
        "abnormal liver function": _pts(x["abnormal_liver_function"]),
        "stroke": _pts(x["stroke"]),
        "bleeding history or predisposition": _pts(x["bleeding"]),
        "labile INR": _pts(x["labile_inr"]),
        "elderly (age > 65)": _pts(x["age"] > 65),
        "drugs (antiplatelets / NSAIDs)": _pts(x["antiplatelet_or_nsaid"]),
        "alcohol (>= 8 drinks/week)": _pts(x["alcohol"]),
    }
    total = int(sum(c.values()))
    band = ("high risk of major bleeding (score >= 3): caution and regular review; correct modifiable factors"
            if total >= 3 else "score < 3: lower bleeding risk in the derivation cohort")
    return ScoreResult("hasbled", "HAS-BLED", total, 9, "", c, band + ".", x, HASBLED_REF)


# ---------------------------------------------------------------- Wells PE (Wells et al. 2000)
WELLS_REF = Reference("Wells PS, Anderson DR, Rodger M, et al. Derivation of a simple clinical model to categorize "
                      "patients probability of pulmonary embolism: increasing the models utility with the SimpliRED "
                      "D-dimer. Thromb Haemost 2000;83(3):416-420.", 2000, doi="10.1055/s-0037-1613870")


def _wells_pe(x: dict[str, Any]) -> ScoreResult:
    c = {
        "clinical signs of DVT": _pts(x["dvt_signs"], 3),
        "PE the most likely diagnosis": _pts(x["pe_most_likely"], 3),
        "heart rate > 100/min": _pts(x["heart_rate"] > 100, 1.5),
        "immobilisation >= 3 days or surgery in previous 4 weeks": _pts(x["immobilisation_or_surgery"], 1.5),
        "previous DVT/PE": _pts(x["previous_vte"], 1.5),
        "haemoptysis": _pts(x["haemoptysis"], 1),
        "malignancy": _pts(x["malignancy"], 1),
    }
    total = sum(c.values())
    three = "low" if total < 2 else ("moderate" if total <= 6 else "high")
    two = "PE likely" if total > 4 else "PE unlikely"
    text = (f"{three} clinical probability (three-tier: <2 low, 2-6 moderate, >6 high); {two} "
            "(two-tier: > 4 likely); combine with D-dimer / imaging per the diagnostic algorithm.")
    return ScoreResult("wells_pe", "Wells score (PE)", total, 12.5, "", c, text, x, WELLS_REF,
                       extra={"three_tier": three, "two_tier": two})


# ---------------------------------------------------------------- qSOFA (Seymour et al. 2016)
QSOFA_REF = Reference("Seymour CW, Liu VX, Iwashyna TJ, et al. Assessment of clinical criteria for sepsis: for the "
                      "Third International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3). "
                      "JAMA 2016;315(8):762-774.", 2016, doi="10.1001/jama.2016.0288")


def _qsofa(x: dict[str, Any]) -> ScoreResult:
    c = {
        "respiratory rate >= 22/min": _pts(x["respiratory_rate"] >= 22),
        "altered mentation": _pts(x["altered_mentation"]),
        "systolic BP <= 100 mmHg": _pts(x["systolic_bp"] <= 100),
    }
    total = int(sum(c.values()))
    text = ("positive (>= 2): with suspected infection, higher risk of poor outcome; assess for organ dysfunction (SOFA)"
            if total >= 2 else "negative (< 2): does not exclude sepsis; keep reassessing")
    return ScoreResult("qsofa", "qSOFA", total, 3, "", c, text + ".", x, QSOFA_REF)


# ---------------------------------------------------------------- Centor / McIsaac (McIsaac et al. 1998)
MCISAAC_REF = Reference("McIsaac WJ, White D, Tannenbaum D, Low DE. A clinical score to reduce unnecessary "
                        "antibiotic use in patients with sore throat. CMAJ 1998;158(1):75-83.", 1998, pmid="9475915")
# Streptococcal infection by score in McIsaac 1998 (score <= 0 ... >= 4), in percent.
_MCISAAC_STREP = {0: "1-2.5", 1: "5-10", 2: "11-17", 3: "28-35", 4: "51-53"}


def _centor(x: dict[str, Any]) -> ScoreResult:
    age = x["age"]
    if age < 3:
        raise InputError("The Centor/McIsaac score applies from age 3 years: age is below that.")
    c = {
        "temperature > 38 C": _pts(x["fever"]),
        "absence of cough": _pts(not x["cough"]),
        "swollen, tender anterior cervical nodes": _pts(x["tender_anterior_nodes"]),
        "tonsillar swelling or exudate": _pts(x["tonsillar_exudate"]),
    }
    centor = int(sum(c.values()))
    c["age 3-14 (+1) / 15-44 (0) / >= 45 (-1)"] = 1 if age < 15 else (0 if age < 45 else -1)
    total = int(sum(c.values()))
    if total <= 1:
        band = "no culture or antibiotic recommended by the source"
    elif total <= 3:
        band = "culture (or rapid antigen test) all; treat only if positive"
    else:
        band = "culture all; treat with penicillin on clinical grounds if high fever or clinically unwell"
    strep = _MCISAAC_STREP[min(max(total, 0), 4)]
    text = f"Centor {centor}/4; McIsaac {total}: {band}; streptococcal infection in the source cohort: {strep}%."
    return ScoreResult("centor", "McIsaac (modified Centor)", total, 5, "", c, text, x, MCISAAC_REF,
                       extra={"centor": centor})


# ---------------------------------------------------------------- Pooled Cohort Equations (Goff et al. 2013)
PCE_REF = Reference("Goff DC Jr, Lloyd-Jones DM, Bennett G, et al. 2013 ACC/AHA guideline on the assessment of "
                    "cardiovascular risk. Circulation 2014;129(25 Suppl 2):S49-S73 (Pooled Cohort Equations, "
                    "Table A).", 2013, doi="10.1161/01.cir.0000437741.48606.98")


@dataclass(frozen=True)
class _PceCoefficients:
    ln_age: float
    ln_age_sq: float
    ln_tc: float
    ln_age_ln_tc: float
    ln_hdl: float
    ln_age_ln_hdl: float
    ln_treated_sbp: float
    ln_age_ln_treated_sbp: float
    ln_untreated_sbp: float
    ln_age_ln_untreated_sbp: float
    smoker: float
    ln_age_smoker: float
    diabetes: float
    baseline_survival: float
    mean: float


# Goff et al. 2013, Appendix Table A ("Equation parameters of the Pooled Cohort Equations").
PCE_COEFFICIENTS: dict[tuple[str, str], _PceCoefficients] = {
    ("female", "white"): _PceCoefficients(-29.799, 4.884, 13.540, -3.114, -13.578, 3.149, 2.019, 0.0, 1.957, 0.0,
                                          7.574, -1.665, 0.661, 0.9665, -29.18),
    ("female", "african_american"): _PceCoefficients(17.114, 0.0, 0.940, 0.0, -18.920, 4.475, 29.291, -6.432,
                                                     27.820, -6.087, 0.691, 0.0, 0.874, 0.9533, 86.61),
    ("male", "white"): _PceCoefficients(12.344, 0.0, 11.853, -2.664, -7.990, 1.769, 1.797, 0.0, 1.764, 0.0,
                                        7.837, -1.795, 0.658, 0.9144, 61.18),
    ("male", "african_american"): _PceCoefficients(2.469, 0.0, 0.302, 0.0, -0.307, 0.0, 1.916, 0.0, 1.809, 0.0,
                                                   0.549, 0.0, 0.645, 0.8954, 19.54),
}


def pce_individual_sum(sex: str, race: str, age: float, total_cholesterol: float, hdl: float, sbp: float,
                       treated: bool, smoker: bool, diabetes: bool) -> float:
    """The 'individual sum' (sum of coefficient x value) of the Pooled Cohort Equations."""
    k = PCE_COEFFICIENTS[(sex, race)]
    la, ltc, lhdl, lsbp = math.log(age), math.log(total_cholesterol), math.log(hdl), math.log(sbp)
    s = k.ln_age * la + k.ln_age_sq * la * la + k.ln_tc * ltc + k.ln_age_ln_tc * la * ltc
    s += k.ln_hdl * lhdl + k.ln_age_ln_hdl * la * lhdl
    if treated:
        s += k.ln_treated_sbp * lsbp + k.ln_age_ln_treated_sbp * la * lsbp
    else:
        s += k.ln_untreated_sbp * lsbp + k.ln_age_ln_untreated_sbp * la * lsbp
    if smoker:
        s += k.smoker + k.ln_age_smoker * la
    return s + (k.diabetes if diabetes else 0.0)


def _pce(x: dict[str, Any]) -> ScoreResult:
    age, race = x["age"], x["race"]
    if not 40 <= age <= 79:
        raise InputError("The Pooled Cohort Equations apply to ages 40-79 years only: age is outside that range.")
    if x["sex"] not in ("female", "male"):
        raise InputError("The Pooled Cohort Equations need sex 'female' or 'male' (sex-specific equations).")
    # The guideline uses the white equations for other groups (and notes they may misestimate risk).
    group = "african_american" if race == "african_american" else "white"
    s = pce_individual_sum(x["sex"], group, age, x["total_cholesterol_mg_dl"], x["hdl_cholesterol_mg_dl"],
                           x["systolic_bp"], bool(x["bp_treated"]), bool(x["smoker"]), bool(x["diabetes"]))
    k = PCE_COEFFICIENTS[(x["sex"], group)]
    risk = 100.0 * (1.0 - k.baseline_survival ** math.exp(s - k.mean))
    band = ("< 5%: low" if risk < 5 else "5-7.4%: borderline" if risk < 7.5 else
            "7.5-19.9%: intermediate" if risk < 20 else ">= 20%: high")
    text = (f"estimated 10-year risk of a first hard ASCVD event {risk:.1f}% ({band} by the 2018 ACC/AHA bands); "
            "an estimate for populations like the pooled cohorts, not a certainty for this person.")
    note = {"equation": f"{x['sex']}, {group.replace('_', ' ')}", "individual_sum": round(s, 2)}
    if group != race:
        note["note"] = "white-population equations used for this race group, as the guideline advises"
    return ScoreResult("pce", "10-year ASCVD risk (Pooled Cohort Equations)", round(risk, 1), None, "%", {}, text,
                       x, PCE_REF, extra=note)


SCORES: dict[str, Score] = {s.key: s for s in (
    Score("curb65", "CURB-65", {
        "confusion": "new mental confusion, yes/no", "urea_mmol_l": "blood urea in mmol/L",
        "respiratory_rate": "breaths per minute", "systolic_bp": "systolic BP in mmHg",
        "diastolic_bp": "diastolic BP in mmHg", "age": "years"}, _curb65, CURB65_REF),
    Score("cha2ds2vasc", "CHA2DS2-VASc", {
        "age": "years", "sex": "female or male", "heart_failure": "congestive heart failure, yes/no",
        "hypertension": "hypertension, yes/no", "diabetes": "diabetes, yes/no",
        "stroke_tia": "prior stroke, TIA or thromboembolism, yes/no",
        "vascular_disease": "prior MI, peripheral artery disease or aortic plaque, yes/no"}, _cha2ds2vasc,
        CHA2DS2VASC_REF),
    Score("hasbled", "HAS-BLED", {
        "uncontrolled_hypertension": "systolic BP > 160 mmHg, yes/no",
        "abnormal_renal_function": "dialysis, transplant or creatinine >= 200 umol/L, yes/no",
        "abnormal_liver_function": "cirrhosis or bilirubin > 2x / transaminases > 3x normal, yes/no",
        "stroke": "prior stroke, yes/no", "bleeding": "bleeding history or predisposition, yes/no",
        "labile_inr": "labile INR, yes/no", "age": "years",
        "antiplatelet_or_nsaid": "antiplatelet or NSAID use, yes/no",
        "alcohol": ">= 8 alcoholic drinks a week, yes/no"}, _hasbled, HASBLED_REF),
    Score("wells_pe", "Wells score (PE)", {
        "dvt_signs": "clinical signs and symptoms of DVT, yes/no",
        "pe_most_likely": "PE the most likely diagnosis, yes/no", "heart_rate": "beats per minute",
        "immobilisation_or_surgery": "immobilisation >= 3 days or surgery in the previous 4 weeks, yes/no",
        "previous_vte": "previous DVT or PE, yes/no", "haemoptysis": "haemoptysis, yes/no",
        "malignancy": "active malignancy, yes/no"}, _wells_pe, WELLS_REF),
    Score("qsofa", "qSOFA", {
        "respiratory_rate": "breaths per minute", "systolic_bp": "systolic BP in mmHg",
        "altered_mentation": "altered mentation (GCS < 15), yes/no"}, _qsofa, QSOFA_REF),
    Score("centor", "McIsaac (modified Centor)", {
        "age": "years", "fever": "temperature > 38 C, yes/no", "cough": "cough present, yes/no",
        "tender_anterior_nodes": "swollen tender anterior cervical nodes, yes/no",
        "tonsillar_exudate": "tonsillar swelling or exudate, yes/no"}, _centor, MCISAAC_REF),
    Score("pce", "10-year ASCVD risk (Pooled Cohort Equations)", {
        "age": "years, 40-79", "sex": "female or male",
        "race": "white, african_american or other (other uses the white equations)",
        "total_cholesterol_mg_dl": "total cholesterol in mg/dL", "hdl_cholesterol_mg_dl": "HDL cholesterol in mg/dL",
        "systolic_bp": "systolic BP in mmHg", "bp_treated": "on antihypertensive treatment, yes/no",
        "smoker": "current smoker, yes/no", "diabetes": "diabetes, yes/no"}, _pce, PCE_REF),
)}


def compute_score(key: str, inputs: Mapping[str, Any]) -> ScoreResult:
    """Compute score `key` from `inputs` (canonical units); None or absent means unknown.

    Raises:
        InputError: unknown score, or an input out of the score's range.
        MissingInputsError: some inputs are unknown (all of them are named).
    """
    score = SCORES.get(key)
    if score is None:
        raise InputError(f"Unknown score {key!r}: use one of {', '.join(SCORES)}.")
    missing = [name for name in score.inputs if inputs.get(name) is None]
    if missing:
        raise MissingInputsError(score.name, missing, score.inputs)
    return score.compute({name: inputs[name] for name in score.inputs})
