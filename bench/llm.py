"""LLM decoding against the memory-bandwidth roofline: `medassist bench llm [--smoke]`.

Single-stream decoding is memory-bound: each new token reads every weight once (plus the KV cache
so far), so tokens/s cannot exceed bandwidth / bytes read per token. This benchmark
1. measures the machine's memory bandwidth (large array copy and read, numpy and torch; the
   highest figure is the limit, so achieved/limit is never flattered);
2. for each packaged model and backend (llama.cpp from the GGUF, transformers from the converted
   fp32 copy) measures load time, memory, time to first token (short prompt, and a RAG-sized
   prompt cold and with the system prompt cached) and decode tokens/s over N forced tokens;
3. computes bytes read per token (weights from the actual tensors + KV cache at the mean decode
   position), the roofline limit, and achieved/limit;
4. with `--concurrency 1 8 32` (transformers), sends that many RAG-sized requests at once through
   transformers' continuous batching (paged KV cache) and reports throughput and p50/p95 time to
   first token and latency: the batching a plain transformers deployment gets without vLLM.
Each (backend, model) runs in its own subprocess, so memory figures and caches do not mix.

`--hf-dir DIR` adds any transformers model directory; with `--random-weights` only its config and
tokenizer are read and the weights are random (bf16 on a GPU). Decode speed does not depend on the
weights' values, so this times architectures whose weights cannot be downloaded here, as vLLM's
`--load-format dummy` does; the text such a model writes is noise and is never judged.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import table, versions, write_result  # noqa: E402

MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
BACKENDS = ("llamacpp", "transformers")
DECODE_PROMPT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Count from one to five hundred in words, separated by commas."},
]
TARGET = 0.60  # issue 8: llama.cpp on CPU reaches at least 60% of the bandwidth limit


# -- memory bandwidth -------------------------------------------------------------------------
def _best(fn: Any, repeats: int, clock: Any = time.perf_counter) -> float:
    fn()  # touch the pages first
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def measure_bandwidth(mib: int = 1024, repeats: int = 5) -> dict[str, float]:
    """GB/s of a large copy (read + write counted, as STREAM does) and a large read (sum).

    numpy works on one thread; torch spreads copy and sum over all cores. `limit_gbs` is the
    highest of all figures (wall-clock and CPU-time ones), so achieved/limit is never flattered.
    """
    import numpy as np
    import torch

    n = mib * 2**20 // 4
    a = np.ones(n, dtype=np.float32)
    b = np.empty_like(a)
    nbytes = a.nbytes
    out = {"numpy_copy_gbs": 2 * nbytes / _best(lambda: np.copyto(b, a), repeats) / 1e9}
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    out["torch_copy_gbs"] = 2 * nbytes / _best(lambda: tb.copy_(ta), repeats) / 1e9
    out["torch_read_gbs"] = nbytes / _best(lambda: ta.sum(), repeats) / 1e9
    out["numpy_read_gbs"] = nbytes / _best(lambda: a.sum(), repeats) / 1e9
    # CPU time of the (single) numpy thread leaves out time the scheduler gave to other processes:
    # on a shared, busy box it estimates what one idle core achieves.
    out["numpy_copy_gbs_cputime"] = 2 * nbytes / _best(lambda: np.copyto(b, a), repeats, time.thread_time) / 1e9
    out["numpy_read_gbs_cputime"] = nbytes / _best(lambda: a.sum(), repeats, time.thread_time) / 1e9
    out["limit_gbs"] = max(out.values())
    if torch.cuda.is_available():  # the roofline of a GPU run is its memory (HBM) bandwidth
        ga, gb = ta.cuda(), tb.cuda()

        def gpu_copy() -> None:
            gb.copy_(ga)
            torch.cuda.synchronize()

        out["cuda_copy_gbs"] = 2 * nbytes / _best(gpu_copy, repeats) / 1e9
    out["array_mib"] = mib
    return out


# -- bytes per token --------------------------------------------------------------------------
def gguf_weight_bytes(path: Path) -> dict[str, float]:
    """Bytes of weights read per token and KV bytes per cached position, from the GGUF itself.

    The token-embedding table is only gathered (one row per token) unless it doubles as the
    output head (tied embeddings, no `output.weight`), in which case it is read whole.
    """
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    sizes = {t.name: int(t.n_bytes) for t in reader.tensors}
    weights = sum(sizes.values())
    if "output.weight" in sizes and "token_embd.weight" in sizes:
        weights -= sizes["token_embd.weight"]

    def field(key: str) -> int:
        f = reader.fields[key]
        return int(f.parts[f.data[0]][0])

    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    layers = field(f"{arch}.block_count")
    heads = field(f"{arch}.attention.head_count")
    kv_heads = field(f"{arch}.attention.head_count_kv") if f"{arch}.attention.head_count_kv" in reader.fields else heads
    head_dim = field(f"{arch}.embedding_length") // heads
    return {"weight_bytes": weights, "kv_bytes_per_position": layers * 2 * kv_heads * head_dim * 2}  # f16 KV


def torch_weight_bytes(model: Any) -> dict[str, float]:
    """The same for a transformers model (parameters as loaded; KV in the model's dtype)."""
    params = {id(p): p for p in model.parameters()}
    weights = sum(p.numel() * p.element_size() for p in params.values())
    cfg = model.config
    emb = model.get_input_embeddings().weight
    if not getattr(cfg, "tie_word_embeddings", False):
        weights -= emb.numel() * emb.element_size()
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    kv = cfg.num_hidden_layers * 2 * kv_heads * head_dim * emb.element_size()
    return {"weight_bytes": weights, "kv_bytes_per_position": kv}


# -- one (backend, model) measurement, run in a subprocess -----------------------------------------
def _rag_snippets() -> int:
    return int(os.environ.get("MEDASSIST_BENCH_RAG_SNIPPETS", "5"))


def rag_messages(llm: Any, question: str, n_snippets: int = 5, first: int = 0) -> list[dict[str, str]]:
    """A realistic RAG prompt: the patient system prompt and `n_snippets` guideline excerpts
    (starting at excerpt `first`, so concurrent requests can carry different ones)."""
    from assistant.engine import Assistant
    from assistant.types import Citation, Turn

    texts = _guideline_texts(n_snippets, first=first)
    cites = [Citation(id=f"s{i}", title=title, source="open-medicine", score=1.0, text=text)
             for i, (title, text) in enumerate(texts)]
    messages, _ = Assistant(llm).build_messages(Turn(question), cites, [], True)
    return messages


def _guideline_texts(n: int, chars: int = 700, first: int = 0) -> list[tuple[str, str]]:
    import importlib.util

    spec = importlib.util.find_spec("open_medicine")
    if spec is None or not spec.submodule_search_locations:
        filler = "Asthma is a chronic disease of the airways that causes wheeze, cough and breathlessness. "
        return [(f"Snippet {i}", (f"[{i}] " + filler * 20)[:chars]) for i in range(first, first + n)]
    root = Path(list(spec.submodule_search_locations)[0]) / "guidelines" / "content"
    files = sorted(root.glob("*/*.md"))
    picked = [files[(first + i) % len(files)] for i in range(n)]
    return [(f.parent.name, f.read_text(encoding="utf-8")[:chars]) for f in picked]


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_llamacpp(model: str, new_tokens: int) -> dict[str, Any]:
    """Load the preset's GGUF in llama.cpp; time the first token and `new_tokens` greedy tokens."""
    from assistant.llm import fetch
    from assistant.llm.catalog import CATALOG
    from assistant.llm.base import GenerationConfig
    from assistant.llm.llamacpp_backend import LlamaCppLLM

    path = fetch.gguf_path(CATALOG[model], verify=False)
    t0 = time.perf_counter()
    llm = LlamaCppLLM(path, name=model, context_length=CATALOG[model].context_length)
    row: dict[str, Any] = {"load_s": time.perf_counter() - t0, "threads": llm.n_threads}
    row |= gguf_weight_bytes(path)
    tokens = llm.tokenize(llm.render(DECODE_PROMPT))
    llm.model.reset()
    times, cpu = [], []
    start = time.perf_counter()
    for _, _tok in zip(range(new_tokens), llm.model.generate(tokens, temp=0.0, top_k=1, top_p=1.0, min_p=0.0)):
        times.append(time.perf_counter())
        cpu.append(time.process_time())
    row |= _decode_figures(start, times, len(tokens), cpu, llm.n_threads)
    if _rag_snippets() > 0:
        row |= _rag_ttft_llamacpp(llm, GenerationConfig(max_new_tokens=1))
    row["rss_mib"] = _rss_mib()
    return row


def _rag_ttft_llamacpp(llm: Any, config: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    llm.model.reset()
    llm._prefixes.clear()
    list(llm.stream(rag_messages(llm, "What is the first-line treatment?", _rag_snippets()), config))
    out["rag_prompt_tokens"] = llm.last_stats.prompt_tokens
    out["rag_ttft_cold_s"] = llm.last_stats.ttft
    llm.model.reset()  # the live KV is gone; only the cached system-prompt state remains
    list(llm.stream(rag_messages(llm, "When should a patient see a doctor urgently?", _rag_snippets()), config))
    out["rag_ttft_cached_s"] = llm.last_stats.ttft
    out["rag_cached_tokens"] = llm.last_stats.cached_tokens
    return out


def random_weights(config_dir: Path, out: Path) -> Path:
    """Save `config_dir`'s architecture with random weights (bf16 on a GPU, fp32 on CPU) and its
    tokenizer files to `out`, for timing only (see the module's docstring)."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    with torch.device("cuda" if cuda else "cpu"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir),
                                                 dtype=torch.bfloat16 if cuda else torch.float32)
    model.save_pretrained(out)
    for f in config_dir.iterdir():
        if f.name.startswith("tokenizer") or f.name in ("chat_template.jinja", "special_tokens_map.json"):
            shutil.copy(f, out / f.name)
    del model
    if cuda:
        torch.cuda.empty_cache()
    return out


def _transformers_source(model: str, tmp: Path) -> tuple[Path, int, bool]:
    """The directory to load, its context length, and whether its weights are random."""
    from assistant.llm import fetch
    from assistant.llm.catalog import CATALOG

    if model in CATALOG:
        path, context = fetch.converted_dir(CATALOG[model]), CATALOG[model].context_length
    else:
        path, context = Path(model), 4096
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{model} is not converted: run `medassist models fetch {model}`")
    random = os.environ.get("MEDASSIST_BENCH_RANDOM_WEIGHTS") == "1"
    return (random_weights(path, tmp) if random else path), context, random


def run_transformers(model: str, new_tokens: int) -> dict[str, Any]:
    """Load the model in transformers; time first token and exactly `new_tokens` tokens (and, with
    `MEDASSIST_BENCH_CONCURRENCY`, bursts of concurrent requests)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path, context, random = _transformers_source(model, Path(tmp))
        return _run_transformers(path, Path(model).name, context, new_tokens) | {"weights": "random" if random else "real"}


def _run_transformers(path: Path, name: str, context: int, new_tokens: int) -> dict[str, Any]:
    import torch
    from transformers.generation.streamers import BaseStreamer

    from assistant.llm.transformers_backend import TransformersLLM

    t0 = time.perf_counter()
    llm = TransformersLLM(path, name=name, context_length=context)
    row: dict[str, Any] = {"load_s": time.perf_counter() - t0, "threads": torch.get_num_threads(),
                           "device": str(llm.model.device)}
    row |= torch_weight_bytes(llm.model)

    class Clock(BaseStreamer):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.cpu: list[float] = []
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            value.cpu()  # waits for the GPU, if any
            if self.prompt_seen:
                self.times.append(time.perf_counter())
                self.cpu.append(time.process_time())
            self.prompt_seen = True

        def end(self) -> None:
            pass

    def encode(messages: list[dict[str, str]]) -> Any:
        return llm.tokenizer(llm._prompt(messages), return_tensors="pt", add_special_tokens=False).to(llm.model.device)

    def untimed(messages: list[dict[str, str]], n: int) -> float:
        """Seconds of a `generate` of exactly `n` tokens with no streamer."""
        ids = encode(messages)
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            llm.model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                               temperature=None, top_p=None, top_k=None, pad_token_id=llm.tokenizer.pad_token_id or 0)
        torch.cuda.synchronize()
        return time.perf_counter() - start

    def timed(messages: list[dict[str, str]], n: int) -> tuple[float, Any, int]:
        ids = encode(messages)
        clock = Clock()
        start = time.perf_counter()
        with torch.inference_mode():
            llm.model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, streamer=clock,
                               temperature=None, top_p=None, top_k=None,
                               pad_token_id=llm.tokenizer.pad_token_id or llm.tokenizer.eos_token_id)
        return start, clock, ids["input_ids"].shape[1]

    timed(DECODE_PROMPT, 2)  # warm-up: the first generate of a process loads kernels and grows the allocator
    start, clock, n_prompt = timed(DECODE_PROMPT, new_tokens)
    on_gpu = row["device"].startswith("cuda")
    row |= _decode_figures(start, clock.times, n_prompt, None if on_gpu else clock.cpu, torch.get_num_threads())
    if on_gpu:  # also without a streamer: on the lent H100 the streamed rate was ~3x lower (docs/benchmarks/gpu.md)
        row["decode_tps_unstreamed"] = (new_tokens - 1) / (untimed(DECODE_PROMPT, new_tokens) - untimed(DECODE_PROMPT, 1))
    if _rag_snippets() > 0:
        start, clock, n_prompt = timed(rag_messages(llm, "What is the first-line treatment?", _rag_snippets()), 1)
        row |= {"rag_prompt_tokens": n_prompt, "rag_ttft_cold_s": clock.times[0] - start}
    if _concurrency():
        continuous_batching(llm, 2, 4)  # warm-up: kernels, allocator
        row["concurrency"] = [continuous_batching(llm, n, new_tokens) for n in _concurrency()]
    row["rss_mib"] = _rss_mib()
    if on_gpu:
        row["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def _concurrency() -> list[int]:
    return [int(n) for n in os.environ.get("MEDASSIST_BENCH_CONCURRENCY", "").split(",") if n]


QUESTIONS = ("What is the first-line treatment?", "When should a patient see a doctor urgently?",
             "What are the common side effects?", "How is the diagnosis confirmed?")


def continuous_batching(llm: Any, streams: int, new_tokens: int) -> dict[str, Any]:
    """`streams` RAG-sized requests (each with its own excerpts) sent at once through transformers'
    continuous batching; every request decodes exactly `new_tokens` tokens (no end-of-text stop)."""
    import statistics

    from transformers import GenerationConfig

    prompts = [llm._ids(llm._prompt(rag_messages(llm, QUESTIONS[i % len(QUESTIONS)], _rag_snippets(),
                                                 first=i * _rag_snippets())))
               for i in range(streams)]
    config = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, eos_token_id=-1, pad_token_id=0)
    out = list(llm.model.generate_batch(inputs=prompts, generation_config=config, record_timestamps=True).values())
    done = [o for o in out if o.error is None and o.timestamps]
    if len(done) < streams:
        errors = [o.error for o in out if o.error] or ["requests missing from the results"]
        return {"streams": streams, "error": str(errors[0])[:300]}
    start, end = min(o.created_time for o in done), max(o.timestamps[-1] for o in done)
    ttft = [o.timestamps[0] - o.created_time for o in done]
    latency = [o.timestamps[-1] - o.created_time for o in done]
    generated = sum(len(o.generated_tokens) for o in done)

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]

    return {"streams": streams, "prompt_tokens_mean": statistics.mean(len(p) for p in prompts),
            "new_tokens": generated / streams, "wall_s": end - start, "throughput_tps": generated / (end - start),
            "ttft_p50_s": pct(ttft, 50), "ttft_p95_s": pct(ttft, 95),
            "latency_p50_s": pct(latency, 50), "latency_p95_s": pct(latency, 95)}


