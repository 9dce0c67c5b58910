"""Drug names and synonyms from drug-named-entity-recognition (MIT; 20,070 drugs, 107k names).

Its bundled dictionary is a bz2-compressed pickle of plain dicts, lists and strings. We never
import that package (importing it unpickles with `pickle.load`); we read the file with an
Unpickler whose `find_class` refuses every global, the restriction the Python documentation
gives for untrusted pickles: only builtin containers and scalars can be built, no code runs.
A file that needs any class fails to load instead.
"""

from __future__ import annotations

import bz2
import io
import pickle
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DICTIONARY = "drug_ner_dictionary.pkl.bz2"


class _PlainDataUnpickler(pickle.Unpickler):
    """Loads builtin data only: any global (class, function) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing global {module}.{name}: the drug dictionary must be plain data")


def load_dictionary(folder: Path) -> dict[str, Any]:
    """The package's dictionary as plain dicts.

    Raises:
        FileNotFoundError: the dictionary file is missing.
        pickle.UnpicklingError: the file holds anything but plain data.
    """
    raw = bz2.decompress((folder / DICTIONARY).read_bytes())
    data = _PlainDataUnpickler(io.BytesIO(raw)).load()
    if not isinstance(data, dict) or "drug_canonical_to_data" not in data:
        raise pickle.UnpicklingError("unexpected drug dictionary layout")
    return data


def read_drug_names(folder: Path) -> Iterator[dict[str, Any]]:
    """One record per canonical drug: id, name, synonyms (brand and generic variants), definition."""
    data = load_dictionary(folder)
    variants: dict[str, list[str]] = defaultdict(list)
    for variant, canonicals in data.get("drug_variant_to_canonical", {}).items():
        for canonical in canonicals:
            variants[canonical].append(variant)
    for canonical, info in data["drug_canonical_to_data"].items():
        ids = [f"DrugBank {info['drugbank_id']}" if info.get("drugbank_id") else "",
               f"MedlinePlus {info['medline_plus_id']}" if info.get("medline_plus_id") else ""]
        yield {"id": f"DRUG:{canonical.replace(' ', '_')}", "name": info.get("name") or canonical,
               "synonyms": sorted(set(variants.get(canonical, [])) - {canonical}),
               "definition": "; ".join(i for i in ids if i)}
