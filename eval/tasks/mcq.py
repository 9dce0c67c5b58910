"""Multiple-choice medical QA in the MIRAGE protocol: MMLU-Med, MedQA-US, MedMCQA, PubMedQA*, BioASQ-Y/N.

MIRAGE (Xiong et al., 2024, "Benchmarking Retrieval-Augmented Generation for Medicine"): zero-shot,
retrieval with the question only (never the options), MedRAG's prompt, and the answer letter parsed
from the model's output; an unparseable answer counts as wrong. `--mode loglik` instead scores the
option letters by log-probability after a "letter only" prompt (one forward pass per question),
which is cheap on CPU and never fails to parse, but is not the MIRAGE number.

Retrieval goes through the Assistant's own retrieval tool, so RAG here measures what the product
retrieves; the MCQ prompt is MIRAGE's rather than the chat prompt, so the numbers compare with
MedRAG's.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any, ClassVar

import prompts
from assistant.errors import InputError
from assistant.types import Message
from eval.data import Example, Malformed, load_mcq, stratified_subset
from eval.stats import bootstrap, ece, reliability
from eval.tasks.base import Aggregate, Context, Task


def parse_answer(text: str, letters: str) -> str | None:
    """The option letter a model's output chooses, or None when it commits to none.

    Tries, in order: MIRAGE's JSON field `answer_choice`, phrases like "answer is (B)" or
    "Answer: B", an output that starts with a letter ("B", "B.", "(B)"), and finally a single
    distinct standalone option letter anywhere in the output.
    """
    choice = "[" + re.escape(letters) + "]"
    patterns = (  # (pattern, case-insensitive)
        (rf'"?answer_choice"?\s*:\s*"?\(?({choice})\b', True),
        (rf"answer\s*(?:is|:)\s*(?:option\s*)?[\"'(\[]?\s*({choice})\b", True),
        (rf"^\s*[\"'(\[]?({choice})(?:[\"').\]:,]|\s*$)", False),
    )
    for pattern, nocase in patterns:
        m = re.search(pattern, text, flags=re.I if nocase else 0)
        if m and m.group(1).upper() in letters:
            return m.group(1).upper()
    # Last resort: one distinct letter written as an option ("(C)", "C.", "option C"), never the article "A".
    found = set(re.findall(rf"\(({choice})\)|\b({choice})[.)](?!\w)|(?:option|choice)\s+({choice})\b", text))
    letters_found = {x for group in found for x in group if x}
    return letters_found.pop() if len(letters_found) == 1 else None


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exp = [math.exp(v - top) for v in values]
    return [e / sum(exp) for e in exp]


class MultipleChoiceTask(Task):
    """A MIRAGE-style multiple-choice task over examples `{id, question, options, answer, subject}`."""

    name: ClassVar[str] = "mcq"
    description: ClassVar[str] = "multiple-choice medical QA"

    def options(self, ctx: Context) -> dict[str, Any]:
        opts: dict[str, Any] = {"prompt": ["eval_mcq_system", "eval_mcq_user"]}
        if ctx.config.mode == "generate":
            opts["max_new_tokens"] = ctx.get_assistant().generation.max_new_tokens
        return opts

    def load(self, ctx: Context) -> tuple[list[Example], Malformed]:
        examples, bad = load_mcq(self.name, ctx.config.data)
        if ctx.config.subset:
            examples = stratified_subset(examples, ctx.config.subset, ctx.config.seed)
        return examples, bad

    def messages(self, example: Example, documents: list[dict[str, str]], style: str) -> list[Message]:
        system = prompts.render("eval_mcq_system", style=style, documents=documents)
        user = prompts.render("eval_mcq_user", style=style, documents=documents,
                              question=example["question"], options=example["options"])
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def evaluate(self, example: Example, ctx: Context) -> dict[str, Any]:
        timings: dict[str, float] = {}
        documents, retrieved = self._retrieve(example["question"], ctx, timings)
        style = "direct" if ctx.config.mode == "loglik" else "cot"
        messages, shown = self._fit(example, documents, style, ctx)
        row: dict[str, Any] = {"subject": example["subject"], "answer": example["answer"],
                               "retrieved": retrieved, "shown": shown, "prompt": messages}
        if ctx.config.mode == "loglik":
            row |= self._score(example, messages, ctx, timings)
        else:
            row |= self._generate(example, messages, ctx, timings)
        row["correct"] = row["parsed"] == example["answer"]
        row["timings"] = {k: round(v, 4) for k, v in timings.items()}
        return row

    def _retrieve(self, question: str, ctx: Context, timings: dict[str, float]) -> tuple[list[dict[str, str]], list[str]]:
        tool = ctx.retrieval_tool()
        if tool is None:
            return [], []
        t0 = time.perf_counter()
        output = tool(query=question)  # MIRAGE: retrieve with the question only, never the options
        timings["retrieval"] = time.perf_counter() - t0
        docs = [{"id": c.id, "title": c.title, "text": c.text} for c in output.citations]
        return docs, [c.id for c in output.citations]

    def _fit(self, example: Example, documents: list[dict[str, str]], style: str,
             ctx: Context) -> tuple[list[Message], list[str]]:
        """Drop the lowest-ranked documents until the prompt fits; returns it and the ids shown."""
        assistant = ctx.get_assistant()
        budget = assistant.llm.context_length - (assistant.generation.max_new_tokens if style == "cot" else 1)
        docs = list(documents)
        messages = self.messages(example, docs, style)
        while docs and assistant.llm.count_tokens(messages) > budget:
            docs.pop()
            messages = self.messages(example, docs, style)
        if assistant.llm.count_tokens(messages) > budget:
            raise InputError(f"Question {example['id']} does not fit the model's context of "
                             f"{assistant.llm.context_length} tokens.")
        return messages, [d["id"] for d in docs]

    def _generate(self, example: Example, messages: list[Message], ctx: Context, timings: dict[str, float]) -> dict[str, Any]:
        assistant = ctx.get_assistant()
        pieces, t0, first = [], time.perf_counter(), None
        for chunk in assistant.llm.stream(messages, assistant.generation):
            first = first or time.perf_counter()
            pieces.append(chunk)
        end = time.perf_counter()
        timings |= {"prefill": (first or end) - t0, "decode": end - (first or end), "llm": end - t0}
        raw = "".join(pieces)
        return {"raw_output": raw, "parsed": parse_answer(raw, "".join(example["options"]))}

    def _score(self, example: Example, messages: list[Message], ctx: Context, timings: dict[str, float]) -> dict[str, Any]:
        letters = list(example["options"])
        t0 = time.perf_counter()
        logprobs = ctx.get_scorer().logprobs(messages, letters)
        timings["prefill"] = timings["llm"] = time.perf_counter() - t0
        probs = _softmax(logprobs)
        best = max(range(len(letters)), key=lambda i: (probs[i], -i))
        return {"raw_output": json.dumps(dict(zip(letters, [round(p, 6) for p in logprobs]))),
                "parsed": letters[best], "option_probs": dict(zip(letters, [round(p, 6) for p in probs])),
                "confidence": round(probs[best], 6)}

    def aggregate(self, rows: list[dict[str, Any]], ctx: Context) -> Aggregate:
        seed = ctx.config.seed
        correct = [bool(r["correct"]) for r in rows]
        metrics = {"accuracy": bootstrap(correct, seed),
                   "parsed": bootstrap([r["parsed"] is not None for r in rows], seed)}
        groups: dict[str, dict[str, Any]] = {}
        for subject in sorted({r["subject"] for r in rows}):
            groups[subject] = {"accuracy": bootstrap([r["correct"] for r in rows if r["subject"] == subject], seed)}
        extra: dict[str, Any] = {}
        confident = [r for r in rows if r.get("confidence") is not None]
        if confident:
            conf = [r["confidence"] for r in confident]
            ok = [bool(r["correct"]) for r in confident]
            metrics["ece"] = bootstrap(list(range(len(conf))), seed,
                                       statistic=lambda ix, c=conf, y=ok: _ece_of(ix, c, y))
            extra["reliability"] = reliability(conf, ok)
        return Aggregate(metrics, groups, extra)


def _ece_of(index: Any, conf: list[float], ok: list[bool]) -> float:
    import numpy as np

    ix = np.asarray(index, dtype=int)
    return ece(np.asarray(conf)[ix], np.asarray(ok)[ix])


class MMLUMed(MultipleChoiceTask):
    name = "mmlu-med"
    description = "MMLU-Med: 1,089 questions, six medical MMLU topics (packaged; MIRAGE's set)"


class MedQA(MultipleChoiceTask):
    name = "medqa"
    description = "MedQA-US (USMLE, 4 options): --data benchmark.json | FILE.jsonl | hf"


class MedMCQA(MultipleChoiceTask):
    name = "medmcqa"
    description = "MedMCQA (dev set): --data benchmark.json | FILE.jsonl | hf"


class PubMedQA(MultipleChoiceTask):
    name = "pubmedqa"
    description = "PubMedQA* (yes/no/maybe, no context given): --data benchmark.json | FILE.jsonl | hf"


class BioASQ(MultipleChoiceTask):
    name = "bioasq"
    description = "BioASQ-Y/N (yes/no): --data benchmark.json | FILE.jsonl"