def _decode_figures(start: float, times: list[float], prompt_tokens: int, cpu: list[float] | None = None,
                    threads: int = 1) -> dict[str, Any]:
    """Decode rate from per-token clock readings, by wall clock and by process CPU time.

    The CPU-time rate (tokens / (CPU seconds / threads)) leaves out time the scheduler gave other
    processes; with spinning threads it counts the spin as work, so it never overstates.
    """
    n = len(times)
    decode = (n - 1) / (times[-1] - times[0]) if n > 1 and times[-1] > times[0] else None
    out = {"prompt_tokens": prompt_tokens, "new_tokens": n, "ttft_s": times[0] - start if times else None,
           "decode_tps": decode}
    if cpu and n > 1 and cpu[-1] > cpu[0]:
        out["decode_tps_cputime"] = (n - 1) / ((cpu[-1] - cpu[0]) / threads)
    return out


def worker(backend: str, model: str, new_tokens: int) -> dict[str, Any]:
    """Measure one (backend, model) in this process and return its row."""
    fn = run_llamacpp if backend == "llamacpp" else run_transformers
    row = fn(model, new_tokens)
    row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def skip_reason(backend: str, model: str) -> str | None:
    """Why (backend, model) cannot run here, or None."""
    import importlib.util

    from assistant.llm import fetch
    from assistant.llm.catalog import CATALOG

    if model not in CATALOG:  # a transformers directory (--hf-dir)
        if backend != "transformers":
            return "--hf-dir models run on transformers only"
        return None if (Path(model) / "config.json").is_file() else f"no config.json in {model}"
    spec = CATALOG[model]
    if fetch.missing_packages(spec):
        return f"weights not installed (medassist models fetch {model})"
    if backend == "llamacpp":
        if importlib.util.find_spec("llama_cpp") is None:
            return "llama-cpp-python not installed (pip install 'medassist[llamacpp]')"
        if spec.parts and not (fetch.model_dir(spec) / spec.gguf_file).is_file():
            return f"GGUF not assembled (medassist models fetch {model} --no-convert)"
    elif not (fetch.converted_dir(spec) / "config.json").is_file():
        return f"not converted (medassist models fetch {model})"
    return None


