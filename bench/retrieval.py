"""Retrieval benchmark: index build speed, end-to-end query latency, and FAISS structures at scale.

Three parts, each optional:
1. build: time to load, chunk, embed and index a corpus (default `bundled`), chunks/s, against
   encoding the same chunk texts directly (the embedder's raw speed, model load excluded);
2. query: p50/p95 latency of `Retriever.search` (embed + FAISS + BM25 + fusion) on that index,
   for a fixed list of clinical questions;
3. scale: flat, IVF and HNSW at 10k / 100k / 1M vectors: build seconds, p50/p95 single-query
   latency, recall@10 against exact search, bytes per vector (size of the written index), with
   the plain langchain-community FAISS vector store over the same vectors side by side (10k and
   100k: its in-memory docstore of 1M Documents is a benchmark of Python objects, not of FAISS).
   Vectors: the real chunk embeddings of the built index, repeated with Gaussian noise
   (sigma 0.05 per dimension before re-normalising) to reach each size, so the data keep the
   clustered shape of real text embeddings; queries are held-out noisy copies.

    python bench/retrieval.py                 # everything (takes a long time on 2 cores)
    python bench/retrieval.py --smoke         # seconds: 5 guideline files, 2k vectors
    python bench/retrieval.py --sizes 10000 100000 --skip-build --index-dir DIR

Prints a table and writes JSON to bench/results/retrieval-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "How is the severity of community-acquired pneumonia assessed?",
    "What is the first-line treatment for uncomplicated hypertension?",
    "When should anticoagulation be started in atrial fibrillation?",
    "How is diabetic ketoacidosis treated?",
    "What are the criteria for sepsis?",
    "Which antibiotics for a urinary tract infection in women?",
    "How is acute pancreatitis severity graded?",
    "What are the red flags of headache?",
    "How do you stage chronic kidney disease?",
    "What is the target LDL cholesterol after a heart attack?",
    "How is an asthma exacerbation managed?",
    "What is the ICD-10 code for pneumonia, unspecified organism?",
    "When is a CT scan needed after head injury?",
    "How is gout flare treated?",
    "What score predicts pulmonary embolism probability?",
    "Treatment of upper gastrointestinal bleeding",
    "How is major depressive disorder treated?",
    "What are the signs of meningitis?",
    "COPD exacerbation management",
    "Definition of acute kidney injury",
]
IVF_NPROBES = (8, 16, 32, 64, 128)
HNSW_EFS = (32, 64, 128, 256)
RECALL_TARGET = 0.95


def smoke_corpus(folder: Path) -> Path:
    """Five bundled guideline files copied to `folder`: enough to exercise every stage in seconds."""
    from retrieval.corpus import package_dir

    folder.mkdir(parents=True)
    content = package_dir("open_medicine") / "guidelines" / "content"
    for path in sorted(content.glob("bts_cap_2009/*.md")) + sorted(content.glob("gina_asthma_2024/*.md"))[:2]:
        (folder / f"{path.parent.name}-{path.name}").write_bytes(path.read_bytes())
    return folder


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def bench_build(corpus: list[str], out: Path, embedder: str | None) -> dict[str, Any]:
    from retrieval.build import build_index

    report = build_index(corpus, out, embedder, progress=False)
    raw_s = raw_encode_seconds(out, embedder)
    return {"corpus": corpus, "documents": report.documents, "chunks": report.chunks,
            "index_type": report.index_type, "total_s": round(report.seconds, 1),
            "embed_s": round(report.embed_seconds, 1), "chunks_per_s": round(report.chunks_per_second, 1),
            "raw_encode_s": round(raw_s, 1), "raw_chunks_per_s": round(report.chunks / raw_s, 1),
            # the target: the build's embedding phase against encoding the same texts alone (>= 0.8)
            "embed_vs_raw": round(raw_s / report.embed_seconds, 3),
            # whole build (load, chunk, embed, index, write) against encoding the same texts alone
            "build_vs_raw": round(raw_s / report.seconds, 3)}


def raw_encode_seconds(index_dir: Path, embedder: str | None) -> float:
    """Seconds the embedder takes to encode the index's chunk texts directly (model load excluded)."""
    from retrieval.embed import load_embedder
    from retrieval.index import load_index

    texts = [c.text for c in load_index(index_dir).chunks]
    model = load_embedder(embedder)
    model.encode(texts[:8])  # warm-up
    t0 = time.perf_counter()
    model.encode(texts)
    return time.perf_counter() - t0


