"""LLM backends and the config string that selects one.

`load_llm(spec)` accepts:
- `fake`, `echo`: no weights (tests, safety attacks);
- a packaged preset (`qwen2.5-coder-1.5b`, `qwen2.5-coder-0.5b`, `smollm2-135m`), run with
  transformers from its converted copy;
- `openai:MODEL[@BASE_URL]`: any OpenAI-compatible server (vLLM, TGI, llama.cpp server);
- `hf:ID` or a bare hub id / local directory: transformers, bf16 + device_map="auto" on GPU.
"""

from __future__ import annotations

from pathlib import Path

from assistant.errors import ConfigError
from assistant.llm.base import LLM, GenerationConfig
from assistant.llm.catalog import CATALOG, DEFAULT_MODEL, ModelSpec
from assistant.llm.fake import EchoLLM, FakeLLM

__all__ = ["LLM", "GenerationConfig", "CATALOG", "DEFAULT_MODEL", "ModelSpec", "load_llm"]


def _preset(spec: ModelSpec, context_length: int | None) -> LLM:
    from assistant.llm import fetch
    from assistant.llm.transformers_backend import TransformersLLM

    path = fetch.converted_dir(spec)
    if not (path / "config.json").is_file():
        path = fetch.convert(spec)  # raises a clear ModelError when the packages are missing
    return TransformersLLM(path, name=spec.name, context_length=context_length or spec.context_length)


def load_llm(name: str, context_length: int | None = None) -> LLM:
    """Build the LLM that the config string `name` selects.

    Raises:
        ConfigError: the name matches no backend, preset, directory or hub id.
        ModelError: the model exists but cannot be loaded.
    """
    name = name.strip()
    if name in ("fake", "echo"):
        cls = FakeLLM if name == "fake" else EchoLLM
        return cls(context_length=context_length or 4096)
    if name in CATALOG:
        return _preset(CATALOG[name], context_length)
    if name.startswith("openai:"):
        from assistant.llm.openai_backend import OpenAILLM

        model, _, base_url = name.removeprefix("openai:").partition("@")
        return OpenAILLM(model, base_url=base_url or None, context_length=context_length or 8192)
    source = name.removeprefix("hf:")
    if source and Path(source).is_dir() or (source.count("/") == 1 and not source.startswith((".", "/"))):
        from assistant.llm.transformers_backend import TransformersLLM

        return TransformersLLM(source, context_length=context_length or 4096)
    raise ConfigError(
        f"Unknown model {name!r}: use one of {', '.join(['fake', 'echo', *CATALOG])}, "
        "a Hugging Face id (org/name), a local directory, or openai:MODEL@URL."
    )
