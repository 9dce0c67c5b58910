"""Log-likelihood scoring of answer options (the cheap second mode of multiple-choice eval).

As in lm-evaluation-harness's MMLU: the chat prompt ends where the assistant's answer starts, and
each option is scored by the log-probability the model gives its continuation (here the option
letter). Single-token continuations need one forward pass for all options; longer ones one pass
each. Consecutive prompts share a long prefix (system prompt, "Here is the question:"), so the
key/value cache of the previous prompt is cropped to the common prefix and reused: on a 2-core CPU
this cuts the prefill of a short MMLU question by a third or more. Needs a local transformers model (`TransformersLLM`): OpenAI-
compatible servers and the fake models cannot score.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from assistant.errors import ConfigError
from assistant.llm.base import LLM
from assistant.types import Message


class Scorer(Protocol):
    """Anything that scores continuations of a chat prompt."""

    def logprobs(self, messages: list[Message], continuations: list[str]) -> list[float]:
        """Log-probability of each continuation right after the assistant turn starts."""


class TransformersScorer:
    """Scores continuations with the model and tokenizer of a `TransformersLLM`."""

    def __init__(self, llm: LLM) -> None:
        if not hasattr(llm, "model") or not hasattr(llm, "tokenizer"):
            raise ConfigError(
                f"Log-likelihood mode needs a local transformers model, not {llm.name!r}: "
                "use --mode generate, or a preset / hub model."
            )
        self.llm: Any = llm

    def logprobs(self, messages: list[Message], continuations: list[str]) -> list[float]:
        import torch

        tok = self.llm.tokenizer
        prompt = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        prefix = tok(prompt, add_special_tokens=False)["input_ids"]
        conts = [tok(c, add_special_tokens=False)["input_ids"] for c in continuations]
        with torch.inference_mode():
            if all(len(c) == 1 for c in conts):
                logp = torch.log_softmax(self._last_logits(prefix), dim=-1)
                return [float(logp[c[0]]) for c in conts]
            return [self._sequence(prefix, c) for c in conts]

    def _last_logits(self, ids: list[int]) -> Any:
        """Next-token logits after `ids`, reusing the cached keys/values of the common prefix."""
        import torch

        model = self.llm.model
        cache, previous = getattr(self, "_cache", None), getattr(self, "_ids", [])
        shared = 0
        for a, b in zip(previous, ids[:-1]):  # keep at least one new token to compute logits from
            if a != b:
                break
            shared += 1
        if cache is not None and shared >= 8 and cache.get_seq_length() == len(previous):
            cache.crop(shared - len(previous))  # negative: drop the tokens after the shared prefix
            out = model(torch.tensor([ids[shared:]], device=model.device), use_cache=True, **{self._cache_kwarg: cache})
        else:
            out = model(torch.tensor([ids], device=model.device), use_cache=True)
        cache = getattr(out, "cache", None)
        self._cache = cache if cache is not None else getattr(out, "past_key_values", None)
        self._ids = list(ids)
        return out.logits[0, -1].float()

    @property
    def _cache_kwarg(self) -> str:
        # transformers >= 5.2x renames `past_key_values` to `cache` (the old name warns).
        params = inspect.signature(self.llm.model.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def _sequence(self, prefix: list[int], cont: list[int]) -> float:
        import torch

        model = self.llm.model
        ids = torch.tensor([prefix + cont], device=model.device)
        logp = torch.log_softmax(model(ids).logits[0, len(prefix) - 1 : -1].float(), dim=-1)
        return float(sum(logp[i, t] for i, t in enumerate(cont)))