def bench_queries(index_dir: Path, questions: list[str], repeats: int = 3) -> dict[str, Any]:
    from retrieval.search import SearchConfig, open_retriever

    out: dict[str, Any] = {}
    for name, hybrid in (("hybrid", True), ("dense", False)):
        retriever = open_retriever(index_dir, config=SearchConfig(hybrid=hybrid, min_score=0.0))
        retriever.search(questions[0], k=10)  # warm-up
        times = []
        for _ in range(repeats):
            for q in questions:
                t0 = time.perf_counter()
                retriever.search(q, k=10)
                times.append(time.perf_counter() - t0)
        out[name] = percentiles(times) | {"queries": len(times)}
    out["top1"] = {q: f"{h[0].title} — {h[0].section} ({h[0].score:.2f})" if h else None
                   for q in questions[:5] for h in [retriever.search(q, k=1)]}
    return out


def base_vectors(index_dir: Path | None, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Real chunk embeddings from an index, or random cluster centres when there is none."""
    if index_dir is not None and (index_dir / "index.faiss").is_file():
        import faiss

        index = faiss.read_index(str(index_dir / "index.faiss"))
        return index.reconstruct_n(0, index.ntotal)
    return _normalise(rng.standard_normal((2000, dim)).astype(np.float32))


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def synthesize(base: np.ndarray, n: int, rng: np.random.Generator, sigma: float = 0.05) -> np.ndarray:
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(start + 100_000, n)
        rows = base[rng.integers(0, len(base), stop - start)]
        out[start:stop] = _normalise(rows + rng.normal(0, sigma, rows.shape).astype(np.float32))
    return out


def _latency(search, queries: np.ndarray, k: int = 10) -> tuple[dict[str, float], np.ndarray]:
    """Single-query latency, one FAISS thread per query (as `Retriever.search` runs on CPU)."""
    from retrieval.index import faiss_threads

    found, times = [], []
    with faiss_threads(1):
        for q in queries:
            t0 = time.perf_counter()
            _, rows = search(q[None, :], k)
            times.append(time.perf_counter() - t0)
            found.append(rows[0])
    return percentiles(times), np.array(found)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])), 4)


def index_bytes(index: Any) -> int:
    import faiss

    with tempfile.NamedTemporaryFile(suffix=".faiss") as tmp:
        faiss.write_index(index, tmp.name)
        return os.path.getsize(tmp.name)


def bench_scale(vectors: np.ndarray, queries: np.ndarray, langchain: bool) -> list[dict[str, Any]]:
    """Flat, IVF (nprobe sweep) and HNSW (efSearch sweep) on `vectors`."""
    import faiss

    from retrieval.index import ivf_nlist, new_index

    n, dim = vectors.shape
    rows: list[dict[str, Any]] = []
    flat = faiss.IndexFlatIP(dim)
    t0 = time.perf_counter()
    flat.add(vectors)
    build = time.perf_counter() - t0
    _, truth = flat.search(queries, 10)
    lat, found = _latency(flat.search, queries)
    rows.append({"n": n, "index": "flat", "param": "", "build_s": round(build, 2), **lat,
                 "recall@10": recall_at(found, truth), "bytes_per_vector": round(index_bytes(flat) / n, 1)})
    del flat

    t0 = time.perf_counter()
    nlist = ivf_nlist(n)
    train = vectors[np.random.default_rng(1).choice(n, min(n, 50 * nlist), replace=False)]
    ivf = new_index("ivf", dim, train=train, nlist=nlist)
    ivf.add(vectors)
    build = time.perf_counter() - t0
    size = index_bytes(ivf) / n
    for nprobe in IVF_NPROBES:
        ivf.nprobe = nprobe
        lat, found = _latency(ivf.search, queries)
        rows.append({"n": n, "index": "ivf", "param": f"nlist={nlist},nprobe={nprobe}", "build_s": round(build, 2),
                     **lat, "recall@10": recall_at(found, truth), "bytes_per_vector": round(size, 1)})
    del ivf

    t0 = time.perf_counter()
    hnsw = new_index("hnsw", dim)
    hnsw.add(vectors)
    build = time.perf_counter() - t0
    size = index_bytes(hnsw) / n
    for ef in HNSW_EFS:
        hnsw.hnsw.efSearch = ef
        lat, found = _latency(hnsw.search, queries)
        rows.append({"n": n, "index": "hnsw", "param": f"M=32,efC=80,efSearch={ef}", "build_s": round(build, 2),
                     **lat, "recall@10": recall_at(found, truth), "bytes_per_vector": round(size, 1)})
    del hnsw
    if langchain:
        rows.append(bench_langchain(vectors, queries, truth))
    return rows


def bench_langchain(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """langchain-community's FAISS vector store (default IndexFlatL2 + in-memory docstore)."""
    import warnings

    from langchain_core.embeddings import Embeddings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS

    class Fixed(Embeddings):
        """The store gets precomputed vectors; embedding anything here would skew the timing."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("the benchmark passes precomputed vectors only")

        def embed_query(self, text: str) -> list[float]:
            raise RuntimeError("the benchmark passes precomputed vectors only")

    n = len(vectors)
    t0 = time.perf_counter()
    store = FAISS.from_embeddings([(str(i), v) for i, v in enumerate(vectors.tolist())], Fixed(),
                                  ids=[str(i) for i in range(n)])
    build = time.perf_counter() - t0
    from retrieval.index import faiss_threads

    times, found = [], []
    with faiss_threads(1):
        for q in queries.tolist():
            t1 = time.perf_counter()
            docs = store.similarity_search_by_vector(q, k=10)
            times.append(time.perf_counter() - t1)
            found.append([int(d.page_content) for d in docs])
    return {"n": n, "index": "langchain-faiss", "param": "IndexFlatL2+docstore", "build_s": round(build, 2),
            **percentiles(times), "recall@10": recall_at(np.array(found), truth),
            "bytes_per_vector": round(index_bytes(store.index) / n, 1)}


def best_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (n, index): the fastest setting reaching the recall target (or the best recall)."""
    best = {}
    for row in rows:
        key = (row["n"], row["index"])
        ok = row["recall@10"] >= RECALL_TARGET
        cur = best.get(key)
        cur_ok = cur is not None and cur["recall@10"] >= RECALL_TARGET
        if cur is None or (ok and (not cur_ok or row["p95_ms"] < cur["p95_ms"])) or (
                not ok and not cur_ok and row["recall@10"] > cur["recall@10"]):
            best[key] = row
    return list(best.values())


def print_table(result: dict[str, Any]) -> None:
    if "build" in result:
        b = result["build"]
        print(f"build {'+'.join(b['corpus'])}: {b['documents']} docs, {b['chunks']} chunks, {b['total_s']} s "
              f"({b['embed_s']} s embedding, {b['chunks_per_s']} chunks/s), index {b['index_type']}")
        print(f"raw encode of the same chunks: {b['raw_encode_s']} s ({b['raw_chunks_per_s']} chunks/s); "
              f"embedding while indexing at {b['embed_vs_raw']:.0%} of raw encode speed (target >= 80%); "
              f"whole build (load, chunk, embed, index, write) at {b['build_vs_raw']:.0%}")
    if "query" in result:
        for name in ("hybrid", "dense"):
            q = result["query"][name]
            print(f"search ({name}, k=10, {q['queries']} queries): p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms")
    if result.get("scale"):
        print(f"\n{'n':>9} {'index':<16} {'param':<30} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'R@10':>6} {'B/vec':>7}")
        for r in result["scale"]:
            print(f"{r['n']:>9} {r['index']:<16} {r['param']:<30} {r['build_s']:>8} {r['p50_ms']:>8} "
                  f"{r['p95_ms']:>8} {r['recall@10']:>6} {r['bytes_per_vector']:>7}")


def _git() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="seconds-long CI version")
    parser.add_argument("--corpus", nargs="+", default=["bundled"], help="corpus to build (default: bundled)")
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--skip-build", action="store_true", help="use --index-dir as it is")
    parser.add_argument("--index-dir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200, help="queries per scale point")
    parser.add_argument("--sigma", type=float, default=0.05, help="noise added to real vectors (larger: harder)")
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON (default bench/results)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.queries = [2000], 20

    result: dict[str, Any] = {"benchmark": "retrieval", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                              "git": _git(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                              "argv": sys.argv[1:] if argv is None else argv, "sigma": args.sigma}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir or Path(tmp) / "index"
        if args.smoke:
            args.corpus = [str(smoke_corpus(Path(tmp) / "corpus"))]
        if not args.skip_build:
            result["build"] = bench_build(args.corpus, index_dir, args.embedder)
            print_table(result)
            write(result, args)
        if (index_dir / "manifest.json").is_file():
            result["query"] = bench_queries(index_dir, QUESTIONS[:5] if args.smoke else QUESTIONS)
            print_table({"query": result["query"]})
        rng = np.random.default_rng(0)
        base = base_vectors(index_dir, 384, rng)
        result["scale"] = []
        for n in args.sizes:
            vectors = synthesize(base, n, rng, args.sigma)
            queries = synthesize(base, args.queries, rng, args.sigma)
            rows = bench_scale(vectors, queries, langchain=not args.no_langchain and n <= 100_000)
            result["scale"] += rows
            print_table({"scale": rows})
            sys.stdout.flush()
            del vectors
            write(result, args)  # after every size, so a long run that is stopped keeps what it measured
    print("\nbest setting per structure (fastest p95 with recall@10 >= 0.95):")
    print_table({"scale": result["best"]})
    print(f"\nwrote {write(result, args)}")
    return 0


def write(result: dict[str, Any], args: argparse.Namespace) -> Path:
    result["best"] = best_rows(result.get("scale", []))
    from bench._common import results_dir

    args.out = args.out or results_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = result['date'].replace('-', '').replace(':', '').replace(' UTC', '').replace(' ', '-')
    path = args.out / f"retrieval-{stamp}{'-smoke' if args.smoke else ''}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