def measure(backend: str, model: str, new_tokens: int, timeout: float, threads: int | None = None,
            rag_snippets: int | None = None, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `worker` in a fresh subprocess (clean memory figures, no shared caches)."""
    reason = skip_reason(backend, model)
    if reason:
        return {"skipped": reason}
    load = {"load_average_1m_before": os.getloadavg()[0]}  # another busy process on the box skews timings
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", backend, model, "--new-tokens", str(new_tokens)]
    env = os.environ | {"TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    if threads:
        env["MEDASSIST_LLM_THREADS"] = str(threads)
    if rag_snippets is not None:
        env["MEDASSIST_BENCH_RAG_SNIPPETS"] = str(rag_snippets)
    env |= extra_env or {}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:300]}
    return load | json.loads(lines[-1]) | {"load_average_1m_after": os.getloadavg()[0]}


def roofline(row: dict[str, Any], limit_gbs: float) -> None:
    """Add bytes/token at the mean decode position, the limit in tokens/s and achieved/limit."""
    if row.get("decode_tps") is None:
        return
    mean_pos = row["prompt_tokens"] + row["new_tokens"] / 2
    row["bytes_per_token"] = row["weight_bytes"] + row["kv_bytes_per_position"] * mean_pos
    row["limit_tps"] = limit_gbs * 1e9 / row["bytes_per_token"]
    row["achieved_over_limit"] = row["decode_tps"] / row["limit_tps"]
    if row.get("decode_tps_unstreamed"):
        row["unstreamed_over_limit"] = row["decode_tps_unstreamed"] / row["limit_tps"]
    if row.get("decode_tps_cputime"):
        row["cputime_over_limit"] = row["decode_tps_cputime"] / row["limit_tps"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/llm.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="seconds-long run: smollm2-135m, 8 tokens, 64 MiB array")
    p.add_argument("--models", nargs="+", choices=MODELS, help="default: all (smoke: smollm2-135m; none with --hf-dir)")
    p.add_argument("--hf-dir", nargs="+", default=[], help="transformers model directories to measure as well")
    p.add_argument("--random-weights", action="store_true",
                   help="--hf-dir models: read config and tokenizer only, time random weights (speed only)")
    p.add_argument("--concurrency", type=int, nargs="+", default=[],
                   help="transformers: also send bursts of this many concurrent requests (continuous batching)")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    p.add_argument("--new-tokens", type=int, help="tokens decoded per measurement (default 128; smoke 8)")
    p.add_argument("--bandwidth-mib", type=int, help="array size for the bandwidth test (default 1024; smoke 64)")
    p.add_argument("--threads", type=int, nargs="+", default=[None],
                   help="llama.cpp thread counts to try, e.g. 1 2 (default: the cores; transformers uses all)")
    p.add_argument("--rag-snippets", type=int, default=5,
                   help="snippets in the RAG prompt whose TTFT is measured (0: skip that part; smoke: 1)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per (backend, model)")
    p.add_argument("--out", help="JSON path (default bench/results/llm-DATE.json)")
    p.add_argument("--worker", nargs=2, metavar=("BACKEND", "MODEL"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


CONCURRENCY_COLUMNS = ("model", "streams", "prompt_tokens_mean", "new_tokens", "wall_s", "throughput_tps",
                       "ttft_p50_s", "ttft_p95_s", "latency_p50_s", "latency_p95_s", "error")
COLUMNS = ("model", "backend", "weights", "device", "threads", "load_s", "rss_mib", "ttft_s", "decode_tps", "decode_tps_cputime", "decode_tps_unstreamed",
           "bytes_per_token", "limit_tps", "achieved_over_limit", "cputime_over_limit", "unstreamed_over_limit", "rag_prompt_tokens", "rag_ttft_cold_s", "rag_ttft_cached_s", "status")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    new_tokens = args.new_tokens or (8 if args.smoke else 128)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], new_tokens)))
        return 0
    models = args.models or ([] if args.hf_dir else ["smollm2-135m"] if args.smoke else list(MODELS))
    models += [str(Path(d).resolve()) for d in args.hf_dir]
    extra = {"MEDASSIST_BENCH_CONCURRENCY": ",".join(map(str, args.concurrency))}
    if args.random_weights:
        extra["MEDASSIST_BENCH_RANDOM_WEIGHTS"] = "1"
    bw = measure_bandwidth(args.bandwidth_mib or (64 if args.smoke else 1024), repeats=3 if args.smoke else 5)
    print("memory bandwidth (GB/s): " + ", ".join(f"{k}={v:.1f}" for k, v in bw.items() if k.endswith("gbs")))
    rows = []
    runs = [(b, t) for b in args.backends for t in (args.threads if b == "llamacpp" else [None])]
    for model in models:
        for backend, threads in runs:
            if backend != "transformers" and model not in MODELS:
                continue
            row = {"model": Path(model).name, "backend": backend} | measure(
                backend, model, new_tokens, args.timeout, threads, 1 if args.smoke else args.rag_snippets, extra)
            on_gpu = str(row.get("device", "cpu")).startswith("cuda")
            roofline(row, bw["cuda_copy_gbs"] if on_gpu else bw["limit_gbs"])
            row["status"] = _status(row, backend)
            rows.append(row)
            print(f"  {model} / {backend} / {row.get('threads')} threads: {row['status']}", flush=True)
    shown = [r | {"bytes_per_token": f"{r['bytes_per_token'] / 2**20:.0f} MiB"} if r.get("bytes_per_token") else r
             for r in rows]
    print(table(shown, COLUMNS))
    bursts = [{"model": r["model"]} | c for r in rows for c in r.get("concurrency", [])]
    if bursts:
        print("continuous batching (transformers), requests sent at once:")
        print(table(bursts, CONCURRENCY_COLUMNS))
    path = write_result("llm", {"bandwidth": bw, "new_tokens": new_tokens, "target": TARGET, "rows": rows,
                                "versions": versions(["llama_cpp_python", "torch", "transformers", "numpy"])},
                        out=args.out, smoke=args.smoke)
    print(f"wrote {path}")
    return 1 if any("error" in r for r in rows) else 0


def _status(row: dict[str, Any], backend: str) -> str:
    if "skipped" in row:
        return "skipped: " + row["skipped"]
    if "error" in row:
        return "error: " + row["error"]
    wall, cpu = row.get("achieved_over_limit"), row.get("cputime_over_limit")
    if backend != "llamacpp" or wall is None:
        return "ok"
    best = max(wall, cpu or 0)
    verdict = "meets" if best >= TARGET else "misses"
    return f"{verdict} the {TARGET:.0%} target (wall {wall:.0%}, CPU-time {cpu or 0:.0%})"


if __name__ == "__main__":
    raise SystemExit(main())
