"""LLM backends: the config string, fakes, the OpenAI-compatible client, the model catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError, ModelError
from assistant.llm import CATALOG, GenerationConfig, load_llm
from assistant.llm import fetch as fetch_mod
from assistant.llm.catalog import ModelSpec
from assistant.llm.fake import EchoLLM, FakeLLM


def test_config_string_selects_fakes() -> None:
    assert isinstance(load_llm("fake"), FakeLLM)
    assert isinstance(load_llm("echo"), EchoLLM)


@pytest.mark.parametrize("name", ["nope", "qwen-huge", "./not/a/dir", ""])
def test_unknown_model_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="Unknown model"):
        load_llm(name)


def test_echo_returns_whole_prompt_including_system() -> None:
    out = EchoLLM().generate([{"role": "system", "content": "SECRET"}, {"role": "user", "content": "hi"}])
    assert "system: SECRET" in out and "user: hi" in out


def test_fake_respects_max_new_tokens() -> None:
    out = list(FakeLLM().stream([{"role": "user", "content": "q"}], GenerationConfig(max_new_tokens=3)))
    assert len(out) == 3


def test_catalog_presets() -> None:
    assert {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"} <= set(CATALOG)
    for spec in CATALOG.values():
        assert len(spec.sha256) == 64 and spec.hub_id.count("/") == 1
        assert len(spec.packages) == max(len(spec.parts), 1)


def _spec(tmp_path: Path, sha: str) -> ModelSpec:
    return ModelSpec(name="tiny", packages=("tiny-pkg==1",), gguf_package="tiny_pkg", gguf_file="m.gguf",
                     sha256=sha, hub_id="org/tiny")


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF not really")
    monkeypatch.setattr(fetch_mod, "_package_dir", lambda name: tmp_path)
    with pytest.raises(ModelError, match="sha256"):
        fetch_mod.gguf_path(_spec(tmp_path, "0" * 64))
    good = fetch_mod.sha256_file(tmp_path / "m.gguf")
    assert fetch_mod.gguf_path(_spec(tmp_path, good)) == tmp_path / "m.gguf"


def test_missing_package_says_how_to_fetch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fetch_mod, "_package_dir", lambda name: None)
    with pytest.raises(ModelError, match="medassist models fetch tiny"):
        fetch_mod.gguf_path(_spec(tmp_path, "0" * 64))


def test_split_parts_are_assembled_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, chunk in enumerate([b"abc", b"def"], 1):
        (tmp_path / f"p{i}" / "data").mkdir(parents=True)
        (tmp_path / f"p{i}" / "data" / f"part0{i}.bin").write_bytes(chunk)
    monkeypatch.setenv("MEDASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch_mod, "_package_dir", lambda name: tmp_path / name)
    import hashlib

    spec = ModelSpec(name="split", packages=("a==1", "b==1"), parts=("p1", "p2"), gguf_file="m.gguf",
                     sha256=hashlib.sha256(b"abcdef").hexdigest(), hub_id="org/split")
    path = fetch_mod.gguf_path(spec)
    assert path.read_bytes() == b"abcdef" and path.parent == tmp_path / "cache" / "models" / "split"
    bad = ModelSpec(**{**spec.__dict__, "name": "bad", "sha256": "1" * 64})
    with pytest.raises(ModelError, match="sha256"):
        fetch_mod.gguf_path(bad)
    assert not (tmp_path / "cache" / "models" / "bad" / "m.gguf").exists()  # nothing half-written


def test_openai_backend_streams_from_compatible_server(chat_server) -> None:
    url, requests = chat_server([{"content": "Hello"}, {"content": " there"}])
    llm = load_llm(f"openai:tiny@{url}")
    pieces = list(llm.stream([{"role": "user", "content": "hi"}], GenerationConfig(max_new_tokens=7)))
    assert pieces == ["Hello", " there"]
    assert requests[0]["model"] == "tiny" and requests[0]["max_tokens"] == 7 and requests[0]["stream"] is True


def test_openai_backend_unreachable_is_a_model_error() -> None:
    llm = load_llm("openai:tiny@http://127.0.0.1:9/v1")
    with pytest.raises(ModelError, match="Cannot reach"):
        llm.generate([{"role": "user", "content": "hi"}])
