"""Measure PHI redaction recall on deidgate's notes and presidio-evaluator template identities.

An identifier counts as caught when every one of its non-space characters falls inside a span
that `phi.find_phi` redacts. deidgate gives 15 synthetic notes with labelled spans. For presidio,
we fill its `templates.txt` sentences with identities from its `FakeNameGenerator.com_3000.csv`
(seeded; we do this ourselves because `presidio-evaluator`'s generator needs Faker and spaCy). Its
credit-card column is spoiled by spreadsheet rounding and many rows have no national ID, so card
numbers, SSNs, IBANs, IPs and dates-times are drawn from small generators written here (said in
the output as `generated_by_us`). Identities come from 30+ countries, so phone and postcode formats
are often non-US: a fair but hard test for US-centred rules.
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from typing import Any

from assistant.safety import datasets
from assistant.safety.phi import find_phi

STRUCTURED = {"email", "phone", "ssn", "mrn", "date", "url", "ip", "device", "account", "credit_card", "iban",
              "drivers_license", "health_plan", "license", "fax", "vehicle", "certificate"}
NAMES = {"name", "person"}
GENERATED = ["credit_card", "ssn", "iban", "ip", "date_time"]


def caught(text: str, value: str, spans: list[tuple[int, int, str]]) -> bool:
    """True when every non-space character of each occurrence of `value` is inside a redacted span."""
    starts = [m.start() for m in re.finditer(re.escape(value), text)]
    if not starts:
        return False
    covered = set()
    for start, end, _ in spans:
        covered.update(range(start, end))
    return all(all(i in covered for i in range(s, s + len(value)) if not text[i].isspace()) for s in starts)


def _summary(hits: dict[str, list[bool]]) -> dict[str, Any]:
    per = {k: {"n": len(v), "recall": round(sum(v) / len(v), 4)} for k, v in sorted(hits.items())}
    def pooled(keys: set[str]) -> dict[str, Any]:
        values = [x for k, v in hits.items() if k in keys for x in v]
        return {"n": len(values), "recall": round(sum(values) / len(values), 4) if values else None}
    others = set(hits) - STRUCTURED - NAMES
    return {"structured": pooled(STRUCTURED), "names": pooled(NAMES), "other": pooled(others), "by_category": per}


def evaluate_deidgate() -> dict[str, Any]:
    """Recall per PHI category on deidgate's 15 labelled notes."""
    hits: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for note in datasets.deidgate_notes():
        spans = find_phi(note["text"])
        for phi in note["phi"]:
            ok = caught(note["text"], phi["value"], spans)
            hits[phi["category"]].append(ok)
            if not ok:
                misses.append({"note": note["id"], "category": phi["category"]})
    return _summary(hits) | {"notes": len(datasets.deidgate_notes()), "missed": misses}


def _generated(kind: str, rng: random.Random) -> str:
    if kind == "credit_card":
        return " ".join(f"{rng.randint(0, 9999):04d}" for _ in range(4))
    if kind == "ssn":
        return f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
    if kind == "iban":
        return f"DE{rng.randint(10, 99)}{rng.randint(10**17, 10**18 - 1)}"
    if kind == "ip":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1950, 2025)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"


def _identity_values(person: dict[str, str], rng: random.Random) -> dict[str, tuple[str, str]]:
    """placeholder -> (value, category); category None means 'not PHI, not scored'."""
    first, last = person["GivenName"], person["Surname"]
    number = re.match(r"\d+", person["StreetAddress"])
    street = person["StreetAddress"][number.end():].strip() if number else person["StreetAddress"]
    address = f"{person['StreetAddress']}, {person['City']}, {person['State']} {person['ZipCode']}"
    values = {
        "person": (f"{first} {last}", "person"), "name": (f"{first} {last}", "person"),
        "name_female": (f"{first} {last}", "person"), "name_male": (f"{first} {last}", "person"),
        "first_name": (first, "person"), "first_name_male": (first, "person"), "first_name_female": (first, "person"),
        "first_name_nonbinary": (first, "person"), "last_name": (last, "person"), "last_name_male": (last, "person"),
        "last_name_female": (last, "person"), "address": (address, "address"), "street_name": (street, "address"),
        "building_number": (number.group() if number else "12", "address"), "secondary_address": (f"Apt. {rng.randint(1, 999)}", "address"),
        "city": (person["City"], "city"), "zipcode": (person["ZipCode"], "zip"), "postcode": (person["ZipCode"], "zip"),
        "phone_number": (person["TelephoneNumber"], "phone"), "email": (person["EmailAddress"], "email"),
        "url": (f"https://www.{person['Domain']}", "url"), "date_of_birth": (person["Birthday"], "date"),
        "credit_card_number": (_generated("credit_card", rng), "credit_card"), "ssn": (_generated("ssn", rng), "ssn"),
        "iban": (_generated("iban", rng), "iban"), "ip_address": (_generated("ip", rng), "ip"),
        "date_time": (_generated("date_time", rng), "date"),
        "age": (person["Age"], "age_over_89" if int(person["Age"] or 0) > 89 else None),
        "us_driver_license": (f"{rng.choice('ABCDEFGHJKLMNPRSTWY')}{rng.randint(1000000, 9999999)}", "drivers_license"),
    }
    return values


def evaluate_presidio(samples: int = 500, seed: int = 0) -> dict[str, Any]:
    """Recall per entity type on `samples` sentences from presidio-evaluator templates."""
    raw = datasets.presidio_raw()
    if raw is None:
        return {"available": False}
    rng = random.Random(seed)
    # The templates spell line breaks as a literal backslash-n; presidio turns them into newlines too.
    templates = [t.strip().replace("\\n", "\n") for t in (raw / "templates.txt").read_text(encoding="utf-8", errors="replace").splitlines()
                 if "{{" in t]
    with open(raw / "FakeNameGenerator.com_3000.csv", encoding="utf-8-sig") as fh:
        people = list(csv.DictReader(fh))
    hits: dict[str, list[bool]] = defaultdict(list)
    for _ in range(samples):
        template, person = rng.choice(templates), rng.choice(people)
        values = _identity_values(person, rng)
        pieces, scored = [], []
        for part in re.split(r"(\{\{\w+\}\})", template):
            key = part[2:-2] if part.startswith("{{") else None
            if key and key in values:
                value, category = values[key]
                pieces.append(value)
                if category:
                    scored.append((value, category))
            elif key:
                pieces.append({"prefix": "Mr.", "prefix_male": "Mr.", "prefix_female": "Ms.", "year": "2019",
                               "day_of_week": "Monday"}.get(key, key.replace("_", " ")))
            else:
                pieces.append(part)
        text = "".join(pieces)
        spans = find_phi(text)
        for value, category in scored:
            hits[category].append(caught(text, value, spans))
    return _summary(hits) | {"available": True, "sentences": samples, "seed": seed, "generated_by_us": GENERATED}


def evaluate(samples: int = 500, seed: int = 0) -> dict[str, Any]:
    """Both PHI evaluations."""
    return {"deidgate": evaluate_deidgate(), "presidio": evaluate_presidio(samples, seed)}
