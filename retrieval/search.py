"""Hybrid search: dense (FAISS) and lexical (BM25, `bm25s`) rankings fused by reciprocal rank fusion.

Each ranking contributes 1 / (60 + rank) per candidate (Cormack et al., 2009); the fused order is
the result order. Every hit's `score` is its cosine similarity to the query (re-computed from the
stored vector for candidates only BM25 found), so one threshold, `min_score`, means the same thing
for every hit: below it a hit is dropped, and when nothing is left the assistant says it found no
source. BM25 catches exact terms (drug names, codes, acronyms such as CURB-65) that a small
embedder blurs; the dense side catches paraphrases.

The BM25 index is rebuilt from the chunk texts when an index is opened (a second for ~30k chunks)
rather than stored, so it can never disagree with the chunks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import InputError
from retrieval.documents import Hit
from retrieval.embed import Embedder, load_embedder
from retrieval.index import StoredIndex, faiss_threads, load_index, on_gpu

RRF_K = 60
MAX_QUERY_CHARS = 2000


@dataclass
class SearchConfig:
    """Search knobs: hybrid or dense only, candidates per ranking, and the relevance threshold."""

    hybrid: bool = True
    candidates: int = 50
    min_score: float = 0.0


class Lexical:
    """BM25 over chunk texts (English stop words removed)."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets its own logger to DEBUG
        self.size = len(texts)
        self.model = bm25s.BM25()
        self.model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        self.vocab = self.model.vocab_dict

    def search(self, query: str, k: int) -> list[int]:
        """Row numbers of the best `k` chunks with a positive BM25 score."""
        import bm25s

        tokens = [t for t in bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
                  if t in self.vocab]
        if not tokens or not self.size:
            return []
        rows, scores = self.model.retrieve([tokens], k=min(k, self.size), show_progress=False)
        return [int(r) for r, s in zip(rows[0], scores[0]) if s > 0]


class Retriever:
    """Search one index folder.

    Args:
        stored: the loaded index.
        embedder: the query embedder (same model as the index's).
        config: search knobs.
        rescore: optional second stage: called with (query, hits) and returning hits re-ordered
            (e.g. a cross-encoder); hits keep their cosine `score`.
    """

    def __init__(self, stored: StoredIndex, embedder: Embedder, config: SearchConfig | None = None,
                 rescore: Callable[[str, list[Hit]], list[Hit]] | None = None) -> None:
        self.stored = stored
        self.embedder = embedder
        self.config = config or SearchConfig()
        self.rescore = rescore
        self.searcher = on_gpu(stored.index)
        self.lexical = Lexical([c.text for c in stored.chunks]) if self.config.hybrid else None

    @property
    def manifest(self) -> dict[str, Any]:
        return self.stored.manifest

    def __len__(self) -> int:
        return len(self.stored.chunks)

    def search(self, query: str, k: int = 10, min_score: float | None = None) -> list[Hit]:
        """The best `k` chunks for `query`, best first, each with its cosine `score`.

        Args:
            query: the question (at most 2,000 characters).
            k: how many hits at most.
            min_score: drop hits whose cosine is below this (default: the config's).

        Raises:
            InputError: an empty or over-long query, or k < 1.
        """
        query = (query or "").strip()
        if not query:
            raise InputError("The search query is empty: type a question.")
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"The search query is too long ({len(query)} characters; at most {MAX_QUERY_CHARS}).")
        if k < 1:
            raise InputError(f"k must be at least 1 (got {k}).")
        if not len(self):
            return []
        threshold = self.config.min_score if min_score is None else min_score
        vector = self.embedder.encode([query])
        n = min(max(self.config.candidates, k), len(self))
        with faiss_threads(1 if self.searcher is self.stored.index else None):  # CPU: one thread per query
            scores, rows = self.searcher.search(vector, n)
        dense = {int(r): float(s) for r, s in zip(rows[0], scores[0]) if r >= 0}
        lexical = self.lexical.search(query, n) if self.lexical else []
        fused = rrf([list(dense), lexical])
        cosine = dense | self._cosines(vector[0], [r for r in fused if r not in dense])
        hits = [self._hit(row, cosine[row], rank) for rank, row in enumerate(fused, 1) if cosine[row] >= threshold]
        if self.rescore and hits:
            hits = self.rescore(query, hits)
        return hits[:k]

    def _cosines(self, vector: np.ndarray, rows: list[int]) -> dict[int, float]:
        if not rows:
            return {}
        stored = np.vstack([self.stored.index.reconstruct(r) for r in rows])
        return {r: float(s) for r, s in zip(rows, stored @ vector)}

    def _hit(self, row: int, score: float, rank: int) -> Hit:
        c = self.stored.chunks[row]
        return Hit(id=c.id, doc_id=c.doc_id, title=c.title, source=c.source, text=c.text, score=round(score, 4),
                   url=c.url, year=c.year, licence=c.licence, section=c.section, rank=rank)


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion of several rankings of row numbers; ties keep first-seen order."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, 1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda r: -fused[r])


def open_retriever(index_dir: str | Path | None = None, embedder: str | None = None,
                   config: SearchConfig | None = None, device: str | None = None,
                   rescore: Callable[[str, list[Hit]], list[Hit]] | None = None) -> Retriever:
    """Open the index in `index_dir` for search.

    Args:
        index_dir: the index folder (default: the Settings' `index_dir`).
        embedder: the configured embedder, which must match the index's manifest (default: the
            Settings' `embedder`, i.e. MEDASSIST_EMBEDDER).
        config: search knobs (default: hybrid, threshold from the Settings).
        device: "cuda" or "cpu" for the query embedder.
        rescore: optional second stage (see `retrieval.rerank`).

    Raises:
        ConfigError: no index there, or it was built with another embedder.
        ModelError: a missing or corrupt index file.
    """
    from assistant.config import Settings

    settings = Settings()
    folder = Path(index_dir) if index_dir is not None else settings.resolved_index_dir()
    stored = load_index(folder, embedder if embedder is not None else settings.embedder)
    config = config or SearchConfig(min_score=settings.retrieval_min_score)
    return Retriever(stored, load_embedder(stored.embedder, device or settings.device), config, rescore)
