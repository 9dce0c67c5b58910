"""Any OpenAI-compatible chat server: vLLM, TGI, llama.cpp server, or OpenAI itself.

This is how a deployment scales past one machine: `vllm serve MODEL --tensor-parallel-size N`
on each GPU host, several replicas behind a load balancer, and MedAssist pointed at it with
`--llm openai:MODEL@http://host:8000/v1`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from assistant.errors import ModelError
from assistant.llm.base import LLM, GenerationConfig
from assistant.types import Message


class OpenAILLM(LLM):
    """Chat completions over HTTP, streamed.

    Tool calls use the server's parser (vLLM: `--enable-auto-tool-choice --tool-call-parser hermes`
    for Qwen2.5); they come back here as `<tool_call>` text like the local backends'.
    """

    supports_tools = True

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        context_length: int = 8192,
        timeout: float = 120.0,
    ) -> None:
        from openai import OpenAI

        self.name = f"openai:{model}"
        self.model = model
        self.context_length = context_length
        self.client = OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY", "EMPTY"),
            timeout=timeout,
            max_retries=1,
        )

    def stream(self, messages: list[Message], config: GenerationConfig,
               tools: list[dict[str, Any]] | None = None) -> Iterator[str]:
        import openai

        calls: dict[int, dict[str, str]] = {}
        try:
            chunks = self.client.chat.completions.create(
                model=self.model,
                messages=list(messages),  # type: ignore[arg-type]
                max_tokens=config.max_new_tokens,
                temperature=config.temperature,
                top_p=config.top_p,
                seed=config.seed,
                stop=list(config.stop) or None,
                stream=True,
                **({"tools": tools} if tools else {}),  # type: ignore[arg-type]
            )
            for chunk in chunks:
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is None:
                    continue
                for call in delta.tool_calls or []:
                    slot = calls.setdefault(call.index, {"name": "", "arguments": ""})
                    if call.function is not None:
                        slot["name"] += call.function.name or ""
                        slot["arguments"] += call.function.arguments or ""
                if delta.content:
                    yield delta.content
        except openai.APIConnectionError as exc:
            raise ModelError(
                f"Cannot reach the model server at {self.client.base_url}: start it or fix --llm."
            ) from exc
        except openai.APIError as exc:
            raise ModelError(f"The model server returned an error: {exc.message}") from exc
        for _, call in sorted(calls.items()):
            yield f"<tool_call>{json.dumps({'name': call['name'], 'arguments': call['arguments'] or '{}'})}</tool_call>"
