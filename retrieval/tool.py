"""The Assistant's retrieval tool: search the index for every text turn and return citations.

The engine numbers the citations, shows them to the model as quoted data and reports them in
`medassist ask --json`; an empty result (every hit under `retrieval_min_score`) makes the engine
say it found no source instead of answering from memory (`grounding=True`).

`build_tool(settings)` opens the configured index. When the default index
(CACHE_DIR/index/bundled) is missing it builds the bundled corpus first, with progress on stderr
(once; later starts load it in seconds), unless MEDASSIST_INDEX_AUTOBUILD=0, in which case the
assistant runs without retrieval and says so on stderr. A missing index at an explicit
MEDASSIST_INDEX_DIR is an error.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.tools import Tool, ToolOutput
from assistant.types import Citation, Turn
from retrieval.documents import Hit
from retrieval.index import MANIFEST_FILE
from retrieval.search import MAX_QUERY_CHARS, Retriever, SearchConfig

log = logging.getLogger(__name__)
BUNDLED = ["bundled"]
SHORT_FOLLOW_UP_WORDS = 6


class RetrievalTool(Tool):
    """Search the medical literature index."""

    name = "retrieval"
    description = "Search the indexed medical literature (guidelines, ICD-10-CM) and return numbered snippets."
    inputs = {"query": {"type": "string", "description": "the question to find sources for"}}
    stage = "retrieval"

    def __init__(self, retriever: Retriever, k: int = 5) -> None:
        self.retriever = retriever
        self.k = k

    def select(self, turn: Turn) -> dict[str, Any] | None:
        """Every turn with text; a short follow-up is searched together with the previous question."""
        text = turn.text.strip()
        if not text:
            return None
        previous = [m["content"] for m in turn.history if m["role"] == "user"]
        if previous and len(text.split()) < SHORT_FOLLOW_UP_WORDS:
            text = f"{previous[-1].strip()} {text}"
        return {"query": text}

    def forward(self, query: str) -> ToolOutput:
        clipped = clip_query(query)
        hits = self.retriever.search(clipped, k=self.k)
        return ToolOutput(
            data={"hits": [{"id": h.id, "title": h.title, "section": h.section, "score": h.score, "url": h.url}
                           for h in hits]} | ({"query_clipped_to": len(clipped)} if clipped != query.strip() else {}),
            citations=[to_citation(h) for h in hits],
            grounding=True,
        )


def clip_query(query: str) -> str:
    """A long message (pasted notes, a long exam vignette) is searched by its first part.

    The search API refuses queries over `MAX_QUERY_CHARS`; the tool cuts at the last word boundary
    before it instead of failing the turn (the embedder reads only its first 256 tokens anyway).
    """
    query = query.strip()
    if len(query) <= MAX_QUERY_CHARS:
        return query
    head = query[:MAX_QUERY_CHARS]
    return head[: head.rfind(" ")] if " " in head else head


def to_citation(hit: Hit) -> Citation:
    """A citation for the engine: title is "guideline title — section heading"."""
    title = f"{hit.title} — {hit.section}" if hit.section and hit.section not in hit.title else hit.title
    return Citation(id=hit.id, title=title, source=hit.source, score=hit.score, text=hit.text,
                    url=hit.url, year=hit.year)


def build_tool(settings: Settings) -> Tool | None:
    """The retrieval tool for `settings` (builds the bundled index on first start; see module doc).

    Raises:
        ConfigError: an explicit index folder without an index, or an embedder mismatch.
    """
    from retrieval.search import open_retriever

    folder = settings.resolved_index_dir()
    if not (folder / MANIFEST_FILE).is_file():
        if settings.index_dir is not None:
            raise ConfigError(f"No retrieval index in {folder}: build one with `medassist index build --out {folder}`.")
        if not settings.index_autobuild:
            print(f"warning: no retrieval index in {folder} and MEDASSIST_INDEX_AUTOBUILD=0: answers will not be "
                  "grounded in sources; run `medassist index build`.", file=sys.stderr)
            return None
        build_bundled(settings)
    from retrieval.rerank import load_rescorer

    config = SearchConfig(hybrid=settings.retrieval_hybrid, min_score=settings.retrieval_min_score)
    rescore = load_rescorer(settings.reranker, settings.device)
    return RetrievalTool(open_retriever(folder, settings.embedder, config, settings.device, rescore),
                         k=settings.retrieval_k)


def build_bundled(settings: Settings) -> None:
    """Build the bundled starter index into the default folder, reporting progress on stderr."""
    from retrieval.build import build_index
    from retrieval.chunking import chunker_config

    folder = settings.resolved_index_dir()
    print(f"Building the bundled literature index in {folder} (first start only; a few minutes on a CPU) ...",
          file=sys.stderr, flush=True)
    report = build_index(BUNDLED, folder, settings.embedder, chunker_config(settings.chunk_size, settings.chunk_overlap),
                         settings.index_type, progress=True, device=settings.device)
    print(f"Indexed {report.chunks} chunks from {report.documents} documents in {report.seconds:.0f} s.",
          file=sys.stderr, flush=True)
