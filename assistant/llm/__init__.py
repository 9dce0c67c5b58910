"""LLM backends and the config string that selects one.

`load_llm(spec)` accepts:
- `fake`, `echo`: no weights (tests, safety attacks);
- a packaged preset (`qwen2.5-coder-1.5b`, `qwen2.5-coder-0.5b`, `smollm2-135m`), run with
  llama.cpp straight from its GGUF when llama-cpp-python is installed and no CUDA GPU is visible
  (the CPU fast path), else with transformers from its converted copy;
- `llamacpp:PRESET` or `llamacpp:/path/model.gguf`: llama.cpp; `transformers:PRESET`: transformers;
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


def _prefer_llamacpp() -> bool:
    """llama.cpp for presets when it is installed and either has a GPU backend or no CUDA GPU is visible."""
    from assistant.llm import llamacpp_backend

    if not llamacpp_backend.available():
        return False
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        return True
    import torch

    return not torch.cuda.is_available()


def _llamacpp(source: str, context_length: int | None) -> LLM:
    from assistant.llm import fetch
    from assistant.llm.llamacpp_backend import LlamaCppLLM

    if source in CATALOG:
        spec = CATALOG[source]
        path = fetch.gguf_path(spec, verify=False)  # raises a clear ModelError when not fetched
        return LlamaCppLLM(path, name=spec.name, context_length=context_length or spec.context_length)
    if not source.endswith(".gguf"):
        raise ConfigError(f"llamacpp:{source} is neither a packaged preset nor a .gguf file: use one of {', '.join(CATALOG)} or a path.")
    return LlamaCppLLM(source, context_length=context_length or 4096)


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
    if name.startswith("llamacpp:"):
        return _llamacpp(name.removeprefix("llamacpp:"), context_length)
    if name.startswith("transformers:") and name.removeprefix("transformers:") in CATALOG:
        return _preset(CATALOG[name.removeprefix("transformers:")], context_length)
    if name in CATALOG:
        if _prefer_llamacpp():
            return _llamacpp(name, context_length)
        return _preset(CATALOG[name], context_length)
    if name.endswith(".gguf") and Path(name).is_file():
        return _llamacpp(name, context_length)
    if name.startswith("openai:"):
        from assistant.llm.openai_backend import OpenAILLM

        model, _, base_url = name.removeprefix("openai:").partition("@")
        return OpenAILLM(model, base_url=base_url or None, context_length=context_length or 8192)
    source = name.removeprefix("hf:").removeprefix("transformers:")
    if (source and Path(source).is_dir()) or (source.count("/") == 1 and not source.startswith((".", "/"))):
        from assistant.llm.transformers_backend import TransformersLLM

        return TransformersLLM(source, context_length=context_length or 4096)
    raise ConfigError(
        f"Unknown model {name!r}: use one of {', '.join(['fake', 'echo', *CATALOG])}, "
        "llamacpp:PRESET or llamacpp:FILE.gguf, a Hugging Face id (org/name), a local directory, or openai:MODEL@URL."
    )
