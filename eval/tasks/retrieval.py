"""Retrieval quality: recall@k, MRR@10 and nDCG@10 on questions whose relevant documents are known.

The built-in set is generated, deterministically, from the packaged open-medicine guideline
summaries: for every section file, questions are written from its headings ("What does the
<guideline> guidance say about <heading>?") and held to the document they came from
(`open-medicine/<guideline>/<section>`, the retrieval corpus's document ids). Heading-derived
questions share words with their source, so this measures the easier end of retrieval; users bring
harder sets in BEIR format (`--data FOLDER` with `queries.jsonl` and `qrels/test.tsv`).

Retrieval returns chunks; they are collapsed to documents in rank order before scoring. Uses the
cross-area contract `retrieval.open_retriever(index_dir, embedder).search(query, k)`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, ClassVar

from assistant.errors import ConfigError
from assistant.assets import package_path
from eval.data import Example, Malformed, load_beir
from eval.stats import bootstrap
from eval.tasks.base import Aggregate, Context, Task

K_VALUES = (1, 5, 10)
CHUNKS_PER_QUERY = 50  # chunks fetched per query, so that ten distinct documents remain after collapsing
HEADINGS_PER_DOC = 2


def _title(markdown: str, fallback: str) -> str:
    m = re.search(r"^#\s+(.+)$", markdown, flags=re.M)
    title = m.group(1) if m else fallback
    return re.split(r"\s+[—-]\s+", title)[0].strip()


def _headings(markdown: str) -> list[str]:
    found = re.findall(r"^#{2,3}\s+(.+)$", markdown, flags=re.M)
    clean = [re.sub(r"^[\dIVX]+[.)]\s*", "", h).strip(" *#") for h in found]
    return [h for h in clean if len(h.split()) >= 2 and not h.lower().startswith(("key ", "summary", "references"))]


def open_medicine_questions(root: Path | None = None) -> list[Example]:
    """Questions written from the headings of each open-medicine section file, with their source document.

    Returns:
        Examples `{"id", "query", "relevant": {doc_id: 1}, "group"}`, in a stable order.
    """
    root = root or package_path("open_medicine", "guidelines/registry.json").parent / "content"
    examples = []
    for path in sorted(root.glob("*/*.md")):
        text = path.read_text(encoding="utf-8")
        guideline, section = path.parent.name, path.stem
        doc_id = f"open-medicine/{guideline}/{section}"
        title = _title(text, section.replace("_", " "))
        for n, heading in enumerate(_headings(text)[:HEADINGS_PER_DOC]):
            examples.append({"id": f"{doc_id}/q{n}", "query": f"What does the {title} guidance say about {heading}?",
                             "relevant": {doc_id: 1}, "group": guideline})
    return examples


def write_beir(examples: list[Example], folder: Path) -> Path:
    """Write a question set in BEIR format (`queries.jsonl`, `qrels/test.tsv`) for other tools."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps({"_id": ex["id"], "text": ex["query"]}) + "\n")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for ex in examples:
            f.writelines(f"{ex['id']}\t{doc}\t{grade}\n" for doc, grade in ex["relevant"].items())
    return folder


def rank_metrics(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    """recall@k, reciprocal rank (within 10) and nDCG@10 of a ranked list of document ids."""
    out: dict[str, float] = {}
    n_rel = len(relevant)
    for k in K_VALUES:
        out[f"recall@{k}"] = sum(1 for d in ranked[:k] if d in relevant) / n_rel
    first = next((i for i, d in enumerate(ranked[:10], 1) if d in relevant), None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(i + 1) for i, d in enumerate(ranked[:10], 1))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    out["ndcg@10"] = dcg / idcg if idcg else 0.0
    return out


def collapse(doc_ids: list[str]) -> list[str]:
    """Document ids in first-seen order (chunks of one document count once, at their best rank)."""
    seen: dict[str, None] = {}
    for d in doc_ids:
        seen.setdefault(d, None)
    return list(seen)


class RetrievalQuality(Task):
    name: ClassVar[str] = "retrieval"
    description: ClassVar[str] = ("retrieval quality (recall@k, MRR@10, nDCG@10): open-medicine heading "
                                  "questions, or --data BEIR_FOLDER")
    primary: ClassVar[str] = "ndcg@10"

    def options(self, ctx: Context) -> dict[str, Any]:
        return {"chunks_per_query": CHUNKS_PER_QUERY, "headings_per_doc": HEADINGS_PER_DOC}

    def load(self, ctx: Context) -> tuple[list[Example], Malformed]:
        if ctx.config.data:
            return load_beir(Path(ctx.config.data))
        return open_medicine_questions(), []

    def retriever(self, ctx: Context) -> Any:
        if ctx.retriever is None:
            try:
                from retrieval import open_retriever
            except ImportError as exc:
                raise ConfigError("The retrieval package is not installed in this build: "
                                  "install MedAssist with its retrieval module.") from exc
            ctx.retriever = open_retriever(ctx.settings.index_dir, ctx.settings.embedder)
        return ctx.retriever

    def evaluate(self, example: Example, ctx: Context) -> dict[str, Any]:
        import time

        t0 = time.perf_counter()
        hits = self.retriever(ctx).search(example["query"], k=CHUNKS_PER_QUERY)
        seconds = time.perf_counter() - t0
        ranked = collapse([h.doc_id for h in hits])
        metrics = rank_metrics(ranked, example["relevant"])
        return {"query": example["query"], "group": example.get("group", ""), "relevant": example["relevant"],
                "retrieved": ranked[:10], "chunk_ids": [h.id for h in hits[:10]],
                "hit@10": metrics["recall@10"] > 0, **metrics, "timings": {"retrieval": round(seconds, 4)}}

    def aggregate(self, rows: list[dict[str, Any]], ctx: Context) -> Aggregate:
        names = [f"recall@{k}" for k in K_VALUES] + ["mrr@10", "ndcg@10"]
        return Aggregate({m: bootstrap([r[m] for r in rows], ctx.config.seed) for m in names})
