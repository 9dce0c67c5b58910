"""Heading-aware chunking: heading paths, windows, overlap, stable ids."""

from __future__ import annotations

import pytest

from retrieval.chunking import ChunkerConfig, chunk_document, sections, windows
from retrieval.documents import Document
from tests.retrieval.conftest import GUIDELINE


def test_sections_track_heading_levels_and_skip_code_fences() -> None:
    text = "intro\n# T\na\n## A\nb\n### A1\nc\n```\n# not a heading\n```\n## B\nd"
    got = [(path, body) for path, body in sections(text) if body]
    assert got == [([], "intro"), (["T"], "a"), (["T", "A"], "b"),
                   (["T", "A", "A1"], "c\n```\n# not a heading\n```"), (["T", "B"], "d")]


def test_chunks_start_with_their_heading_path() -> None:
    doc = Document(id="g/x", title="Guideline", text=GUIDELINE, source="Test Society", year=2020, url="https://doi.org/1")
    chunks = chunk_document(doc)
    assert [c.id for c in chunks] == ["g/x#0", "g/x#1"]
    assert chunks[0].section == "CURB-65 score"
    assert chunks[0].text.startswith("Severity assessment of pneumonia — Test Society 2020 > CURB-65 score\n")
    assert chunks[1].section == "Antibiotics" and "Amoxicillin" in chunks[1].text
    assert all(c.year == 2020 and c.url == "https://doi.org/1" and c.source == "Test Society" for c in chunks)


def test_windows_respect_size_and_overlap() -> None:
    body = " ".join(f"w{i}" for i in range(100))
    pieces = [p.split() for p in windows(body, size=30, overlap=10)]
    assert all(len(p) <= 30 for p in pieces)
    assert pieces[0][-10:] == pieces[1][:10]  # overlap repeated
    assert pieces[-1][-1] == "w99" and pieces[0][0] == "w0"


def test_windows_prefer_sentence_ends() -> None:
    body = "one two three four five six. seven eight nine ten eleven twelve"
    first = next(windows(body, size=8, overlap=0))
    assert first == "one two three four five six."


def test_ids_are_stable_and_long_sections_split() -> None:
    doc = Document(id="d", title="T", text="# T\n\n## S\n" + "word " * 400)
    a, b = chunk_document(doc, ChunkerConfig(100, 20)), chunk_document(doc, ChunkerConfig(100, 20))
    assert [c.id for c in a] == [c.id for c in b] and len(a) >= 4
    assert all(c.text.startswith("T > S\n") for c in a)


@pytest.mark.parametrize("size, overlap", [(4, 0), (100, 50), (100, -1)])
def test_bad_chunker_config(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        ChunkerConfig(size, overlap)


def test_short_section_travels_with_its_subsections() -> None:
    text = "# G\n## Score\nThe score is the tool.\n### Criteria\nConfusion, urea.\n### Use\nAdmit if high.\n## Other\nElse."
    chunks = chunk_document(Document(id="d", title="G", text=text), ChunkerConfig(50, 5))
    assert [c.section for c in chunks] == ["Score", "Other"]
    assert chunks[0].text == "G > Score\nThe score is the tool.\n\nCriteria:\nConfusion, urea.\n\nUse:\nAdmit if high."
