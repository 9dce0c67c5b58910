"""Index build, persistence, manifest checks, incremental add and hybrid search (fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ConfigError, InputError, ModelError
from retrieval.build import add_to_index, build_index
from retrieval.index import choose_index_type, load_index, new_index, read_manifest
from retrieval.search import SearchConfig, open_retriever, rrf

pytestmark = pytest.mark.usefixtures("fake_embedder")


@pytest.fixture
def index_dir(tmp_path: Path, text_corpus: Path) -> Path:
    out = tmp_path / "index"
    build_index([str(text_corpus)], out)
    return out


def test_build_writes_index_chunks_and_manifest(index_dir: Path) -> None:
    assert sorted(p.name for p in index_dir.iterdir()) == ["chunks.jsonl", "index.faiss", "manifest.json"]
    manifest = read_manifest(index_dir)
    assert manifest["embedder"] == "all-minilm-l6-v2" and manifest["dimension"] == 64
    assert manifest["index_type"] == "flat" and manifest["count"] == 4 and manifest["documents"] == 3
    assert manifest["chunker"] == {"size": 160, "overlap": 30} and len(manifest["corpus_sha256"]) == 64
    assert not list(index_dir.parent.glob(".index.*"))  # no temporary folder left behind


def test_search_finds_the_right_section(index_dir: Path) -> None:
    retriever = open_retriever(index_dir, config=SearchConfig(min_score=0.0))
    hits = retriever.search("How is the severity of community acquired pneumonia assessed? CURB-65", k=2)
    assert hits[0].id == "file/pneumonia.md#0" and hits[0].section == "CURB-65 score"
    assert hits[0].rank == 1 and 0 < hits[0].score <= 1.0001
    assert len(hits) == 2


def test_threshold_drops_unrelated_hits(index_dir: Path) -> None:
    retriever = open_retriever(index_dir, config=SearchConfig(min_score=0.5))
    assert retriever.search("quantum chromodynamics lattice gauge", k=5) == []


def test_lexical_only_hits_get_their_cosine(index_dir: Path) -> None:
    retriever = open_retriever(index_dir, config=SearchConfig(min_score=-1.0, candidates=1))
    hits = retriever.search("colchicine", k=4)
    assert any(h.doc_id == "file/gout.txt" for h in hits)
    assert all(-1.0 <= h.score <= 1.0001 for h in hits)


@pytest.mark.parametrize("query, k, message", [("  ", 3, "empty"), ("x" * 2001, 3, "too long"), ("ok", 0, "at least 1")])
def test_bad_queries(index_dir: Path, query: str, k: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        open_retriever(index_dir).search(query, k=k)


def test_embedder_mismatch_is_refused(index_dir: Path) -> None:
    with pytest.raises(ConfigError, match="built with the embedder 'all-minilm-l6-v2'"):
        open_retriever(index_dir, embedder="all-mpnet-base-v2")


def test_missing_and_corrupt_files(tmp_path: Path, index_dir: Path) -> None:
    with pytest.raises(ConfigError, match="No retrieval index"):
        load_index(tmp_path / "nowhere")
    (index_dir / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="missing or corrupt"):
        load_index(index_dir)
    (index_dir / "manifest.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match="corrupt"):
        load_index(index_dir)


def test_chunk_file_out_of_step_is_refused(index_dir: Path) -> None:
    lines = (index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    (index_dir / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match="inconsistent"):
        load_index(index_dir)


def test_empty_corpus_is_refused_and_nothing_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.md").write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="no text to index"):
        build_index([str(empty)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_incremental_add_keeps_old_rows_and_skips_known_documents(tmp_path: Path, index_dir: Path) -> None:
    before = load_index(index_dir)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "sepsis.md").write_text("# Sepsis\nGive antibiotics within one hour of recognising sepsis.", encoding="utf-8")
    report = add_to_index([str(extra)], index_dir)
    assert report.chunks == 1 and report.documents == 1
    after = load_index(index_dir)
    assert [c.id for c in after.chunks[: len(before.chunks)]] == [c.id for c in before.chunks]
    assert after.chunks[-1].doc_id == "file/sepsis.md" and after.index.ntotal == len(before.chunks) + 1
    assert after.manifest["count"] == len(after.chunks) and str(extra) in after.manifest["corpus"]
    again = add_to_index([str(extra)], index_dir)
    assert again.chunks == 0 and again.skipped_documents == 1
    hits = open_retriever(index_dir).search("antibiotics sepsis one hour", k=1)
    assert hits[0].doc_id == "file/sepsis.md"


def test_rebuild_replaces_atomically(tmp_path: Path, index_dir: Path, text_corpus: Path) -> None:
    (text_corpus / "gout.txt").unlink()
    build_index([str(text_corpus)], index_dir)
    assert read_manifest(index_dir)["documents"] == 2
    assert sorted(p.name for p in index_dir.parent.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_every_index_type_builds_searches_and_reloads(tmp_path: Path, text_corpus: Path, kind: str) -> None:
    for i in range(60):  # IVF needs some vectors to train on
        (text_corpus / f"note{i}.txt").write_text(f"note number {i} about topic{i % 7} and item{i}", encoding="utf-8")
    out = tmp_path / kind
    report = build_index([str(text_corpus)], out, index_type=kind)
    assert report.index_type == kind and read_manifest(out)["index_type"] == kind
    hits = open_retriever(out, config=SearchConfig(min_score=0.0)).search("CURB-65 severity pneumonia", k=3)
    assert hits[0].doc_id == "file/pneumonia.md"


def test_choose_index_type() -> None:
    assert choose_index_type(1000) == "flat" and choose_index_type(5_000_000) == "hnsw"
    assert choose_index_type(10, "ivf") == "ivf"
    with pytest.raises(ConfigError):
        choose_index_type(10, "annoy")
    with pytest.raises(InputError):
        new_index("ivf", 8, train=np.zeros((0, 8), dtype=np.float32))


def test_rrf_fuses_rankings() -> None:
    assert rrf([[1, 2, 3], [2, 9]]) == [2, 1, 9, 3]
    assert rrf([[], [5]]) == [5]


def test_index_files_hold_no_pickle(index_dir: Path) -> None:
    for line in (index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
        assert set(json.loads(line)) >= {"id", "doc_id", "title", "text", "source", "url", "year"}


def test_rescorer_reorders_hits_and_keeps_cosine(index_dir: Path) -> None:
    from retrieval.rerank import CrossEncoderRescorer, load_rescorer

    class PrefersGout:
        def predict(self, pairs):
            return [1.0 if "colchicine" in text.lower() else 0.0 for _, text in pairs]

    plain = open_retriever(index_dir, config=SearchConfig(min_score=-1.0)).search("pneumonia severity", k=4)
    reranked = open_retriever(index_dir, config=SearchConfig(min_score=-1.0),
                              rescore=CrossEncoderRescorer(PrefersGout())).search("pneumonia severity", k=4)
    assert reranked[0].doc_id == "file/gout.txt" != plain[0].doc_id
    assert {h.id: h.score for h in reranked} == {h.id: h.score for h in plain}
    assert [h.rank for h in reranked] == [1, 2, 3, 4] and load_rescorer(None) is None
