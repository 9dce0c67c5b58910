"""Retrieval fixtures: a hashing fake embedder (no weights) and small corpora written to tmp_path."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed import Embedder

DIM = 64


class HashingModel:
    """Bag-of-words hashed into DIM buckets: texts sharing words get similar vectors."""

    def get_embedding_dimension(self) -> int:
        return DIM

    def encode(self, texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
               show_progress_bar=False) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def fake_load_embedder(name: str | None = None, device: str | None = None, cache_dir: str | None = None) -> Embedder:
    from retrieval.embed import normalise_name

    return Embedder(normalise_name(name), HashingModel())


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every load_embedder call gets the hashing model (under the requested name)."""
    import retrieval.build
    import retrieval.search

    monkeypatch.setattr(retrieval.build, "load_embedder", fake_load_embedder)
    monkeypatch.setattr(retrieval.search, "load_embedder", fake_load_embedder)


GUIDELINE = """# Severity assessment of pneumonia — Test Society 2020

## CURB-65 score

The CURB-65 score assesses the severity of community acquired pneumonia: confusion, urea over 7 mmol/l,
respiratory rate of 30 or more, low blood pressure, age 65 or over.

## Antibiotics

Amoxicillin is the first choice for low severity pneumonia treated at home.
"""

ASTHMA = """# Asthma management

## Inhalers

Inhaled corticosteroids are the mainstay of asthma control; a reliever inhaler treats symptoms.
"""


@pytest.fixture
def text_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "pneumonia.md").write_text(GUIDELINE, encoding="utf-8")
    (folder / "asthma.md").write_text(ASTHMA, encoding="utf-8")
    (folder / "gout.txt").write_text("Gout flares are treated with colchicine, NSAIDs or steroids.\n", encoding="utf-8")
    return folder
