"""Knowledge graph: build, lookup, linking, Phenomizer differential (tiny graph), and the tools."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from assistant.clinical.kg_tools import DifferentialTool, EntityLinkTool, LookupTool
from assistant.engine import Assistant
from assistant.errors import InputError
from assistant.llm.fake import FakeLLM
from assistant.types import Turn
from knowledge import KnowledgeGraph, build_graph, open_graph
from tests.clinical.conftest import write_sources
from tests.conftest import FakeRetrieval


def test_build_statistics_and_information_content(tiny_kg: KnowledgeGraph) -> None:
    meta = tiny_kg.meta()
    assert meta["hpo_terms"] == 10 and meta["diseases"] == 4 and meta["disease_phenotype_rows"] == 7
    ic = {t: tiny_kg._ic_and_ancestors(t)[0] for t in ("HP:0001250", "HP:0002069", "HP:0000118")}
    assert ic["HP:0002069"] == pytest.approx(math.log(4))  # 1 of 4 diseases
    assert ic["HP:0001250"] == pytest.approx(math.log(2))  # A (via its child) and C
    assert ic["HP:0000118"] == pytest.approx(0.0)  # every disease


def test_lookup_by_code_name_and_synonym(tiny_kg: KnowledgeGraph) -> None:
    seizure = tiny_kg.lookup("HP:0001250")
    assert seizure["name"] == "Seizure" and seizure["definition"] == "Definition of Seizure."
    assert "Epileptic seizure" in seizure["synonyms"]
    assert [p["id"] for p in seizure["parents"]] == ["HP:0000707"]
    assert [c["id"] for c in seizure["children"]] == ["HP:0002069"]
    assert {d["id"] for d in seizure["related"]["diseases"]} == {"OMIM:100003"}
    assert tiny_kg.lookup("grand mal seizure")["id"] == "HP:0002069"
    disease = tiny_kg.lookup("OMIM:100001")
    assert [p["id"] for p in disease["related"]["phenotypes"]][0] == "HP:0002069"  # most informative first
    assert tiny_kg.lookup("HP:9999999") is None


def test_complaint_differential_nodes(tiny_kg: KnowledgeGraph) -> None:
    node = tiny_kg.lookup("COMPLAINT:fever")
    assert [d["name"] for d in node["related"]["diagnoses"]][0] == "Sepsis / Septic Shock"
    sepsis = tiny_kg.lookup("DX:sepsis_septic_shock")
    assert sepsis["related"]["red_flags"] == ["Lactate >2 mmol/L"]
    assert "Blood cultures" in sepsis["related"]["tests"]
    assert tiny_kg.lookup("septic shock")["id"] == "DX:sepsis_septic_shock"


def test_entity_linking_longest_match_and_codes(tiny_kg: KnowledgeGraph) -> None:
    text = "Child with a grand mal seizure, mental retardation, no fever; see HP:0000518 and OMIM:100002."
    found = [(e.id, e.text) for e in tiny_kg.link(text)]
    assert found == [("HP:0002069", "grand mal seizure"), ("HP:0001249", "mental retardation"),
                     ("HP:0001945", "fever"), ("HP:0000518", "HP:0000518"), ("OMIM:100002", "OMIM:100002")]
    assert [e.id for e in tiny_kg.link("fever", kinds=("complaint",))] == ["COMPLAINT:fever"]
    assert [e.id for e in tiny_kg.link("fever, OMIM:100002", kinds=("phenotype",))] == ["HP:0001945"]
    assert tiny_kg.link("all of this is normal") == []  # stop words are not entities


def test_differential_ranks_known_profile_first_with_support(tiny_kg: KnowledgeGraph) -> None:
    ranked = tiny_kg.differential(["HP:0002069", "HP:0001249"])
    assert ranked[0].id == "OMIM:100001"
    assert ranked[0].score == pytest.approx(math.log(4), abs=1e-3)  # both exact, both IC ln 4
    assert all(s["exact"] for s in ranked[0].supporting)
    second = ranked[1]
    assert second.id == "OMIM:100003"  # shares "Seizure" with the query
    support = second.supporting[0]
    assert support["common_ancestor"] == "HP:0001250" and support["disease_phenotype"] == "HP:0001250"
    assert not support["exact"]
    assert tiny_kg.differential(["HP:0001083"])[0].id == "OMIM:100002"
    with pytest.raises(KeyError):
        tiny_kg.differential(["HP:7777777"])


def test_rebuild_replaces_file_and_schema_is_checked(tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "src")
    db = tmp_path / "kg.sqlite3"
    build_graph(db, sources)
    first = db.stat().st_size
    build_graph(db, sources)
    assert db.stat().st_size == first and not (tmp_path / "kg.building").exists()
    with pytest.raises(FileNotFoundError):
        open_graph(tmp_path / "missing.sqlite3")


def test_differential_tool_selects_and_reports(tiny_kg: KnowledgeGraph) -> None:
    tool = DifferentialTool(tiny_kg)
    turn = Turn("Differential for a child with a grand mal seizure and intellectual disability, and fever?",
                role="doctor")
    inputs = tool.select(turn)
    assert inputs == {"phenotypes": ["HP:0002069", "HP:0001249", "HP:0001945"], "complaints": ["COMPLAINT:fever"]}
    out = tool(**inputs)
    assert out.data["ranked"][0]["id"] == "OMIM:100001"
    assert "Must not miss: Sepsis / Septic Shock" in out.context and "not a diagnosis" in out.context
    assert [c.url for c in out.citations] == ["https://doi.org/10.1000/test", "https://doi.org/10.1093/nar/gkaa1043"]
    assert out.citations[0].id == "kb:COMPLAINT:fever" and "Must not miss" in out.citations[0].text
    assert tool.select(Turn("Differential for seizures?", role="patient")) is None
    assert tool.select(Turn("How are seizures treated?", role="doctor")) is None
    with pytest.raises(InputError, match="HP:123"):
        tool(phenotypes=["HP:123"], complaints=[])
    with pytest.raises(InputError, match="COMPLAINT:nope"):
        tool(phenotypes=[], complaints=["COMPLAINT:nope"])


def test_lookup_tool(tiny_kg: KnowledgeGraph) -> None:
    tool = LookupTool(tiny_kg)
    inputs = tool.select(Turn("What does HP:0001083 mean? Also define cataract."))
    assert inputs == {"terms": ["HP:0001083", "cataract"]}
    out = tool(**inputs)
    assert "Ectopia lentis" in out.context and "Clouding of the lens" in out.context
    assert tool.select(Turn("How is asthma treated?")) is None
    assert tool.select(Turn("Please look up HP:0001083.")) == {"terms": ["HP:0001083"]}  # once, not twice
    with pytest.raises(InputError, match="Unknown term or code 'zzzz'"):
        tool(terms=["zzzz"])
    partial = tool(terms=["cataract", "zzzz"])
    assert partial.data["unknown"] == ["zzzz"] and "Not found: zzzz" in partial.context


def test_entity_tool_adds_data_not_prompt(tiny_kg: KnowledgeGraph) -> None:
    tool = EntityLinkTool(tiny_kg)
    out = tool(**tool.select(Turn("pyrexia and cataract", role="doctor")))
    assert [e["id"] for e in out.data["entities"]] == ["HP:0001945", "HP:0000518"] and out.context == ""


def test_engine_links_snippets_and_connects_them_to_the_message_and_tools(tiny_kg: KnowledgeGraph) -> None:
    tools = [FakeRetrieval(n=2, text="Pyrexia with a dislocated lens"), DifferentialTool(tiny_kg), EntityLinkTool(tiny_kg)]
    result = Assistant(FakeLLM(), tools=tools).ask(
        Turn("Differential for fever and ectopia lentis, and is there a cataract?", role="doctor"))
    assert [c.number for c in result.citations][:2] == [1, 2]
    assert [e["id"] for e in result.citations[0].entities] == ["HP:0001945", "HP:0001083"]
    record = next(r for r in result.tools if r.name == "entities")
    connections = record.output["connections"]
    assert connections["HP:0001945"]["citations"][:2] == [1, 2] and "differential" in connections["HP:0001945"]["tools"]
    assert connections["HP:0001083"]["tools"] == ["differential"]
    assert 1 not in connections["HP:0000518"]["citations"]  # cataract: in the HPO ranking, not the snippets
    assert result.to_json()["citations"][0]["entities"][0] == {"id": "HP:0001945", "name": "Fever", "kind": "phenotype"}
    plain = Assistant(FakeLLM(), tools=[FakeRetrieval(n=1, text="Pyrexia"), EntityLinkTool(tiny_kg)]).ask(
        Turn("fever and cataract", role="doctor"))
    linked = next(r for r in plain.tools if r.name == "entities").output
    assert [e["id"] for e in linked["entities"]] == ["HP:0001945", "HP:0000518"]
    assert linked["connections"] == {"HP:0001945": {"name": "Fever", "citations": [1], "tools": []}}


def test_snippets_are_linked_for_patients_too_without_a_doctor_only_record(tiny_kg: KnowledgeGraph) -> None:
    result = Assistant(FakeLLM(), tools=[FakeRetrieval(n=1, text="Seizures"), EntityLinkTool(tiny_kg)]).ask(
        Turn("What is a fit?"))
    assert [e["id"] for e in result.citations[0].entities] == ["HP:0001250"]
    assert [r.name for r in result.tools] == ["retrieval"]


def test_model_calls_are_kept_to_what_the_message_states(tiny_kg: KnowledgeGraph) -> None:
    tool = DifferentialTool(tiny_kg)
    turn = Turn("pyrexia, a dislocated lens and fever: thoughts?", role="doctor")
    inputs = tool.from_model(turn, {"phenotypes": ["pyrexia", "HP:0001083", "HP:0000518", "made-up sign"],
                                    "complaints": "fever"})
    # cataract (HP:0000518) is a real id the message never mentions: invented by the model, dropped
    assert inputs == {"phenotypes": ["HP:0001945", "HP:0001083"], "complaints": ["COMPLAINT:fever"]}
    with pytest.raises(InputError, match="no finding that the message states"):
        tool.from_model(turn, {"phenotypes": ["HP:0000518"]})
    lookup = LookupTool(tiny_kg)
    assert lookup.from_model(Turn("what is a cataract?"), {"terms": ["Cataract", "seizure"]}) == {"terms": ["Cataract"]}
    with pytest.raises(InputError, match="no term from the message"):
        lookup.from_model(Turn("how do statins work?"), {"terms": ["HP:0001166"]})
