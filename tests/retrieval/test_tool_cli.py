"""The retrieval tool inside the Assistant, its builder, the CLI and the langchain adapter (fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.engine import Assistant
from assistant.errors import ConfigError
from assistant.llm.fake import EchoLLM
from assistant.types import Turn
from retrieval.build import build_index
from retrieval.tool import RetrievalTool, build_tool

pytestmark = pytest.mark.usefixtures("fake_embedder")


@pytest.fixture
def index_dir(tmp_path: Path, text_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "index"
    build_index([str(text_corpus)], out)
    monkeypatch.setenv("MEDASSIST_INDEX_DIR", str(out))
    return out


def test_tool_cites_sources_in_the_answer(index_dir: Path) -> None:
    tool = build_tool(Settings(retrieval_min_score=0.2))
    assert isinstance(tool, RetrievalTool) and tool.name == "retrieval" and tool.stage == "retrieval"
    result = Assistant(EchoLLM(), tools=[tool]).ask(Turn("How is the severity of community acquired pneumonia assessed?"))
    top = result.citations[0]
    assert top.number == 1 and top.id == "file/pneumonia.md#0"
    assert top.title == "Severity assessment of pneumonia — Test Society 2020 — CURB-65 score"
    assert top.url and top.url.startswith("file://") and 0 < top.score <= 1.0001
    out = result.to_json()
    assert out["tools"][0]["output"]["hits"][0]["id"] == top.id and "retrieval" in out["timings"]
    assert "[1] Severity assessment" in result.answer  # EchoLLM repeats the prompt: the snippet was shown


def test_nothing_relevant_means_no_answer_from_memory(index_dir: Path) -> None:
    tool = build_tool(Settings(retrieval_min_score=0.9))
    result = Assistant(EchoLLM(), tools=[tool]).ask(Turn("Who won the football world cup?"))
    assert result.citations == [] and "could not find" in result.answer


def test_short_follow_up_is_searched_with_the_previous_question(index_dir: Path) -> None:
    tool = build_tool(Settings())
    turn = Turn("And for children?", history=[{"role": "user", "content": "Which inhaler for asthma?"},
                                              {"role": "assistant", "content": "..."}])
    assert tool.select(turn) == {"query": "Which inhaler for asthma? And for children?"}
    assert tool.select(Turn("", image="x.png")) is None


def test_builder_without_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="No retrieval index"):
        build_tool(Settings(index_dir=tmp_path / "missing"))
    assert build_tool(Settings(cache_dir=tmp_path, index_autobuild=False)) is None
    assert "will not be grounded" in capsys.readouterr().err


def test_builder_builds_the_bundled_index_on_first_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         text_corpus: Path) -> None:
    import retrieval.tool

    monkeypatch.setattr(retrieval.tool, "BUNDLED", [str(text_corpus)])  # stand-in for the real corpus
    settings = Settings(cache_dir=tmp_path, index_autobuild=True)
    tool = build_tool(settings)
    assert tool is not None and (tmp_path / "index" / "bundled" / "manifest.json").is_file()


def test_cli_build_info_search_add(tmp_path: Path, text_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "idx"
    assert main(["index", "build", "--corpus", str(text_corpus), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chunks"] == 4
    assert main(["index", "info", "--index-dir", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 4
    assert main(["index", "search", "CURB-65 pneumonia severity", "-k", "2", "--index-dir", str(out),
                 "--json", "--min-score", "0"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and {"id", "title", "source", "text", "score"} <= set(hits[0])
    assert hits[0]["id"] == "file/pneumonia.md#0"
    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"id": "1", "title": "Sepsis", "content": "Antibiotics within one hour."}\n{bad\n', encoding="utf-8")
    assert main(["index", "add", "--corpus", str(extra), "--index-dir", str(out)]) == 0
    captured = capsys.readouterr()
    assert "added 1 chunks" in captured.out and "extra.jsonl:2" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["index", "search", "x", "--index-dir", "/nonexistent/idx"], "No retrieval index"),
    (["index", "build", "--corpus", "/nonexistent/corpus", "--out", "/tmp/never"], "neither a path"),
    (["index", "build", "--corpus", "bundled", "--chunk-size", "3"], "Bad chunker settings"),
])
def test_cli_errors_are_one_sentence(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_langchain_adapter(index_dir: Path) -> None:
    from retrieval.langchain import MedAssistRetriever
    from retrieval.search import SearchConfig, open_retriever

    lc = MedAssistRetriever(retriever=open_retriever(index_dir, config=SearchConfig(min_score=0.0)), k=2)
    docs = lc.invoke("asthma inhaler corticosteroids")
    assert len(docs) == 2 and docs[0].metadata["doc_id"] == "file/asthma.md"
    assert "score" in docs[0].metadata and docs[0].page_content.startswith("Asthma management")


def test_a_long_message_is_searched_by_its_first_part(index_dir: Path) -> None:
    tool = build_tool(Settings(retrieval_min_score=0.2))
    vignette = "How is the severity of community acquired pneumonia assessed? " + "The patient history continues. " * 100
    out = tool(**tool.select(Turn(vignette)))  # 3,000+ characters: the search API alone refuses it
    assert out.citations and out.citations[0].id.startswith("file/pneumonia.md")
    assert 1900 < out.data["query_clipped_to"] <= 2000
    assert "query_clipped_to" not in tool(query="pneumonia severity").data
