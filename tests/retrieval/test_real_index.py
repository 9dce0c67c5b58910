"""The real packaged embedder (all-MiniLM-L6-v2) over real bundled guidelines (slow).

To stay inside the test time budget on a 2-core CPU the index holds six open-medicine guidelines,
including the two community-acquired pneumonia guidelines that compete for the question (BTS 2009
and ATS/IDSA 2019), rather than the whole bundled corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.engine import Assistant
from assistant.llm.fake import EchoLLM
from assistant.types import Turn
from retrieval.build import build_index
from retrieval.search import SearchConfig, open_retriever
from retrieval.tool import build_tool

pytestmark = pytest.mark.slow

GUIDELINES = {"bts_cap_2009", "ats_idsa_cap_2019", "gina_asthma_2024", "acr_gout_2020", "sepsis3_2016",
              "acc_aha_hypertension_2017"}


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real") / "index"
    report = build_index(["open-medicine"], out, "all-minilm-l6-v2",
                         select=lambda doc: doc.meta.get("guideline") in GUIDELINES)
    assert report.documents == sum(1 for g in GUIDELINES for _ in _files(g)) and report.chunks > 50
    return out


def _files(guideline: str) -> list[Path]:
    from retrieval.corpus import package_dir

    return list((package_dir("open_medicine") / "guidelines" / "content" / guideline).glob("*.md"))


def test_finds_the_bts_curb65_section(real_index: Path) -> None:
    retriever = open_retriever(real_index, config=SearchConfig(min_score=0.3))
    hits = retriever.search("How is the severity of community-acquired pneumonia assessed?", k=5)
    top = hits[0]
    assert top.doc_id == "open-medicine/bts_cap_2009/severity_assessment"
    assert "CURB-65" in top.section and "CURB-65" in top.text
    assert top.source == "BTS" and top.year == 2009 and top.url == "https://doi.org/10.1136/thx.2009.121434"
    assert top.score > 0.5


def test_off_topic_question_finds_nothing(real_index: Path) -> None:
    retriever = open_retriever(real_index, config=SearchConfig(min_score=0.3))
    assert retriever.search("What is the capital of France?", k=5) == []


def test_grounded_answer_cites_the_guideline(real_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDASSIST_INDEX_DIR", str(real_index))
    tool = build_tool(Settings())
    out = Assistant(EchoLLM(), tools=[tool]).ask(Turn("How is gout flare treated?", role="doctor")).to_json()
    first = out["citations"][0]
    assert first["number"] == 1 and first["source"] == "ACR" and first["year"] == 2020
    assert first["url"].startswith("https://doi.org/") and "Gout" in first["title"]
