"""Patient files for the CLI (`medassist ask/chat --patient FILE`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from assistant.clinical.fhir import load_patient_file
from assistant.clinical.patient import PatientContext
from assistant.errors import InputError


def load_patient_for_cli(path: str | Path) -> dict[str, Any]:
    """Read a patient file; warn on stderr (without stopping) when its values do not validate.

    An invalid value (a heart rate of 900) is not fatal here: the `patient` tool reports it in the
    turn, naming the field, and the turn still completes.

    Raises:
        InputError: the file cannot be read or is not a patient record.
    """
    data = load_patient_file(path)
    try:
        PatientContext.from_dict(data)
    except InputError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    return data
