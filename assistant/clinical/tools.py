"""Assistant tools for patient context and risk scores.

- `patient`: shows the validated patient context to the model as data (doctor mode, whenever a
  turn carries `context["patient"]`); an invalid context is reported as a tool error naming each
  field, and the turn goes on.
- `risk_score`: computes the scores a message asks for (by name, or by intent in doctor mode)
  with inputs read deterministically from the text and the patient context; the model only
  explains the numbers. Each result is cited like literature: a `Citation` whose source is the
  score's publication, with its DOI link, numbered with the retrieved snippets.
"""

from __future__ import annotations

from typing import Any

from assistant.clinical.extract import extract, requested_scores
from assistant.clinical.patient import PatientContext, patient_from_turn_context
from assistant.clinical.scores import SCORES, MissingInputsError, ScoreResult, compute_score
from assistant.config import Settings
from assistant.errors import InputError
from assistant.tools import Tool, ToolOutput
from assistant.types import Citation, Turn


class PatientContextTool(Tool):
    """Validates the turn's patient context and gives it to the model as quoted data."""

    name = "patient"
    description = "The structured patient context (age, sex, pregnancy, conditions, medications, vitals, labs)."
    inputs = {"patient": {"type": "object", "description": "patient context in MedAssist JSON shape"}}
    stage = "clinical"

    def select(self, turn: Turn) -> dict[str, Any] | None:
        raw = turn.context.get("patient")
        if raw is None or turn.role != "doctor":
            return None
        return {"patient": raw.to_dict() if isinstance(raw, PatientContext) else raw}

    def forward(self, patient: dict[str, Any]) -> ToolOutput:
        ctx = PatientContext.from_dict(patient)
        return ToolOutput(data={"patient": ctx.to_dict()}, context=ctx.summary())


class RiskScoreTool(Tool):
    """Deterministic clinical risk scores (CURB-65, CHA2DS2-VASc, HAS-BLED, Wells PE, qSOFA,
    McIsaac/Centor, Pooled Cohort Equations)."""

    name = "risk_score"
    description = ("Compute validated clinical risk scores from stated findings: "
                   + ", ".join(s.name for s in SCORES.values()) + ".")
    inputs = {
        "scores": {"type": "array", "description": f"score keys, from: {', '.join(SCORES)}"},
        "inputs": {"type": "object", "description": "score inputs in canonical units (unknown: omit)"},
    }
    stage = "clinical"
    model_callable = True

    def select(self, turn: Turn) -> dict[str, Any] | None:
        keys = requested_scores(turn.text, turn.role)
        return _read_inputs(turn, keys) if keys else None

    def from_model(self, turn: Turn, arguments: dict[str, Any]) -> dict[str, Any]:
        """The model picks the scores; values are read from the text and patient context as always.

        A value the model gives that the text rules did not find is used too, but listed in
        `model_filled` and flagged in the result, so the clinician can check it.
        """
        names = arguments.get("scores")
        names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
        keys = [k for n in map(str, names) for k in ([n] if n in SCORES else requested_scores(n, "doctor"))]
        if not keys:
            raise InputError(f"The model asked for unknown score(s) {names!r}: use one of {', '.join(SCORES)}.")
        call = _read_inputs(turn, list(dict.fromkeys(keys)))
        wanted = {name for k in call["scores"] for name in SCORES[k].inputs}
        given = arguments.get("inputs") if isinstance(arguments.get("inputs"), dict) else {}
        filled = {k: v for k, v in given.items() if k in wanted and k not in call["inputs"] and v is not None}
        if filled:
            call["inputs"] = call["inputs"] | filled
            call["model_filled"] = sorted(filled)
        return call

    def forward(self, scores: list[str], inputs: dict[str, Any], problems: list[str] | None = None,
                model_filled: list[str] | None = None) -> ToolOutput:
        results: list[ScoreResult] = []
        errors: list[str] = []
        for key in scores:
            if key not in SCORES:
                raise InputError(f"Unknown score {key!r}: use one of {', '.join(SCORES)}.")
            try:
                results.append(compute_score(key, inputs))
            except MissingInputsError as exc:
                errors.append(str(exc) + (f" Also: {'; '.join(problems)}." if problems else ""))
            except InputError as exc:
                errors.append(str(exc))
        if not results:
            raise InputError(" ".join(errors))
        output = _output(results, errors)
        if model_filled:
            output.data["model_filled"] = model_filled
            output.context += ("\nInputs supplied by the model's reading of the message, not found by the text rules "
                               f"(check them): {', '.join(model_filled)}.")
        return output


def _read_inputs(turn: Turn, keys: list[str]) -> dict[str, Any]:
    """The inputs of `keys`, read deterministically from the message and the patient context."""
    try:
        patient = patient_from_turn_context(turn.context)
    except InputError:
        patient = None  # the patient tool reports why; scores then use the message only
    ex = extract(turn.text, patient)
    wanted = {name for k in keys for name in SCORES[k].inputs}
    values = {k: v for k, v in ex.values.items() if k in wanted}
    return {"scores": keys, "inputs": values} | ({"problems": ex.problems} if ex.problems else {})


def citation_for(result: ScoreResult) -> Citation:
    """The score's source publication as a citable snippet holding the computed result."""
    ref = result.reference
    return Citation(id=f"score:{result.key}", title=f"{result.name} (computed by the risk_score tool)",
                    source=ref.text, score=1.0, text=result.summary(), url=ref.url, year=ref.year)


def _output(results: list[ScoreResult], errors: list[str]) -> ToolOutput:
    lines = [f"{r.summary()} (computed by the tool from the stated values [[cite:score:{r.key}]])"
             for r in results] + errors
    data = {
        "results": [{
            "score": r.key, "name": r.name, "value": r.value, "max": r.max_value, "unit": r.unit,
            "components": r.components, "interpretation": r.interpretation, "inputs": r.inputs,
            "reference": {"text": r.reference.text, "url": r.reference.url}, **r.extra,
        } for r in results],
        "errors": errors,
    }
    return ToolOutput(data=data, context="\n".join(lines), citations=[citation_for(r) for r in results])


def build_patient_tool(settings: Settings) -> Tool:
    """Builder for `assistant.factory.TOOL_BUILDERS`."""
    return PatientContextTool()


def build_score_tool(settings: Settings) -> Tool:
    """Builder for `assistant.factory.TOOL_BUILDERS`."""
    return RiskScoreTool()
