"""A tiny knowledge graph built from hand-written HPO-format files (no packaged data needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import KnowledgeGraph, Sources, build_graph, open_graph

TERMS = [
    ("HP:0000001", "All", [], []),
    ("HP:0000118", "Phenotypic abnormality", ["HP:0000001"], []),
    ("HP:0000707", "Abnormality of the nervous system", ["HP:0000118"], []),
    ("HP:0001250", "Seizure", ["HP:0000707"], ["Epileptic seizure", "Seizures"]),
    ("HP:0002069", "Bilateral tonic-clonic seizure", ["HP:0001250"], ["Grand mal seizure"]),
    ("HP:0001249", "Intellectual disability", ["HP:0000707"], ["Mental retardation"]),
    ("HP:0000478", "Abnormality of the eye", ["HP:0000118"], []),
    ("HP:0000518", "Cataract", ["HP:0000478"], ["Clouding of the lens"]),
    ("HP:0001083", "Ectopia lentis", ["HP:0000478"], ["Dislocated lens"]),
    ("HP:0001945", "Fever", ["HP:0000118"], ["Pyrexia"]),
]
DISEASES = {
    ("OMIM:100001", "Disease A"): ["HP:0002069", "HP:0001249"],
    ("OMIM:100002", "Disease B"): ["HP:0000518", "HP:0001083"],
    ("OMIM:100003", "Disease C"): ["HP:0001250", "HP:0000518"],
    ("ORPHA:4", "Disease D"): ["HP:0001945"],
}
COMPLAINT = {
    "differential_id": "fever", "title": "Fever Differential", "description": "Fever in adults.",
    "keywords": ["fever", "pyrexia"], "source_doi": "10.1000/test",
    "diagnoses": [
        {"name": "Sepsis / Septic Shock", "likelihood": "must_not_miss", "key_features": ["Hypotension"],
         "red_flags": ["Lactate >2 mmol/L"], "recommended_tests": ["Blood cultures", "calculate_qsofa"]},
        {"name": "Viral Upper Respiratory Infection", "likelihood": "common", "key_features": ["Coryza"],
         "red_flags": [], "recommended_tests": []},
    ],
}


def write_sources(folder: Path) -> Sources:
    hpo = folder / "hpo"
    hpo.mkdir(parents=True)
    lines = ["format-version: 1.2", "ontology: hp", ""]
    for term_id, name, parents, synonyms in TERMS:
        lines += ["[Term]", f"id: {term_id}", f"name: {name}", f'def: "Definition of {name}." [test]']
        lines += [f'synonym: "{s}" EXACT []' for s in synonyms]
        lines += [f"is_a: {p} ! parent" for p in parents] + [""]
    (hpo / "hp.obo").write_text("\n".join(lines), encoding="utf-8")
    header = ("database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier"
              "\taspect\tbiocuration")
    rows = ["#description: test", header]
    for (disease, name), terms in DISEASES.items():
        rows += [f"{disease}\t{name}\t\t{t}\tPMID:1\tPCS\t\t\t\t\tP\tHPO:test" for t in terms]
    rows.append("OMIM:100001\tDisease A\tNOT\tHP:0001945\tPMID:1\tPCS\t\t\t\t\tP\tHPO:test")  # negated: skipped
    rows.append("OMIM:100001\tDisease A\t\tHP:0000001\tPMID:1\tPCS\t\t\t\t\tI\tHPO:test")  # inheritance: skipped
    (hpo / "phenotype.hpoa").write_text("\n".join(rows) + "\n", encoding="utf-8")
    diff = folder / "differentials"
    diff.mkdir()
    (diff / "fever.json").write_text(json.dumps(COMPLAINT), encoding="utf-8")
    return Sources(hpo_dir=hpo, icd10cm=False, differentials_dir=diff, drugs_dir=None)


@pytest.fixture(scope="session")
def tiny_kg(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeGraph:
    folder = tmp_path_factory.mktemp("tinykg")
    build_graph(folder / "kg.sqlite3", write_sources(folder))
    return open_graph(folder / "kg.sqlite3")
