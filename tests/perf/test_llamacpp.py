"""The llama.cpp backend: selection rules (no weights) and the real packaged SmolLM2 GGUF (slow).

The backend tests skip only when llama-cpp-python is not importable; then `load_llm` must still
fall back to transformers and name the missing extra in its error.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from assistant.errors import ConfigError, ModelError
from assistant.llm import load_llm
from assistant.llm import llamacpp_backend
from assistant.llm.base import GenerationConfig

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python not installed (extra `llamacpp`)")
QUESTION = [
    {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
    {"role": "user", "content": "What is the capital of France?"},
]


# -- selection, no weights -----------------------------------------------------------------------
def test_presets_fall_back_to_transformers_without_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.llm as llm_pkg

    monkeypatch.setattr(llamacpp_backend, "available", lambda: False)
    assert llm_pkg._prefer_llamacpp() is False


def test_missing_extra_gives_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(ConfigError, match=r"medassist\[llamacpp\]"):
        load_llm(f"llamacpp:{gguf}")


@pytest.mark.parametrize("name", ["llamacpp:not-a-preset", "llamacpp:/no/such/dir"])
def test_llamacpp_spec_must_be_preset_or_gguf(name: str) -> None:
    with pytest.raises(ConfigError, match="neither a packaged preset nor a .gguf file"):
        load_llm(name)


def test_generation_stats_rate() -> None:
    stats = llamacpp_backend.GenerationStats(prompt_tokens=10, completion_tokens=11, ttft=1.0, seconds=3.0)
    assert stats.decode_tokens_per_s == pytest.approx(5.0)
    assert llamacpp_backend.GenerationStats().decode_tokens_per_s == 0.0


def test_default_threads_is_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDASSIST_LLM_THREADS", raising=False)
    assert llamacpp_backend.default_threads() >= 1
    monkeypatch.setenv("MEDASSIST_LLM_THREADS", "1")
    assert llamacpp_backend.default_threads() == 1
    monkeypatch.setenv("MEDASSIST_LLM_THREADS", "two")
    with pytest.raises(ConfigError, match="MEDASSIST_LLM_THREADS"):
        llamacpp_backend.default_threads()


# -- the real packaged model (SmolLM2-135M, Q4_1) ------------------------------------------------
@pytest.fixture(scope="module")
def smol() -> llamacpp_backend.LlamaCppLLM:
    if not HAVE_LLAMA:
        pytest.skip("llama-cpp-python not installed (extra `llamacpp`)")
    from assistant.llm import fetch
    from assistant.llm.catalog import CATALOG

    try:
        path = fetch.gguf_path(CATALOG["smollm2-135m"], verify=False)
    except ModelError as exc:
        pytest.skip(f"packaged test model missing: {exc}")
    return llamacpp_backend.LlamaCppLLM(path, name="smollm2-135m", context_length=1024)


@needs_llama
@pytest.mark.slow
def test_load_llm_selects_llamacpp(smol: llamacpp_backend.LlamaCppLLM) -> None:
    llm = load_llm("llamacpp:smollm2-135m", context_length=512)
    assert isinstance(llm, llamacpp_backend.LlamaCppLLM)
    assert llm.name == "smollm2-135m" and llm.context_length == 512
    import torch

    if not torch.cuda.is_available():  # the CPU default for presets
        assert isinstance(load_llm("smollm2-135m", context_length=512), llamacpp_backend.LlamaCppLLM)


@needs_llama
@pytest.mark.slow
def test_chat_template_comes_from_the_gguf(smol: llamacpp_backend.LlamaCppLLM) -> None:
    prompt = smol.render(QUESTION)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.")
    assert prompt.endswith("<|im_start|>assistant\n")
    tokens = smol.tokenize(prompt)
    assert smol.count_tokens(QUESTION) == len(tokens)
    im_start = smol.model.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert len(im_start) == 1 and tokens.count(im_start[0]) == 3  # parsed as special tokens, not text


@needs_llama
@pytest.mark.slow
def test_stream_is_greedy_and_reports_stats(smol: llamacpp_backend.LlamaCppLLM) -> None:
    config = GenerationConfig(max_new_tokens=12)
    first = "".join(smol.stream(QUESTION, config))
    stats = smol.last_stats
    second = smol.generate(QUESTION, config)
    assert first and first == second
    assert "Paris" in first
    assert stats.prompt_tokens == smol.count_tokens(QUESTION)
    assert 0 < stats.ttft <= stats.seconds and 1 <= stats.completion_tokens <= 12


@needs_llama
@pytest.mark.slow
def test_cached_system_prompt_gives_the_same_answer(smol: llamacpp_backend.LlamaCppLLM) -> None:
    config = GenerationConfig(max_new_tokens=10)
    other = [QUESTION[0], {"role": "user", "content": "Name a primary colour."}]
    smol.prompt_cache = False
    smol.model.reset()
    cold = smol.generate(other, config)
    smol.prompt_cache = True
    smol._prefixes.clear()
    smol.model.reset()
    smol.generate(QUESTION, config)  # fills the cache with the system prompt's state
    assert smol.last_stats.cached_tokens == 0  # first sight: evaluated, not reused
    smol.model.reset()  # forget the live context: only the cached state can help now
    warm = smol.generate(other, config)
    system_tokens = len(smol.tokenize(smol.render(QUESTION[:1], add_generation_prompt=False)))
    assert smol.last_stats.cached_tokens == system_tokens > 0
    assert warm == cold


@needs_llama
@pytest.mark.slow
def test_prompt_longer_than_context_is_a_clear_error(smol: llamacpp_backend.LlamaCppLLM) -> None:
    long = [{"role": "user", "content": "word " * 2000}]
    with pytest.raises(ModelError, match="more than this model's context"):
        list(smol.stream(long, GenerationConfig(max_new_tokens=4)))
    assert smol.generate(QUESTION, GenerationConfig(max_new_tokens=4))  # still serving


@needs_llama
def test_missing_or_bad_file_is_a_model_error(tmp_path) -> None:
    with pytest.raises(ModelError, match="not found"):
        llamacpp_backend.LlamaCppLLM(tmp_path / "none.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelError, match="valid GGUF"):
        llamacpp_backend.LlamaCppLLM(bad)
