"""PHI redaction: a table of identifiers, DICOM tags, and recall on the packaged labelled sets."""

from __future__ import annotations

import pytest

from assistant.safety import datasets
from assistant.safety.phi import find_phi, redact, redact_dicom
from assistant.safety.phi_eval import evaluate_deidgate, evaluate_presidio


@pytest.mark.parametrize("text,secret,kind", [
    ("Call me on (559) 555-0142 tomorrow", "555-0142", "PHONE"),
    ("Phone +44 20 7946 0958 please", "7946 0958", "PHONE"),
    ("Email m.ferndale@zephyrmail.example now", "zephyrmail", "EMAIL"),
    ("SSN 402-19-8877 on file", "402-19-8877", "SSN"),
    ("Seen on 03/14/2024 in clinic", "03/14/2024", "DATE"),
    ("Admitted March 3rd, 2021", "March 3rd", "DATE"),
    ("MRN 5583920 was updated", "5583920", "ID"),
    ("Lives at 4417 Old Kettle Rd, Fresno, CA 93726", "Old Kettle", "ADDRESS"),
    ("A 94-year-old woman with AF", "94-year-old", "AGE"),
    ("Patient Marisol Ferndale was seen", "Marisol", "NAME"),
    ("Mrs. Jane Smith called", "Jane Smith", "NAME"),
    ("PatientName: DOE^JOHN", "DOE^JOHN", "NAME"),
    ("Visit https://portal.example.org/u/123 from 10.34.201.7", "10.34.201.7", "IP"),
    ("My zip code is 4530", "4530", "ZIP"),
    ("Postcode: SW1A 1AA", "SW1A 1AA", "ZIP"),
    ("User: Hendrik Casimirstraat 46, Eindhoven, NB 5616 BJ", "5616 BJ", "ZIP"),
    ("Bedricha Smetany 258, Velehrad, ZL 687 06", "687 06", "ZIP"),
    ("12 Hollander Strasse 19, Guckheim", "Hollander", "ADDRESS"),
])
def test_identifier_is_redacted(text: str, secret: str, kind: str) -> None:
    out = redact(text)
    assert secret not in out
    assert any(k == kind for _, _, k in find_phi(text)), find_phi(text)


@pytest.mark.parametrize("text", [
    "Take 500 mg twice a day for 5 days",
    "BP 120/80 and HbA1c 7.5%",
    "Chest pain with shortness of breath for 2 hours",
    "A 56-year-old man with diabetes",
    "Vital signs: T 101.3 F, HR 98, RR 20, BP 130/82, O2 sat 96%",
    "Is the number 112 in Canada, 112 or 911?",
])
def test_clinical_numbers_are_kept(text: str) -> None:
    assert redact(text) == text


def test_town_and_postcode_lines_of_an_address_block() -> None:
    letter = "Billing address:\n  12 Bahnhofplatz 20 Apt. 755\n  Altikon\n  ZH\n  8479\n\nPlease call me about my results today."
    out = redact(letter)
    assert "Altikon" not in out and "8479" not in out and "Bahnhofplatz" not in out
    assert out.endswith("Please call me about my results today.")  # prose after the block is kept
    assert redact("Apt. 4\nPain 8 out of 10 since Monday and a fever of 39.").endswith(
        "Pain 8 out of 10 since Monday and a fever of 39.")


def test_redact_dicom_blanks_patient_tags() -> None:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.Modality = "DOE^JANE", "12345", "19500101", "CR"
    redact_dicom(ds)
    assert str(ds.PatientName) == "" and ds.PatientID == "" and ds.PatientBirthDate == "" and ds.Modality == "CR"


@pytest.mark.skipif(not datasets.deidgate_notes(), reason="deidgate is not installed")
def test_deidgate_structured_identifier_recall() -> None:
    result = evaluate_deidgate()
    assert result["notes"] == 15
    assert result["structured"]["recall"] >= 0.99


@pytest.mark.skipif(datasets.presidio_raw() is None, reason="presidio-evaluator is not installed")
def test_presidio_template_recall_does_not_regress() -> None:
    result = evaluate_presidio(samples=300, seed=1)
    # Regression floors a little under the measured figures in docs/safety.md (not the targets).
    assert result["structured"]["recall"] >= 0.8
    assert result["names"]["recall"] >= (0.65 if _ner_installed() else 0.45)  # measured 0.72-0.74 / 0.52-0.56
    assert result["by_category"]["zip"]["recall"] >= 0.8  # measured 0.90-0.96 (0.35-0.40 before the postcode rules)


def _ner_installed() -> bool:
    from assistant.safety import phi

    return phi._ner() is not None


@pytest.mark.skipif(not _ner_installed(), reason="no spaCy English model installed")
def test_named_entity_layer_adds_names_the_rules_miss() -> None:
    text = "I think Gregory needs his inhaler refilled."
    assert find_phi(text, ner=False) == []
    assert "Gregory" not in redact(text)


@pytest.mark.skipif(not _ner_installed(), reason="no spaCy English model installed")
@pytest.mark.parametrize("text", [
    "Parkinson's disease and Crohn's disease are both long-term conditions.",
    "Call 911 in the US and Canada.",
    "¿Puedo tomar ibuprofeno con las comidas?",  # the English model is not run on other languages
])
def test_eponyms_countries_and_other_languages_are_kept(text: str) -> None:
    assert redact(text) == text


def test_rules_alone_when_the_model_is_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.safety import phi

    monkeypatch.setenv("MEDASSIST_PHI_NER", "0")
    phi._ner.cache_clear()
    try:
        assert phi._ner() is None
        assert redact("I think Gregory needs his inhaler refilled.") == "I think Gregory needs his inhaler refilled."
        assert "Jane Smith" not in redact("Mrs. Jane Smith called")  # the rules still run
    finally:
        phi._ner.cache_clear()
