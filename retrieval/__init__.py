"""Retrieval over medical literature: corpus loaders, chunking, embeddings, FAISS index, hybrid search.

Knows nothing of chat. The public surface:
- `open_retriever(index_dir, embedder) -> Retriever`; `Retriever.search(query, k) -> list[Hit]`;
- `build_index(corpora, out, ...)` and `add_to_index(corpora, folder, ...)`;
- `load_corpus(spec)` -> `Document`s; `chunk_document(doc)` -> `Chunk`s;
- `retrieval.tool:build_tool` (the Assistant's tool) and `retrieval.langchain` (a `BaseRetriever`).
Heavy libraries (torch, faiss, sentence-transformers) are imported when first used.
"""

from __future__ import annotations

from retrieval.build import BuildReport, add_to_index, build_index
from retrieval.chunking import ChunkerConfig, chunk_document
from retrieval.corpus import load_corpus
from retrieval.documents import Chunk, Document, Hit
from retrieval.search import Retriever, SearchConfig, open_retriever

__all__ = [
    "BuildReport", "Chunk", "ChunkerConfig", "Document", "Hit", "Retriever", "SearchConfig",
    "add_to_index", "build_index", "chunk_document", "load_corpus", "open_retriever",
]
