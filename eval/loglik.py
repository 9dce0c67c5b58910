"""Log-likelihood scoring of answer options (the cheap second mode of multiple-choice eval).

As in lm-evaluation-harness's MMLU: the chat prompt ends where the assistant's answer starts, and
each option is scored by the log-probability the model gives its continuation (here the option
letter). Single-token continuations need one forward pass for all options; longer ones are scored
token by token in one batch. Needs a local transformers model (`TransformersLLM`): OpenAI-
compatible servers and the fake models cannot score.
"""

from __future__ import annotations

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

        tok, model = self.llm.tokenizer, self.llm.model
        prompt = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        prefix = tok(prompt, add_special_tokens=False)["input_ids"]
        conts = [tok(c, add_special_tokens=False)["input_ids"] for c in continuations]
        with torch.inference_mode():
            if all(len(c) == 1 for c in conts):
                logits = model(torch.tensor([prefix], device=model.device)).logits[0, -1].float()
                logp = torch.log_softmax(logits, dim=-1)
                return [float(logp[c[0]]) for c in conts]
            return [self._sequence(prefix, c) for c in conts]

    def _sequence(self, prefix: list[int], cont: list[int]) -> float:
        import torch

        model = self.llm.model
        ids = torch.tensor([prefix + cont], device=model.device)
        logp = torch.log_softmax(model(ids).logits[0, len(prefix) - 1 : -1].float(), dim=-1)
        return float(sum(logp[i, t] for i, t in enumerate(cont)))
