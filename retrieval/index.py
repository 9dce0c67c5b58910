"""FAISS vector index: choice of structure, persistence, manifest check, incremental add.

On disk an index is one folder:
- `index.faiss`: `faiss.write_index` output (row i is chunk i);
- `chunks.jsonl`: one `Chunk` a line, in row order;
- `manifest.json`: embedder, dimension, metric, index type and parameters, chunker settings,
  corpus checksum (sha256 of chunk ids and texts), counts, build time.
No pickle anywhere. A build or an add writes a complete new folder next to the target and renames
it into place, so a crash never leaves a half-written index behind.

Structures (embeddings are normalised; every structure uses inner product = cosine):
- `flat`: exact search; the default below `AUTO_FLAT_MAX` vectors;
- `hnsw`: graph search (M=32, efSearch 128), no training, incremental adds; the default above;
- `ivf`: inverted lists (nlist = sqrt(n), nprobe 32; see bench/retrieval.py), needs training.
See docs/retrieval.md and docs/benchmarks/retrieval.md for the measurements behind these choices.
On a machine with the faiss GPU build and a GPU, flat and IVF indexes are searched on the GPU.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError, InputError, ModelError
from retrieval.documents import Chunk

FORMAT_VERSION = 1
INDEX_FILE, CHUNKS_FILE, MANIFEST_FILE = "index.faiss", "chunks.jsonl", "manifest.json"
INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")
AUTO_FLAT_MAX = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
IVF_NPROBE = 32


def choose_index_type(count: int, setting: str = "auto") -> str:
    """The index structure for `count` vectors: the setting, or by size when it is "auto"."""
    if setting not in INDEX_TYPES:
        raise ConfigError(f"Unknown index type {setting!r}: use one of {', '.join(INDEX_TYPES)}.")
    if setting != "auto":
        return setting
    return "flat" if count <= AUTO_FLAT_MAX else "hnsw"


def ivf_nlist(count: int) -> int:
    """IVF list count: sqrt(n), at least 39 training vectors per list (faiss's minimum)."""
    return max(1, min(int(math.sqrt(count)), count // 39))


def new_index(kind: str, dim: int, train: np.ndarray | None = None, **params: int) -> Any:
    """An empty FAISS index of `kind` (trained on `train` for IVF), inner-product metric."""
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.get("m", HNSW_M), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.get("ef_construction", HNSW_EF_CONSTRUCTION)
        index.hnsw.efSearch = params.get("ef_search", HNSW_EF_SEARCH)
        return index
    if kind == "ivf":
        if train is None or len(train) == 0:
            raise InputError("An IVF index needs vectors to train on: build it from a non-empty corpus.")
        nlist = params.get("nlist") or ivf_nlist(len(train))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(train)
        index.nprobe = min(params.get("nprobe", IVF_NPROBE), nlist)
        return index
    raise ConfigError(f"Unknown index type {kind!r}: use flat, hnsw or ivf.")


def index_params(index: Any) -> dict[str, int]:
    """The tunable parameters of an index, for the manifest."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return {"m": index.hnsw.nb_neighbors(1), "ef_construction": index.hnsw.efConstruction,
                "ef_search": index.hnsw.efSearch}
    if isinstance(index, faiss.IndexIVF):
        return {"nlist": index.nlist, "nprobe": index.nprobe}
    return {}


def on_gpu(index: Any) -> Any:
    """A GPU copy of a flat or IVF index when the faiss GPU build sees a GPU, else `index` itself."""
    import faiss

    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0 or isinstance(index, faiss.IndexHNSW):
        return index
    return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)


@contextmanager
def faiss_threads(count: int | None) -> Iterator[None]:
    """Run FAISS calls inside on `count` OpenMP threads (None: leave as is), restoring afterwards.

    One query on a busy 2-core machine: exact search over 10k vectors took 52 ms (p50) on two
    spinning OpenMP threads and 0.5 ms on one (docs/benchmarks/retrieval.md).
    """
    if count is None:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def corpus_checksum(chunks: Iterable[Chunk]) -> str:
    """sha256 over chunk ids and texts, in order: two indexes of the same corpus share it."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk.id.encode())
        digest.update(b"\0")
        digest.update(chunk.text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class StoredIndex:
    """An index in memory: FAISS structure, chunk metadata in row order, and the manifest."""

    index: Any
    chunks: list[Chunk]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def embedder(self) -> str:
        return str(self.manifest.get("embedder", ""))

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Append chunks and their vectors (rows must match)."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(chunks):
            self.index.add(vectors)
            self.chunks.extend(chunks)

    def write(self, folder: Path) -> None:
        """Write the index to `folder` atomically (temporary sibling folder, then rename)."""
        import faiss

        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            self.manifest.update(count=len(self.chunks), index_type=index_kind(self.index),
                                 index_params=index_params(self.index), corpus_sha256=corpus_checksum(self.chunks),
                                 documents=len({c.doc_id for c in self.chunks}), faiss_version=faiss.__version__,
                                 format=FORMAT_VERSION)
            faiss.write_index(self.index, str(tmp / INDEX_FILE))
            with open(tmp / CHUNKS_FILE, "w", encoding="utf-8") as fh:
                for chunk in self.chunks:
                    fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
            (tmp / MANIFEST_FILE).write_text(json.dumps(self.manifest, indent=2), encoding="utf-8")
            _swap(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def index_kind(index: Any) -> str:
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


def _swap(tmp: Path, folder: Path) -> None:
    """Put `tmp` in place of `folder`; the old one is moved aside first and removed after."""
    old = folder.parent / f".{folder.name}.old-{os.getpid()}"
    if folder.exists():
        folder.rename(old)
    try:
        tmp.rename(folder)
    except OSError:
        if old.exists():
            old.rename(folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the index in `folder`.

    Raises:
        ConfigError: there is no index there.
        ModelError: the manifest is unreadable.
    """
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise ConfigError(f"No retrieval index in {folder}: build one with `medassist index build`.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The index manifest {path} is corrupt ({exc}): rebuild with `medassist index build`.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise ModelError(f"The index in {folder} has an unknown format: rebuild it with `medassist index build`.")
    return manifest


def check_embedder(manifest: dict[str, Any], embedder: str | None, folder: Path) -> None:
    """Refuse an index built with another embedder than the configured one."""
    from retrieval.embed import normalise_name

    if embedder is not None and normalise_name(embedder) != manifest.get("embedder"):
        raise ConfigError(
            f"The index in {folder} was built with the embedder {manifest.get('embedder')!r}, not "
            f"{normalise_name(embedder)!r}: set MEDASSIST_EMBEDDER={manifest.get('embedder')} or rebuild the index."
        )


def load_index(folder: str | Path, embedder: str | None = None) -> StoredIndex:
    """Read an index folder, checking manifest, FAISS file and chunk file against each other.

    Args:
        folder: the index folder.
        embedder: the configured embedder; a different one in the manifest is refused.

    Raises:
        ConfigError: no index there, or built with another embedder.
        ModelError: a missing or corrupt file.
    """
    import faiss

    folder = Path(folder)
    manifest = read_manifest(folder)
    check_embedder(manifest, embedder, folder)
    try:
        index = faiss.read_index(str(folder / INDEX_FILE))
    except RuntimeError as exc:
        raise ModelError(f"The index file {folder / INDEX_FILE} is missing or corrupt: rebuild with "
                         "`medassist index build`.") from exc
    chunks = _read_chunks(folder / CHUNKS_FILE)
    if index.ntotal != len(chunks) or index.d != manifest.get("dimension"):
        raise ModelError(f"The index in {folder} is inconsistent ({index.ntotal} vectors, {len(chunks)} chunks): "
                         "rebuild with `medassist index build`.")
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()  # lets search re-score BM25-only hits by cosine
    return StoredIndex(index, chunks, manifest)


def _read_chunks(path: Path) -> list[Chunk]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [Chunk.from_json(json.loads(line)) for line in fh if line.strip()]
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"The chunk file {path} is missing or corrupt: rebuild with `medassist index build`.") from exc


def new_manifest(embedder: str, dimension: int, corpus: list[str], chunker: dict[str, int]) -> dict[str, Any]:
    """The manifest fields known before the vectors are added."""
    return {"format": FORMAT_VERSION, "embedder": embedder, "dimension": dimension,
            "metric": "inner_product (normalised embeddings: cosine)", "corpus": list(corpus),
            "chunker": dict(chunker), "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
