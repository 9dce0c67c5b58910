"""The records retrieval works with: `Document` (what a loader yields), `Chunk` (what is indexed)
and `Hit` (what a search returns).

They are plain dataclasses so that chunk metadata can be stored as JSON lines next to the FAISS
index (no pickle) and printed by `medassist index search --json` as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Document:
    """One source document, whatever its format.

    Args:
        id: stable identifier, unique in the corpus (e.g. "open-medicine/bts_cap_2009/severity_assessment").
        title: human-readable title (guideline title, article title, term name).
        text: the body; Markdown headings (`#`, `##` ...) are kept and used by the chunker.
        source: organisation, journal or database the text comes from.
        url: DOI URL or source URL, if known.
        year: publication year, if known.
        licence: licence of the text (kept with every chunk so attribution travels with it).
        attribution: who must be credited.
        meta: anything else a loader knows (codes, authors ...); must be JSON-serialisable.
    """

    id: str
    title: str
    text: str
    source: str = ""
    url: str | None = None
    year: int | None = None
    licence: str | None = None
    attribution: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chunk:
    """A piece of a document small enough to embed, with its section heading path.

    `id` is `"{doc_id}#{position}"`: stable as long as the document's text does not change.
    `text` already starts with the heading path, so the embedding and BM25 both see the section.
    """

    id: str
    doc_id: str
    title: str
    text: str
    source: str = ""
    url: str | None = None
    year: int | None = None
    licence: str | None = None
    section: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Chunk:
        known = {k: row[k] for k in cls.__dataclass_fields__ if k in row}
        return cls(**known)


@dataclass
class Hit:
    """One search result.

    `score` is the cosine similarity between the query and the chunk (embeddings are normalised),
    whatever stage found it; the order is the fused (dense + BM25) rank.
    """

    id: str
    doc_id: str
    title: str
    source: str
    text: str
    score: float
    url: str | None = None
    year: int | None = None
    licence: str | None = None
    section: str = ""
    rank: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
