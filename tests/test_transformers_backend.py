"""The transformers backend on the real packaged SmolLM2-135M (slow: converts it once, ~20 s)."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.engine import Assistant
from assistant.errors import ModelError
from assistant.llm import GenerationConfig, load_llm
from assistant.types import Turn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol():
    return load_llm("transformers:smollm2-135m")  # this file tests the transformers backend


def test_generates_real_text(smol) -> None:
    out = smol.generate([{"role": "user", "content": "Name one organ of the human body."}],
                        GenerationConfig(max_new_tokens=12))
    assert len(out.split()) >= 2 and "<|im_end|>" not in out


def test_greedy_is_deterministic(smol) -> None:
    msgs = [{"role": "user", "content": "What is a fever?"}]
    cfg = GenerationConfig(max_new_tokens=8)
    assert smol.generate(msgs, cfg) == smol.generate(msgs, cfg)


def test_count_tokens_uses_chat_template(smol) -> None:
    short = smol.count_tokens([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    longer = smol.count_tokens([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi " * 20}])
    assert 5 < short < longer  # role markers are counted, not just the words


def test_generation_failure_surfaces_as_model_error(smol, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(**kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(smol.model, "generate", boom)
    with pytest.raises(ModelError, match="Generation failed"):
        smol.generate([{"role": "user", "content": "hi"}])


def test_consumer_stopping_cancels_generation(smol) -> None:
    before = threading.active_count()
    stream = smol.stream([{"role": "user", "content": "Count from one to one hundred."}],
                         GenerationConfig(max_new_tokens=400))
    next(stream)
    stream.close()
    deadline = time.time() + 10
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_assistant_turn_with_real_model(smol) -> None:
    result = Assistant(smol, generation=GenerationConfig(max_new_tokens=24)).ask(Turn("What is asthma? Answer in one sentence.", role="patient"))
    assert result.answer.strip() and result.model.endswith("smollm2-135m")
    assert result.timings["prefill"] > 0 and result.timings["total"] >= result.timings["llm"]


def test_system_prompt_cache_gives_the_same_answer(smol) -> None:
    system = {"role": "system", "content": "You are a careful medical assistant. Cite sources. " * 8}
    msgs = [system, {"role": "user", "content": "What is a fever? Answer briefly."}]
    cfg = GenerationConfig(max_new_tokens=16)
    smol.prompt_cache = False
    try:
        plain = smol.generate(msgs, cfg)
        assert smol.last_stats.cached_tokens == 0
    finally:
        smol.prompt_cache = True
    assert smol.generate(msgs, cfg) == plain  # first sight of this system prompt: computed, not saved
    assert smol.last_stats.cached_tokens == 0
    assert smol.generate(msgs, cfg) == plain and smol.last_stats.cached_tokens > 0
    again = smol.generate([system, {"role": "user", "content": "And a cough?"}], cfg)
    assert again.strip() and 0 < smol.last_stats.cached_tokens < smol.last_stats.prompt_tokens
    smol.generate([{"role": "user", "content": "hi"}], cfg)
    assert smol.last_stats.cached_tokens == 0  # no system message: nothing to reuse
