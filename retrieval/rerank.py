"""Optional second stage: re-order fused hits with a cross-encoder.

No cross-encoder ships on PyPI, so this is off by default; with internet, set
`MEDASSIST_RERANKER=cross-encoder/ms-marco-MiniLM-L-6-v2` (or `ncbi/MedCPT-Cross-Encoder`, or a
local folder). The cross-encoder sees (query, chunk text) pairs of the fused candidates and
re-orders them; each hit keeps its cosine `score`, so the relevance threshold means the same with
or without it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assistant.errors import ConfigError
from retrieval.documents import Hit


class CrossEncoderRescorer:
    """Callable `(query, hits) -> hits` re-ordered by a sentence-transformers `CrossEncoder`.

    Args:
        model: a loaded CrossEncoder-like object with `predict(pairs)`.
        top: how many of the fused candidates to re-score (the rest keep their order after them).
    """

    def __init__(self, model: Any, top: int = 20) -> None:
        self.model = model
        self.top = top

    def __call__(self, query: str, hits: list[Hit]) -> list[Hit]:
        head, tail = hits[: self.top], hits[self.top:]
        scores = self.model.predict([(query, h.text) for h in head])
        order = sorted(range(len(head)), key=lambda i: -float(scores[i]))
        return [replace(head[i], rank=rank) for rank, i in enumerate(order, 1)] + tail


def load_rescorer(name: str | None, device: str | None = None) -> CrossEncoderRescorer | None:
    """The cross-encoder called `name` (hub id or folder), or None when `name` is empty.

    Raises:
        ConfigError: the model cannot be loaded (offline, or a wrong name).
    """
    if not name:
        return None
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoderRescorer(CrossEncoder(name, device=device))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot load the reranker {name!r} ({exc}): unset MEDASSIST_RERANKER or give a "
                          "local cross-encoder folder.") from exc
