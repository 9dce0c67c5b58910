"""The real knowledge graph built from the packaged sources (slow: about 40 s to build)."""

from __future__ import annotations

import pytest

from assistant.clinical.kg_tools import LookupTool
from assistant.types import Turn
from knowledge import KnowledgeGraph, build_graph, open_graph

pytestmark = pytest.mark.slow

# Known HPO disease profiles: the disease, and phenotypes a clinician would report.
MARFAN_FEATURES = ["HP:0001166", "HP:0001083", "HP:0002616", "HP:0000098", "HP:0000767"]
PROFILE_DISEASES = ["OMIM:154700", "OMIM:219700", "OMIM:162200", "OMIM:191100", "OMIM:143100"]


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeGraph:
    path = tmp_path_factory.mktemp("kg") / "kg.sqlite3"
    stats = build_graph(path)
    assert stats["hpo_terms"] > 15_000 and stats["diseases"] > 12_000
    assert stats["disease_phenotype_rows"] > 250_000 and stats["icd10cm_codes"] > 98_000
    assert stats["complaints"] == 14
    return open_graph(path)


@pytest.mark.parametrize("disease", PROFILE_DISEASES)
def test_disease_profile_ranks_its_disease_first(kg: KnowledgeGraph, disease: str) -> None:
    terms = [p["id"] for p in kg.lookup(disease, limit=5)["related"]["phenotypes"]]
    assert len(terms) == 5
    ranked = kg.differential(terms, limit=10)
    assert ranked[0].score == next(m.score for m in ranked if m.id == disease)  # top score (ties allowed)
    # Imprecise profile: each finding replaced by its parent term still finds the disease.
    parents = [kg.lookup(t)["parents"][0]["id"] for t in terms]
    assert disease in [m.id for m in kg.differential(parents, limit=10)]


def test_clinical_marfan_features(kg: KnowledgeGraph) -> None:
    ranked = kg.differential(MARFAN_FEATURES, limit=10)
    ids = [m.id for m in ranked]
    assert "OMIM:154700" in ids and "ORPHA:558" in ids
    marfan = ranked[ids.index("OMIM:154700")]
    assert {s["query"] for s in marfan.supporting} == set(MARFAN_FEATURES)


def test_icd_drug_and_complaint_nodes(kg: KnowledgeGraph) -> None:
    j189 = kg.lookup("J18.9")
    assert j189["name"] == "Pneumonia, unspecified organism" and j189["parents"][0]["id"] == "ICD10CM:J18"
    assert kg.lookup("j189")["id"] == "ICD10CM:J18.9"
    assert kg.lookup("eliquis")["id"] == "DRUG:apixaban"
    tool = LookupTool(kg)
    inputs = tool.select(Turn("What is the ICD code for pneumonia?"))
    assert inputs == {"terms": ["pneumonia"], "prefer": "icd10cm"}
    assert tool(**inputs).data["entries"][0]["id"].startswith("ICD10CM:J")
    fever = kg.lookup("COMPLAINT:fever")
    assert any(d["likelihood"] == "must_not_miss" for d in fever["related"]["diagnoses"])
    linked = {e.id for e in kg.link("On apixaban; chest pain, dyspnea and fever. J18.9?")}
    assert {"DRUG:apixaban", "HP:0100749", "HP:0002094", "HP:0001945", "ICD10CM:J18.9"} <= linked
