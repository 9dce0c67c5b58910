"""Learned layer of the input rails: softmax regression on sentence embeddings plus word n-grams.

Classes: benign, emergency, self_harm, harmful, injection. Features: the L2-normalised embedding of
the message from the packaged all-mpnet-base-v2 (768-d; it separated the classes far better than
MiniLM when each writer's data was held out in turn, see docs/safety.md), joined with hashed word
uni- and bigrams (scikit-learn's stateless `HashingVectorizer`, L2-normalised), which catch the
lexical cues ("ricin", "keylogger", "not waking up") a mean-pooled embedding dilutes in a long
message. Weights live in `data/classifier.npz` (plain float arrays, loaded without pickle; only
the n-gram rows that training touched are stored) with their metadata (classes, per-class
thresholds, embedder, training counts and validation figures) in `data/classifier.json`;
`python -m assistant.safety.train_classifier` rebuilds both with a fixed seed. A class is
predicted only when its probability reaches its threshold; otherwise the text is "benign".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
WEIGHTS, META = DATA / "classifier.npz", DATA / "classifier.json"
EMBEDDER = "all-mpnet-base-v2"
NGRAM_FEATURES = 2**18
_CACHE_SIZE = 20_000


@cache
def embedder(name: str = EMBEDDER):  # noqa: ANN201 - SentenceTransformer, imported lazily
    """A packaged sentence embedder on CPU, loaded once per process (see `retrieval.embed`)."""
    from sentence_transformers import SentenceTransformer

    from retrieval.embed import resolve_model_path

    return SentenceTransformer(resolve_model_path(name), device="cpu")


def embed(texts: list[str], name: str = EMBEDDER) -> np.ndarray:
    """L2-normalised sentence embeddings, one row per text."""
    return np.asarray(embedder(name).encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False),
                      dtype=np.float32)


@cache
def _hasher(n_features: int):  # noqa: ANN202 - sklearn HashingVectorizer
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(ngram_range=(1, 2), n_features=n_features, alternate_sign=False, norm="l2")


def ngrams(texts: list[str], n_features: int = NGRAM_FEATURES):  # noqa: ANN201 - scipy CSR matrix
    """Hashed, L2-normalised word uni- and bigram counts (stateless: nothing to fit or store)."""
    return _hasher(n_features).transform(texts)


def cached_embed(texts: list[str], name: str = EMBEDDER, cache_dir: Path | None = None) -> np.ndarray:
    """`embed`, keeping every vector in `cache_dir/<name>.npz` by the text's SHA-1 so that retraining
    after adding a data file embeds only the new texts (no pickle: a string array and a float matrix)."""
    if cache_dir is None:
        return embed(texts, name)
    path = cache_dir / f"{name}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as stored:
            known = dict(zip(stored["keys"].tolist(), stored["vectors"]))
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    todo = {k: t for k, t in zip(keys, texts) if k not in known}
    if todo:
        known |= zip(todo, embed(list(todo.values()), name))
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def features(texts: list[str], name: str = EMBEDDER, n_features: int = NGRAM_FEATURES,
             cache_dir: Path | None = None):  # noqa: ANN201
    """[embedding | n-grams] as one sparse matrix, the classifier's training input (n_features=0: no n-grams)."""
    from scipy import sparse

    parts = [sparse.csr_matrix(cached_embed(texts, name, cache_dir))] + ([ngrams(texts, n_features)] if n_features else [])
    return sparse.hstack(parts).tocsr()


def decide(probabilities: np.ndarray, classes: list[str], thresholds: dict[str, float]) -> list[tuple[str, float]]:
    """(label, probability) per row: the most likely non-benign class over its threshold, else benign."""
    benign = classes.index("benign")
    out = []
    for row in probabilities:
        over = [(float(row[i]), label) for i, label in enumerate(classes)
                if label != "benign" and row[i] >= thresholds.get(label, 1.0)]
        probability, label = max(over) if over else (float(row[benign]), "benign")
        out.append((label, probability))
    return out


@dataclass(eq=False)
class SafetyClassifier:
    """Softmax regression over [embedding | hashed n-grams] with per-class decision thresholds."""

    weights: np.ndarray  # (embedding dim, classes)
    ngram_weights: np.ndarray  # (n-gram features, classes)
    bias: np.ndarray  # (classes,)
    classes: list[str]
    thresholds: dict[str, float]
    embedder_name: str = EMBEDDER
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # text -> probability row

    @classmethod
    def from_coefficients(cls, coef: np.ndarray, bias: np.ndarray, classes: list[str], thresholds: dict[str, float],
                          embedder_name: str = EMBEDDER, n_features: int = NGRAM_FEATURES) -> SafetyClassifier:
        """From a fitted model's (classes, embedding dim + n-gram features) coefficient matrix."""
        dim = coef.shape[1] - n_features
        return cls(coef[:, :dim].T.copy(), coef[:, dim:].T.copy(), bias, classes, thresholds, embedder_name)

    @classmethod
    def load(cls, weights: Path = WEIGHTS, meta: Path = META) -> SafetyClassifier:
        """Load the packaged weights (npz, no pickle) and metadata (JSON); loads the embedder too,
        so a missing embedder package fails here, where the rails catch it."""
        info = json.loads(meta.read_text(encoding="utf-8"))
        with np.load(weights, allow_pickle=False) as arrays:
            dense = np.zeros((int(arrays["ngram_features"]), len(info["classes"])), dtype=np.float32)
            dense[arrays["ngram_index"]] = arrays["ngram_values"]
            out = cls(arrays["weights"], dense, arrays["bias"], info["classes"], info["thresholds"], info["embedder"])
        embedder(out.embedder_name)
        return out

    def save(self, weights: Path = WEIGHTS, meta: Path = META, extra: dict | None = None) -> None:
        used = np.flatnonzero(np.abs(self.ngram_weights).max(axis=1) > 0)
        np.savez_compressed(weights, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
                            ngram_features=np.int64(len(self.ngram_weights)), ngram_index=used.astype(np.int32),
                            ngram_values=self.ngram_weights[used].astype(np.float32))
        info = {"classes": self.classes, "thresholds": self.thresholds, "embedder": self.embedder_name, **(extra or {})}
        meta.write_text(json.dumps(info, indent=2) + "\n")

    def probabilities(self, texts: list[str]) -> np.ndarray:
        logits = embed(texts, self.embedder_name) @ self.weights + self.bias
        if len(self.ngram_weights):
            logits += np.asarray(ngrams(texts, len(self.ngram_weights)) @ self.ngram_weights)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(label, probability) per row, with this classifier's thresholds (see `decide`)."""
        return decide(probabilities, self.classes, self.thresholds)

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability) for each text."""
        return self.decide(self.probabilities(texts))

    def predict_one(self, text: str) -> tuple[str, float]:
        """(label, probability) for one text, cached (the rails and the red-team suite ask twice)."""
        return self.decide(self._row(text)[None, :])[0]

    def probability(self, text: str, label: str) -> float:
        """The probability of one class for `text` (cached like `predict_one`)."""
        return float(self._row(text)[self.classes.index(label)])

    def _row(self, text: str) -> np.ndarray:
        if text not in self._cache:
            self.prime([text])
        return self._cache[text]

    def prime(self, texts: list[str]) -> None:
        """Score `texts` in one batch and cache their probabilities (much faster than one by one)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if len(self._cache) + len(todo) > _CACHE_SIZE:
            self._cache.clear()
        for start in range(0, len(todo), 256):
            batch = todo[start:start + 256]
            self._cache.update(zip(batch, self.probabilities(batch)))
