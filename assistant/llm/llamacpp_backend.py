"""Local GGUF models through llama.cpp (llama-cpp-python): the CPU fast path.

Single-stream decoding on a CPU is memory-bound, and llama.cpp reads the 4-bit GGUF weights as
they are (no de-quantisation to fp32 as transformers does), so it decodes 2-3x faster here and
loads the packaged files directly, with no conversion step.

Notable choices:
- the prompt is rendered with the chat template stored in the GGUF (ChatML when it has none) and
  tokenised here, so `count_tokens` counts exactly what the model evaluates;
- prompt caching: llama-cpp-python already reuses the KV cache for the longest common prefix of
  consecutive prompts. We add a small cache of the KV state of each system prompt (a few MB, one
  per role), so a turn whose system prompt differs from the previous one (patient, then doctor)
  still skips re-evaluating it. `last_stats` reports prompt tokens, cached tokens and TTFT;
- one generation at a time per model (a lock): a llama.cpp context holds one sequence;
- `n_threads` defaults to the CPU cores this process may use (`MEDASSIST_LLM_THREADS` overrides:
  on a box shared with other busy processes, llama.cpp's spinning thread barriers make fewer
  threads faster).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError, ModelError
from assistant.llm.base import LLM, GenerationConfig, GenerationStats
from assistant.types import Message

log = logging.getLogger(__name__)

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INSTALL_HINT = (
    "llama-cpp-python is not installed: run `pip install 'medassist[llamacpp]'` "
    "(it builds llama.cpp from source, about 6-20 minutes), or use `--llm transformers:PRESET`."
)


def available() -> bool:
    """Whether llama-cpp-python can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def default_threads() -> int:
    """`MEDASSIST_LLM_THREADS` if set, else the CPU cores this process may run on.

    llama.cpp's threads wait for each other at every layer by spinning, so on a box where other
    busy processes compete for the cores fewer threads can be much faster: set the variable there.
    """
    env = os.environ.get("MEDASSIST_LLM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ConfigError(f"MEDASSIST_LLM_THREADS={env!r} is not a positive whole number: fix or unset it.")
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LlamaCppLLM(LLM):
    """A GGUF model run by llama.cpp.

    Args:
        model_path: the GGUF file.
        name: display name.
        context_length: context size in tokens (prompt + answer).
        n_threads: CPU threads (default: the cores this process may use).
        n_batch: prompt tokens evaluated per batch.
        n_gpu_layers: layers to offload when llama.cpp was built with a GPU backend (-1: all).
        flash_attn: use llama.cpp's fused attention kernel.
        prompt_cache: keep the KV state of system prompts between turns.

    Raises:
        ConfigError: llama-cpp-python is not installed.
        ModelError: the file is missing or is not a GGUF llama.cpp can load.
    """

    def __init__(
        self,
        model_path: str | Path,
        name: str | None = None,
        context_length: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        n_gpu_layers: int = -1,
        flash_attn: bool = False,
        prompt_cache: bool = True,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ConfigError(INSTALL_HINT) from exc
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"GGUF file {path} not found: check the path or run `medassist models list`.")
        self.name = name or path.stem
        self.n_threads = n_threads or default_threads()
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        try:
            self.model = llama_cpp.Llama(
                str(path), n_ctx=context_length, n_threads=self.n_threads, n_threads_batch=self.n_threads,
                n_batch=n_batch, n_gpu_layers=n_gpu_layers if gpu else 0, flash_attn=flash_attn, verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {path} ({exc}): is it a valid GGUF model?") from exc
        self.context_length = self.model.n_ctx()
        self._formatter = self._make_formatter(llama_cpp)
        self.supports_tools = "tools" in (self.model.metadata.get("tokenizer.chat_template") or "")
        self._lock = threading.Lock()
        self._prefixes: dict[tuple[int, ...], bytes] = {}
        self.prompt_cache = prompt_cache and _supports_prefix_cache(self.model)
        self.last_stats = GenerationStats()

    # -- prompt ------------------------------------------------------------------------------
    def _make_formatter(self, llama_cpp: Any) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.model.metadata.get("tokenizer.chat_template") or CHATML
        text = self.model._model.token_get_text  # noqa: SLF001 - the public API has no token text
        eos, bos = self.model.token_eos(), self.model.token_bos()
        return Jinja2ChatFormatter(template, eos_token=text(eos) if eos >= 0 else "",
                                   bos_token=text(bos) if bos >= 0 else "")

    def render(self, messages: list[Message], add_generation_prompt: bool = True,
               tools: list[dict[str, Any]] | None = None) -> str:
        """The prompt text for `messages` (and tool specs), in the model's chat template."""
        self._formatter.add_generation_prompt = add_generation_prompt
        try:
            return self._formatter(messages=list(messages), tools=tools).prompt
        finally:
            self._formatter.add_generation_prompt = True

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`; special tokens such as <|im_start|> are parsed, BOS added if the model wants one."""
        return self.model.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def count_tokens(self, messages: list[Message]) -> int:
        return len(self.tokenize(self.render(messages)))

    # -- generation --------------------------------------------------------------------------
    def stream(self, messages: list[Message], config: GenerationConfig,
               tools: list[dict[str, Any]] | None = None) -> Iterator[str]:
        tokens = self.tokenize(self.render(messages, tools=tools))
        if len(tokens) + 1 > self.context_length:
            raise ModelError(
                f"The prompt takes {len(tokens)} tokens, more than this model's context of "
                f"{self.context_length}: shorten the conversation."
            )
        max_new = max(1, min(config.max_new_tokens, self.context_length - len(tokens)))
        with self._lock:
            start = time.perf_counter()
            cached = self._restore_prefix(messages, tokens)
            stats = GenerationStats(prompt_tokens=len(tokens), cached_tokens=cached)
            self.last_stats = stats
            try:
                chunks = self.model.create_completion(
                    tokens, max_tokens=max_new, temperature=config.temperature, top_p=config.top_p,
                    top_k=0 if config.temperature > 0 else 1, min_p=0.0, repeat_penalty=1.0,
                    seed=config.seed, stop=list(config.stop) or None, stream=True,
                )
                for chunk in chunks:
                    stats.completion_tokens += 1
                    text = chunk["choices"][0]["text"]
                    if text:
                        if not stats.ttft:
                            stats.ttft = time.perf_counter() - start
                        yield text
            except (RuntimeError, ValueError) as exc:
                self.model.reset()
                raise ModelError(f"Generation failed in llama.cpp: {exc}") from exc
            finally:
                stats.seconds = time.perf_counter() - start

    # -- system-prompt cache -----------------------------------------------------------------
    def _restore_prefix(self, messages: list[Message], tokens: list[int]) -> int:
        """Make the context start with the longest known prefix of `tokens`.

        Returns:
            how many prompt tokens this call does not evaluate (reused live or restored state).
        """
        live = _common_prefix(self.model.input_ids[: self.model.n_tokens].tolist(), tokens)
        if not self.prompt_cache or not messages or messages[0]["role"] != "system":
            return live
        prefix = tuple(self.tokenize(self.render(messages[:1], add_generation_prompt=False)))
        if tuple(tokens[: len(prefix)]) != prefix or len(prefix) >= len(tokens):
            return live  # the template merges the system prompt into what follows: nothing to reuse
        if live >= len(prefix):
            return live
        if prefix in self._prefixes and self._load_sequence(prefix, self._prefixes[prefix]):
            return len(prefix)
        self.model.reset()  # first time this system prompt is seen: evaluate it alone and keep its state
        self.model.eval(list(prefix))
        self._prefixes[prefix] = self._save_sequence()
        return 0

    def _save_sequence(self) -> bytes:
        import llama_cpp

        ctx = self.model._ctx.ctx  # noqa: SLF001
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (llama_cpp.ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
        return bytes(buf[:written])

    def _load_sequence(self, prefix: tuple[int, ...], state: bytes) -> bool:
        import llama_cpp

        self.model.reset()
        self.model._ctx.kv_cache_seq_rm(-1, 0, -1)  # noqa: SLF001
        buf = (llama_cpp.ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(self.model._ctx.ctx, buf, len(state), 0) != len(state):  # noqa: SLF001
            log.warning("llama.cpp refused a cached prompt state; evaluating the prompt instead")
            self.model.reset()
            self._prefixes.pop(prefix, None)
            return False
        self.model.input_ids[: len(prefix)] = prefix
        self.model.n_tokens = len(prefix)
        self.model._requires_eval = True  # noqa: SLF001 - refresh logits before sampling
        return True


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _supports_prefix_cache(model: Any) -> bool:
    """The system-prompt cache uses a few llama-cpp-python internals; switch it off if they moved."""
    ok = all(hasattr(model, attr) for attr in ("_ctx", "_requires_eval", "input_ids", "n_tokens", "eval"))
    if not ok:
        log.info("llama-cpp-python internals changed: system-prompt cache off (prefix reuse still on)")
    return ok and not getattr(model, "_is_recurrent", False) and not getattr(model, "_is_hybrid", False)
