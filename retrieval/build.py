"""Build an index from corpora, or add corpora to an existing one.

Both load documents, chunk them, embed the chunks (batched, progress bar on stderr) and write the
index folder atomically. `add` embeds only documents whose id is not in the index yet; a changed
document needs a rebuild (its chunk ids would collide).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import InputError
from retrieval.chunking import ChunkerConfig, chunk_documents
from retrieval.corpus import load_corpus
from retrieval.documents import Chunk, Document
from retrieval.embed import Embedder, load_embedder
from retrieval.index import StoredIndex, choose_index_type, load_index, new_index, new_manifest

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build or add did: counts, time, and the lines or files that were skipped."""

    folder: str
    documents: int = 0
    chunks: int = 0
    skipped_documents: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    index_type: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.embed_seconds if self.embed_seconds else 0.0


def collect_chunks(corpora: list[str], chunker: ChunkerConfig, problems: list[str],
                   skip_docs: set[str] = frozenset(),
                   select: Callable[[Document], bool] | None = None) -> tuple[list[Chunk], int, int]:
    """Chunks of all corpora (documents in `skip_docs`, seen twice, or not selected are skipped).

    Returns:
        (chunks, number of documents used, number skipped).
    """
    seen = set(skip_docs)
    chunks: list[Chunk] = []
    used = skipped = 0
    for spec in corpora:
        docs = []
        for doc in load_corpus(spec, problems):
            if select is not None and not select(doc):
                continue
            if doc.id in seen:
                skipped += 1
                continue
            seen.add(doc.id)
            docs.append(doc)
        used += len(docs)
        chunks.extend(chunk_documents(docs, chunker))
    return chunks, used, skipped


def _embed(embedder: Embedder, chunks: list[Chunk], progress: bool):
    if progress:
        print(f"embedding {len(chunks)} chunks with {embedder.name} ...", file=sys.stderr, flush=True)
    return embedder.encode([c.text for c in chunks], progress=progress)


def build_index(corpora: list[str], out: str | Path, embedder: str | None = None,
                chunker: ChunkerConfig = ChunkerConfig(), index_type: str = "auto",
                progress: bool = False, device: str | None = None,
                select: Callable[[Document], bool] | None = None) -> BuildReport:
    """Build a new index over `corpora` into `out` (replacing what is there, atomically).

    `select`, when given, keeps only the documents it returns True for (e.g. a few guidelines).

    Raises:
        InputError: the corpora hold no usable text.
    """
    start = time.perf_counter()
    report = BuildReport(str(out))
    chunks, report.documents, report.skipped_documents = collect_chunks(corpora, chunker, report.problems,
                                                                          select=select)
    if not chunks:
        raise InputError(f"The corpus {' '.join(corpora)} has no text to index"
                         + (f" ({len(report.problems)} problem(s): {report.problems[0]})" if report.problems else "")
                         + ": check the path and the file formats.")
    model = load_embedder(embedder, device)
    t0 = time.perf_counter()
    vectors = _embed(model, chunks, progress)
    report.embed_seconds = time.perf_counter() - t0
    kind = choose_index_type(len(chunks), index_type)
    stored = StoredIndex(new_index(kind, model.dimension, train=vectors), [],
                         new_manifest(model.name, model.dimension, corpora,
                                      {"size": chunker.size, "overlap": chunker.overlap}))
    stored.add(chunks, vectors)
    report.seconds = time.perf_counter() - start
    stored.manifest.update(build_seconds=round(report.seconds, 2), embed_seconds=round(report.embed_seconds, 2))
    stored.write(Path(out))
    report.chunks, report.index_type = len(chunks), kind
    return report


def add_to_index(corpora: list[str], folder: str | Path, embedder: str | None = None,
                 progress: bool = False, device: str | None = None) -> BuildReport:
    """Add the documents of `corpora` that the index in `folder` does not hold yet.

    The chunker settings and embedder are the index's own (from its manifest).

    Raises:
        ConfigError: no index in `folder`, or `embedder` differs from the index's.
    """
    start = time.perf_counter()
    stored = load_index(folder, embedder)
    report = BuildReport(str(folder), index_type=stored.manifest.get("index_type", ""))
    chunker = ChunkerConfig(**stored.manifest.get("chunker", {}))
    known = {c.doc_id for c in stored.chunks}
    chunks, report.documents, report.skipped_documents = collect_chunks(corpora, chunker, report.problems, known)
    if chunks:
        model = load_embedder(stored.embedder, device)
        t0 = time.perf_counter()
        vectors = _embed(model, chunks, progress)
        report.embed_seconds = time.perf_counter() - t0
        stored.add(chunks, vectors)
        stored.manifest["corpus"] = list(dict.fromkeys([*stored.manifest.get("corpus", []), *corpora]))
        stored.manifest["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        stored.write(Path(folder))
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - start
    return report
