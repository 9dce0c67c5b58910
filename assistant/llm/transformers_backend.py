"""Local models through transformers: packaged presets, hub ids and local directories.

bf16 with `device_map="auto"` (accelerate) on GPU, fp32 on CPU. Streaming runs `generate` in a
thread feeding a `TextIteratorStreamer` with a timeout, so a crashed or stuck generation surfaces
as a `ModelError` instead of a hang, and a consumer that stops reading stops the generation.

Prompt caching: the KV state of a leading system message is computed once and a copy of it is
handed to `generate` (transformers' documented "re-use a prompt cache" pattern), so every turn
prefills only what follows the fixed system prompt.
"""

from __future__ import annotations

import copy
import inspect
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import ModelError
from assistant.llm.base import LLM, GenerationConfig, GenerationStats
from assistant.types import Message

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class TransformersLLM(LLM):
    """A causal LM loaded with `AutoModelForCausalLM`.

    Args:
        source: a directory (converted preset or any saved model) or a Hugging Face model id.
        name: display name.
        gguf_file: load this GGUF file from `source` (slow: de-quantised on every load).
        context_length: prompt + answer budget in tokens.
        device: "cuda", "cpu" or None for automatic.
        timeout: seconds to wait for the next token before giving up.
        prompt_cache: keep the KV state of system prompts and reuse it (a few MB each).
    """

    max_cached_prefixes = 4

    def __init__(
        self,
        source: str | Path,
        name: str | None = None,
        gguf_file: str | None = None,
        context_length: int = 4096,
        device: str | None = None,
        timeout: float = 120.0,
        prompt_cache: bool = True,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = name or str(source)
        self.timeout = timeout
        use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if use_cuda else torch.float32}
        if use_cuda:
            kwargs["device_map"] = "auto"
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        if not use_cuda:
            torch.set_num_threads(os.cpu_count() or 1)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(source), gguf_file=gguf_file)
            self.model = AutoModelForCausalLM.from_pretrained(str(source), **kwargs).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"Could not load model {self.name!r} ({exc.__class__.__name__}): check the name or path, "
                "or run `medassist models list` for the packaged models."
            ) from exc
        if not self.tokenizer.chat_template:
            self.tokenizer.chat_template = CHATML
        self.supports_tools = "tools" in self.tokenizer.chat_template
        limit = getattr(self.model.config, "max_position_embeddings", None) or context_length
        self.context_length = min(context_length, limit)
        self.prompt_cache = prompt_cache
        self._prefixes: dict[tuple[int, ...], Any] = {}
        self._lock = threading.Lock()
        self.last_stats = GenerationStats()
        forward = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"

    def _prompt(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> str:
        return self.tokenizer.apply_chat_template(
            list(messages), tools=tools, tokenize=False, add_generation_prompt=True
        )

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, messages: list[Message]) -> int:
        return len(self._ids(self._prompt(messages)))

    def _cached_prefix(self, messages: list[Message], ids: list[int]) -> tuple[Any | None, int]:
        """A copy of the KV cache of the leading system message (None when there is none to reuse),
        and how many prompt tokens it saves this call (0 the first time a system prompt is seen)."""
        if not self.prompt_cache or not messages or messages[0]["role"] != "system":
            return None, 0
        system = self.tokenizer.apply_chat_template(list(messages[:1]), tokenize=False, add_generation_prompt=False)
        prefix = tuple(self._ids(system))
        if len(prefix) >= len(ids) or tuple(ids[: len(prefix)]) != prefix:
            return None, 0  # the template merges the system prompt into what follows
        with self._lock:
            saved = len(prefix) if prefix in self._prefixes else 0
            if not saved:
                self._prefixes[prefix] = self._prefill(list(prefix))
                while len(self._prefixes) > self.max_cached_prefixes:
                    self._prefixes.pop(next(iter(self._prefixes)))
            return copy.deepcopy(self._prefixes[prefix]), saved

    def _prefill(self, ids: list[int]) -> Any:
        import torch
        from transformers import DynamicCache

        cache = DynamicCache()
        with torch.inference_mode():
            self.model(input_ids=torch.tensor([ids], device=self.model.device), use_cache=True, **self._cache_kwarg(cache))
        return cache

    def _cache_kwarg(self, cache: Any) -> dict[str, Any]:
        """`cache=` in recent transformers 5 releases, `past_key_values=` before them."""
        return {self._cache_arg: cache}

    def _generate_kwargs(self, config: GenerationConfig) -> dict[str, Any]:
        sample = config.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "do_sample": sample,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sample:
            kwargs |= {"temperature": config.temperature, "top_p": config.top_p}
        else:
            kwargs |= {"temperature": None, "top_p": None, "top_k": None}
        if config.stop:
            kwargs |= {"stop_strings": list(config.stop), "tokenizer": self.tokenizer}
        return kwargs

    def stream(self, messages: list[Message], config: GenerationConfig,
               tools: list[dict[str, Any]] | None = None) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancelled = threading.Event()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        start = time.perf_counter()
        inputs = self.tokenizer(self._prompt(messages, tools), return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.model.device)
        ids = inputs["input_ids"][0].tolist()
        cache, saved = self._cached_prefix(messages, ids) if not tools else (None, 0)
        stats = GenerationStats(prompt_tokens=len(ids), cached_tokens=saved)
        self.last_stats = stats
        extra = self._cache_kwarg(cache) if cache is not None else {}
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout
        )
        errors: list[BaseException] = []

        def work() -> None:
            try:
                torch.manual_seed(config.seed)
                with torch.inference_mode():
                    self.model.generate(
                        **inputs,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancel()]),
                        **extra,
                        **self._generate_kwargs(config),
                    )
            except BaseException as exc:  # surfaced in the consumer thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="medassist-generate", daemon=True)
        thread.start()
        try:
            for text in streamer:
                if text:
                    stats.ttft = stats.ttft or time.perf_counter() - start
                    stats.completion_tokens += 1  # streamer chunks: about one token each
                    yield text
        except queue.Empty as exc:
            raise ModelError(f"The model produced nothing for {self.timeout:.0f} s; generation stopped.") from exc
        finally:
            cancelled.set()
            stats.seconds = time.perf_counter() - start
        thread.join(timeout=self.timeout)
        if errors:
            raise ModelError(f"Generation failed: {errors[0]}") from errors[0]
